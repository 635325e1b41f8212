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

if (process.env.CSS) await page.addStyleTag({ content: process.env.CSS });
await browser.startTracing(page, { path: '/tmp/trace.json', categories: ['devtools.timeline','v8','disabled-by-default-devtools.timeline','v8.wasm','disabled-by-default-v8.gc','blink','toplevel'] });
const scrub = await page.evaluate(async (NJ) => {
  const range = document.querySelector('input[type=range]');
  const max = Number(range.max);
  const times = [];
  for (let i = 1; i <= NJ; i++) {
    const target = Math.floor((max * ((i * 7919) % 20)) / 20);
    const t = performance.now();
    range.value = String(target);
    range.dispatchEvent(new Event('input', { bubbles: true }));
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    times.push((performance.now() - t).toFixed(1));
  }
  return times;
}, Number(process.env.NJUMPS || '2'));
await browser.stopTracing();
console.log(JSON.stringify(scrub));
await browser.close();

import fs from 'node:fs';
const t = JSON.parse(fs.readFileSync('/tmp/trace.json'));
const ev = t.traceEvents || t;
const sum = {};
for (const e of ev) if (e.ph === 'X' && ['Layout','UpdateLayoutTree','Paint','FunctionCall','PrePaint'].includes(e.name)) sum[e.name] = (sum[e.name] || 0) + e.dur / 1000;
console.log(JSON.stringify(sum));
