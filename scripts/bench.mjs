// Browser figures for the budgets of the lab (printed, never asserted): the engine's events/s
// in wasm on the same workload as `kafka-lab bench`, the page's first render, time to scrub
// a long run, and frames per second while playing. Expects dist/ to be served at BASE.
import { chromium } from '@playwright/test';
import zlib from 'node:zlib';

const BASE = process.env.BASE || 'http://127.0.0.1:8767/';
const RECORDS = process.env.RECORDS || '100000';
// The engine's speed is measured on the lab built with the `bench` feature.
const BENCH_BASE = process.env.BENCH_BASE || BASE;
// The same with the engine at opt-level 3, as the native runner has it (bench-o3.html).
const O3_BASE = process.env.O3_BASE;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });

await page.goto(`${BENCH_BASE}index.html?bench=${RECORDS}`);
const line = await page.locator('#bench').innerText({ timeout: 600_000 });
console.log(line.replaceAll('wasm: ', 'wasm (as shipped, engine opt-level z): '));
if (O3_BASE) {
  await page.goto(`${O3_BASE}index.html?bench=${RECORDS}`);
  const o3 = await page.locator('#bench').innerText({ timeout: 600_000 });
  console.log(o3.replaceAll('wasm: ', 'wasm (engine opt-level 3, as native): '));
}
const mem = await page.evaluate(() => (performance.memory ? performance.memory.usedJSHeapSize : 0));
console.log(`wasm: JS heap after the run ${(mem / 1048576).toFixed(1)} MiB (wasm linear memory is not included)`);

const t0 = Date.now();
await page.goto(`${BASE}index.html`);
await page.getByRole('table', { name: 'Record fates' }).waitFor();
const firstRender = await page.evaluate(() => performance.now());
console.log(`page: first render (fate ledger visible) ${firstRender.toFixed(0)} ms after navigation start (${Date.now() - t0} ms wall)`);

// A long run in the lab itself: the benchmark workload with 20 000 records (about 100 000 events).

const workload = (n) => `format = 1\ntitle = "scrub test"\nseed = 7\n[[topic]]\nname = "orders"\npartitions = 3\n"replication.factor" = 3\n"min.insync.replicas" = 2\n[producer]\nacks = "all"\n[[send]]\ncount = ${n}\nevery_ms = 1\n[[fault]]\nat_ms = ${Math.floor(n / 4)}\ndo = "kill-broker"\ntarget = "b1"\n[[fault]]\nat_ms = ${Math.floor(n / 4) + 15000}\ndo = "restart-broker"\ntarget = "b1"\n`;
const state = { scenario: workload(20000), stop: 0, record: null };
const frag = 'v1.' + zlib.deflateRawSync(Buffer.from(JSON.stringify(state)), { level: 9 }).toString('base64url');
const tLoad = Date.now();
await page.goto(`${BASE}index.html#${frag}`);
await page.getByRole('table', { name: 'Record fates' }).waitFor({ timeout: 600_000 });
console.log(`page: a 20 000-record run (load + simulate + checkpoints) ready in ${Date.now() - tLoad} ms`);
// A second, as a person takes before reaching for the time line: the lab warms the scrubbing
// code up once the run is on screen (WARM_UP_DELAY_MS in src/app.rs). The first jump after a
// cold load is the slowest (the browser still compiles), so it is measured on five fresh pages.
const scrubOnce = async (p) => {
  await p.waitForTimeout(1000);
  return p.evaluate(async () => {
    const range = document.querySelector('input[type=range]');
    const max = Number(range.max);
    const times = [];
    for (let i = 1; i <= 20; i++) {
      const target = Math.floor((max * ((i * 7919) % 20)) / 20);
      const t = performance.now();
      range.value = String(target);
      range.dispatchEvent(new Event('input', { bubbles: true }));
      // A timeout queued from the animation frame runs once that frame is laid out and painted.
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      times.push(performance.now() - t);
    }
    const first = times[0];
    times.sort((a, b) => a - b);
    return { max, first, median: times[10], worst: times[times.length - 1] };
  });
};
const scrub = await scrubOnce(page);
console.log(`page: scrubbing over ${scrub.max} stops, 20 jumps: first ${scrub.first.toFixed(1)} ms, median ${scrub.median.toFixed(1)} ms, worst ${scrub.worst.toFixed(1)} ms (to the painted frame)`);
const colds = [];
for (let k = 0; k < 5; k++) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const p = await ctx.newPage();
  await p.goto(`${BASE}index.html#${frag}`);
  await p.getByRole('table', { name: 'Record fates' }).waitFor({ timeout: 600_000 });
  colds.push(await scrubOnce(p));
  await ctx.close();
}
const f = (xs) => xs.map((x) => x.toFixed(1)).join(', ');
console.log(`page: five more cold loads: first jump ${f(colds.map((c) => c.first))} ms; median ${f(colds.map((c) => c.median))} ms; worst ${f(colds.map((c) => c.worst))} ms`);

// The wasm memory the same run takes, read through the bench build's export (the lab's own
// build has no use for it).
const memPage = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await memPage.goto(`${BENCH_BASE}index.html#${frag}`);
await memPage.getByRole('table', { name: 'Record fates' }).waitFor({ timeout: 600_000 });
const wasmBytes = await memPage.evaluate(() => window.wasmBindings.wasm_memory_bytes());
console.log(`page: wasm memory with that run loaded ${(wasmBytes / 1048576).toFixed(0)} MiB`);
await memPage.close();

await page.evaluate(() => localStorage.clear());
await page.goto(`${BASE}index.html`);
await page.getByRole('table', { name: 'Record fates' }).waitFor();
await page.getByLabel('Speed').selectOption('20');
await page.getByRole('button', { name: 'Play' }).click();
const fps = await page.evaluate(async () => {
  let frames = 0;
  const start = performance.now();
  await new Promise((done) => {
    const tick = () => { frames++; if (performance.now() - start < 2000) requestAnimationFrame(tick); else done(); };
    requestAnimationFrame(tick);
  });
  return (frames * 1000) / (performance.now() - start);
});
console.log(`page: ${fps.toFixed(0)} frames/s while playing at ×20 (headless, no GPU)`);
await browser.close();
