// Browser figures for the budgets of the lab (printed, never asserted): the engine's events/s
// in wasm on the same workload as `kafka-lab bench`, the page's first render, time to scrub
// a long run, and frames per second while playing. Expects dist/ to be served at BASE.
import { chromium } from '@playwright/test';
import zlib from 'node:zlib';

const BASE = process.env.BASE || 'http://127.0.0.1:8767/';
const RECORDS = process.env.RECORDS || '100000';
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const workload = (n) => `format = 1\ntitle = "scrub test"\nseed = 7\n[[topic]]\nname = "orders"\npartitions = 3\n"replication.factor" = 3\n"min.insync.replicas" = 2\n[producer]\nacks = "all"\n[[send]]\ncount = ${n}\nevery_ms = 1\n[[fault]]\nat_ms = ${Math.floor(n / 4)}\ndo = "kill-broker"\ntarget = "b1"\n[[fault]]\nat_ms = ${Math.floor(n / 4) + 15000}\ndo = "restart-broker"\ntarget = "b1"\n`;
const state = { scenario: workload(20000), stop: 0, record: null };
const frag = 'v1.' + zlib.deflateRawSync(Buffer.from(JSON.stringify(state)), { level: 9 }).toString('base64url');
await page.goto(`${BASE}index.html#${frag}`);
await page.getByRole('table', { name: 'Record fates' }).waitFor({ timeout: 600_000 });
if (process.env.RELOAD) await page.goto(`${BASE}index.html?x#${frag}`);
await page.getByRole('table', { name: 'Record fates' }).waitFor({ timeout: 600_000 });
const nodes = await page.evaluate(() => document.getElementsByTagName('*').length); console.log('dom nodes', nodes);

const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
await cdp.send('Profiler.start');
const scrub = await page.evaluate(async (NJ) => {
  const range = document.querySelector('input[type=range]');
  const max = Number(range.max);
  const times = [];
  for (let i = 1; i <= NJ; i++) {
    const target = Math.floor((max * ((i * 7919) % 20)) / 20);
    const t = performance.now();
    range.value = String(target);
    range.dispatchEvent(new Event('input', { bubbles: true }));
    await new Promise((r) => requestAnimationFrame(() => r()));
    times.push((performance.now() - t).toFixed(1));
  }
  return times;
}, Number(process.env.NJUMPS || '2'));
const { profile } = await cdp.send('Profiler.stop');
console.log(JSON.stringify(scrub));
const self = new Map();
const dt = profile.timeDeltas; const byId = new Map(profile.nodes.map(n => [n.id, n]));
const counts = new Map();
profile.samples.forEach((id, i) => counts.set(id, (counts.get(id) || 0) + (dt[i] || 0)));
for (const [id, us] of counts) { const n = byId.get(id); const k = n.callFrame.functionName || n.callFrame.url.slice(-30) || '(anon)'; self.set(k, (self.get(k) || 0) + us); }
const parent = new Map(); for (const n of profile.nodes) for (const c of (n.children || [])) parent.set(c, n.id);
const incl = new Map();
for (const [id, us] of counts) { const seen = new Set(); let cur = id; while (cur !== undefined) { const n = byId.get(cur); const k = n.callFrame.functionName; if (k && !seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) || 0) + us); } cur = parent.get(cur); } }
for (const [k, us] of [...incl.entries()].filter(([k]) => /refresh|build_with|Run::at|advance|drop_in_place<klab|view|reconcile|Sim::step|clone|apply|partition_report/.test(k)).sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log('incl', (us / 1000).toFixed(1).padStart(8), k.slice(0, 120));
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
for (const [k, us] of top) console.log((us / 1000).toFixed(1).padStart(8), k.slice(0, 140));
await browser.close();
