import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';

// Every test watches for console errors and for any request that leaves the page's own
// origin: the lab must work offline from any static host.
let problems: string[] = [];
test.beforeEach(async ({ page, baseURL }) => {
  problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('request', (r) => { if (!r.url().startsWith(baseURL!) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) problems.push(`outside request: ${r.url()}`); });
});
test.afterEach(async () => { expect(problems).toEqual([]); });

async function open(page: Page, hash = '') {
  await page.goto('index.html' + hash);
  await expect(page.getByRole('table', { name: 'Record fates' })).toBeVisible();
}

async function lesson(page: Page, title: string) {
  await page.getByLabel('Lesson').selectOption({ label: title });
  await expect(page.getByLabel('Scenario title')).not.toBeEmpty();
}

const finalFate = (page: Page, id: string) => page.getByRole('row', { name: `Record ${id}` }).getByLabel(`final fate of ${id}`);
const nowFate = (page: Page, id: string) => page.getByRole('row', { name: `Record ${id}` }).locator('td').nth(1);

test('acks=1 with the leader killed right after its ack: r1 is lost, and the why chain names the truncation', async ({ page }) => {
  await open(page);
  await lesson(page, 'acks=1: the leader dies right after its ack');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(nowFate(page, 'r1')).toHaveText('✖ lost');
  await page.getByRole('button', { name: 'r1', exact: true }).click();
  const why = page.getByRole('list', { name: 'Why chain' });
  await expect(why).toContainText('b1 truncated its log to offset 0');
  await expect(why).toContainText('producer got the ack');
  // A step of the chain jumps the time line to that moment.
  await why.getByRole('button', { name: /Jump to 3\.728 ms/ }).first().click();
  await expect(page.getByLabel('Current time')).toContainText('t = 3.728 ms');
  await expect(nowFate(page, 'r1')).toHaveText('… pending');
});

test('fate changes are announced to screen readers: a few by name, many as counts', async ({ page }) => {
  await open(page);
  await lesson(page, 'acks=1: the leader dies right after its ack');
  const live = page.locator('[aria-live="polite"]');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(live).toHaveText(/r1 is now lost/);
  // Ten more records: jumping back to the start changes every fate at once, which is
  // announced as counts rather than one sentence per record.
  await page.getByRole('button', { name: 'Send 10 records' }).click();
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await page.getByRole('button', { name: 'Jump to start' }).click();
  await expect(live).toHaveText(/^\d+ records changed fate: \d+ now pending/);
});

test('a dropped response duplicates without idempotence and not with it', async ({ page }) => {
  await open(page);
  await lesson(page, 'A lost ack without idempotence duplicates');
  await expect(finalFate(page, 'r1')).toHaveText('❏ duplicated');
  await page.getByLabel('Idempotence').selectOption('true');
  await expect(finalFate(page, 'r1')).toHaveText('✔ committed');
  await expect(page.getByLabel('Producer settings in effect')).toContainText('idempotence on');
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/"enable.idempotence" = true/);
});

test('stepping back then forward returns the same screen', async ({ page }) => {
  await open(page);
  await lesson(page, 'acks=all: the ISR already has it');
  for (let i = 0; i < 12; i++) await page.getByRole('button', { name: 'Step forward' }).click();
  const before = await page.locator('main').innerText();
  const time = await page.getByLabel('Current time').innerText();
  for (let i = 0; i < 5; i++) await page.getByRole('button', { name: 'Step back' }).click();
  await expect(page.getByLabel('Current time')).not.toHaveText(time);
  for (let i = 0; i < 5; i++) await page.getByRole('button', { name: 'Step forward' }).click();
  await expect(page.getByLabel('Current time')).toHaveText(time);
  expect(await page.locator('main').innerText()).toBe(before);
});

test('a copied link reproduces the screen in a new page', async ({ page, context }) => {
  await open(page);
  await lesson(page, 'Unclean election loses acknowledged data');
  for (let i = 0; i < 9; i++) await page.getByRole('button', { name: 'Step forward' }).click();
  await page.getByRole('button', { name: 'r2', exact: true }).click();
  await page.getByRole('button', { name: 'Copy link' }).click();
  const url = await page.getByLabel('Link to this moment').inputValue();
  expect(url).toContain('#v1.');
  const screen = await page.locator('main').innerText();
  const time = await page.getByLabel('Current time').innerText();
  const other = await context.newPage();
  other.on('console', (m) => { if (m.type() === 'error') problems.push(`console (2nd page): ${m.text()}`); });
  await other.goto(url);
  await expect(other.getByLabel('Current time')).toHaveText(time);
  await expect(other.getByRole('heading', { name: /Why r2 is/ })).toBeVisible();
  expect(await other.locator('main').innerText()).toBe(screen);
});

test('pasting a link into the open page loads it, and a damaged one is refused without losing the screen', async ({ page }) => {
  await open(page);
  await lesson(page, 'Unclean election loses acknowledged data');
  await page.getByRole('button', { name: 'Copy link' }).click();
  const url = await page.getByLabel('Link to this moment').inputValue();
  await lesson(page, 'A lost ack with idempotence does not');
  await expect(page.getByLabel('Scenario title')).toContainText('idempotence');
  const hash = new URL(url).hash;
  await page.evaluate((h) => { location.hash = h; }, hash);
  await expect(page.getByLabel('Scenario title')).toContainText('Unclean election');
  // The same link cut short: the page says so and keeps the unclean-election lesson.
  await page.evaluate((h) => { location.hash = h; }, hash.slice(0, -6));
  await expect(page.getByRole('status')).toContainText('The link could not be opened: the link is damaged');
  await expect(page.getByLabel('Scenario title')).toContainText('Unclean election');
  // Changing the lab after opening a link drops the link from the URL: a reload keeps the change.
  await page.evaluate((h) => { location.hash = h; }, hash);
  await lesson(page, 'A lost ack with idempotence does not');
  await expect(page).not.toHaveURL(/#/);
  await page.reload();
  await expect(page.getByLabel('Scenario title')).toContainText('idempotence');
});

test('a setting Kafka rejects shows Kafka\'s own error and keeps the last run', async ({ page }) => {
  await open(page);
  await lesson(page, 'A lost ack with idempotence does not');
  await page.getByLabel('Acknowledgements').selectOption('1');
  await expect(page.getByRole('alert', { name: 'Error' })).toContainText(
    'ConfigException: Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.');
  await expect(finalFate(page, 'r1')).toHaveText('✔ committed');
  // Letting idempotence default instead: Kafka silently disables it, and the lab says so.
  await page.getByLabel('Idempotence').selectOption('');
  await expect(page.getByRole('alert', { name: 'Error' })).toHaveCount(0);
  await expect(page.getByRole('note').first()).toContainText('silently disabled idempotence');
  await expect(finalFate(page, 'r1')).toHaveText('❏ duplicated');
});

test('a malformed link says what is wrong and the lab still works', async ({ page }) => {
  await open(page, '#v1.this-is-not-a-lab-link');
  await expect(page.getByRole('status')).toContainText('The link could not be opened');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(nowFate(page, 'r1')).toHaveText('✖ lost');
});

test('a link that decompresses to the wrong fields names the field', async ({ page }) => {
  const link = (state: object) => '#v1.' + zlib.deflateRawSync(Buffer.from(JSON.stringify(state))).toString('base64url');
  await open(page, link({ stop: 3 }));
  await expect(page.getByRole('status')).toContainText('the link\'s data is not a lab state: it has no "scenario" text');
  await open(page, link({ scenario: 'format = 1\n', stop: 'end' }));
  await expect(page.getByRole('status')).toContainText('"stop" is not a whole number');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(nowFate(page, 'r1')).toHaveText('✖ lost');
});

test('a broker can be killed from its menu, and that forks the future', async ({ page }) => {
  await open(page);
  await lesson(page, 'acks=all: the ISR already has it');
  await page.getByRole('button', { name: 'Kill b2' }).click();
  await expect(page.getByRole('status')).toContainText('kill-broker b2');
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/do = "kill-broker"\s*\ntarget = "b2"/);
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('group', { name: 'Broker b2' })).toContainText('b2: down');
});

test('keyboard: arrows step, space plays and pauses', async ({ page }) => {
  await open(page);
  await page.locator('h1').click();
  const t0 = await page.getByLabel('Current time').innerText();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByLabel('Current time')).not.toHaveText(t0);
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByLabel('Current time')).toHaveText(t0);
  await page.keyboard.press(' ');
  await expect(page.getByRole('button', { name: 'Pause' })).toBeVisible();
  await page.keyboard.press(' ');
  await expect(page.getByRole('button', { name: 'Play' })).toBeVisible();
});

test('consumers: committing after processing duplicates, an upsert sink absorbs it', async ({ page }) => {
  await open(page);
  await lesson(page, 'Consumer: commit after processing duplicates');
  await expect(finalFate(page, 'r1')).toHaveText('❏ duplicated');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('group', { name: 'Consumer consumer' })).toContainText('committed 3');
  await page.getByRole('button', { name: 'r1', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Why chain' })).toContainText('processed it AGAIN (time 2)');
  await lesson(page, 'Consumer: an upsert sink absorbs duplicates');
  await expect(finalFate(page, 'r1')).toHaveText('✔ committed');
  await lesson(page, 'Consumer: commit before processing loses');
  await expect(finalFate(page, 'r2')).toHaveText('✖ lost');
});

test('dropping a produce response on the wire by clicking it duplicates the record without idempotence', async ({ page }) => {
  await open(page);
  const scenario = [
    'format = 1', 'title = "my sandbox"', 'seed = 5', '[producer]', 'acks = "all"',
    '"enable.idempotence" = false', '"request.timeout.ms" = 3000', '[[send]]', 'records = ["r1"]',
  ].join('\n');
  await page.getByLabel('Scenario (TOML)').fill(scenario);
  await page.getByRole('button', { name: 'Run scenario' }).click();
  await expect(finalFate(page, 'r1')).toHaveText('✔ committed');
  const drop = page.getByRole('button', { name: 'Drop the produce response of r1' });
  for (let i = 0; i < 40 && !(await drop.isVisible()); i++) {
    await page.getByRole('button', { name: 'Step forward' }).click();
  }
  await drop.click();
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/on = "ack"\s*\nrecord = "r1"\s*\ndo = "drop-response"/);
  await expect(finalFate(page, 'r1')).toHaveText('❏ duplicated');
});

test('an aborted transaction is aborted-read for read_uncommitted and aborted for read_committed', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: aborted, read_uncommitted reads it');
  await expect(finalFate(page, 'r1')).toHaveText('⚠ aborted-read');
  await expect(finalFate(page, 'r3')).toHaveText('✔ committed');
  await page.getByLabel('Scenario (TOML)').fill((await page.getByLabel('Scenario (TOML)').inputValue()).replace('"read_uncommitted"', '"read_committed"'));
  await page.getByRole('button', { name: 'Run scenario' }).click();
  await expect(finalFate(page, 'r1')).toHaveText('⌀ aborted');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('figure', { name: 'Partition orders/0' })).toContainText('leader b1');
  await page.getByRole('button', { name: 'r1', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Why chain' })).toContainText('ABORT marker');
});

test('copy as code writes out the consumer settings, isolation level included', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: aborted, read_committed skips it');
  await page.getByText('Copy as code').click();
  await expect(page.locator('details.panel')).toContainText('isolation.level=read_committed');
    await expect(page.locator('details.panel')).toContainText("'isolation.level': 'read_committed'");
  await expect(page.getByLabel('kafka-python consumer consumer')).toContainText("isolation_level='read_committed'");
});

test('read-process-write: a crash after the output was written still gives one committed output per order', async ({ page }) => {
  await open(page);
  await lesson(page, 'Exactly once: a crash after the output was written');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(finalFate(page, 'r1')).toHaveText('✔ committed');
  const row = page.getByRole('row', { name: 'Record r1' });
  // Processed twice (once by the crashed instance), one committed output.
  await expect(row.locator('td').nth(5)).toHaveText('2');
  await expect(row.locator('td').last()).toHaveText('1');
  await expect(page.getByRole('figure', { name: 'Partition invoices/0' })).toContainText('ABORT');
  await page.getByRole('button', { name: 'r1', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Why chain' })).toContainText('committed its output together with its offset');
});

test('starting a zombie from the producer menu fences the first instance', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: committed across two topics');
  await page.getByRole('button', { name: 'Step forward' }).click();
  await page.getByRole('button', { name: 'Start a zombie of producer' }).click();
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/do = "start-zombie"/);
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('group', { name: 'Transaction coordinator' })).toContainText('coordinator on b');
});

test('messages in flight are drawn on their way between the nodes', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: committed across two topics');
  // Step to the moment the coordinator sends its markers (the run is deterministic: the
  // bound only keeps a broken build from stepping for ever).
  const wire = page.getByRole('group', { name: 'On the wire' });
  const marker = 'COMMIT marker of payments-1 for debits/0';
  for (let i = 0; i < 200 && !((await wire.textContent()) ?? '').includes(marker); i++) {
    await page.getByRole('button', { name: 'Step forward' }).click();
  }
  await expect(wire).toContainText(marker);
  // Every message the list names is drawn as a dot on its link, the markers among them.
  const n = Number(((await wire.textContent()) ?? '').match(/On the wire \((\d+)\)/)?.[1]);
  expect(n).toBeGreaterThanOrEqual(2);
  const drawing = page.getByRole('img', { name: `Messages in flight between the nodes: ${n}` });
  await expect(drawing.locator('circle')).toHaveCount(n);
  await expect(drawing.locator('circle title').filter({ hasText: 'COMMIT marker' })).toHaveCount(2);
});

test('the coordinator log shows a PrepareCommit lost with its broker, and the commit written again by the next coordinator', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: PrepareCommit dies with its coordinator');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(nowFate(page, 't1')).toContainText('committed');
  const txlog = page.getByRole('figure', { name: 'Partition __transaction_state/43' });
  // b2 died holding PrepareCommit at offset 2 (never replicated); b3 leads and wrote its own.
  await expect(txlog.getByRole('img')).toHaveAccessibleName('__transaction_state/43 — leader b3 (epoch 1), ISR [b3, b1]');
  await expect(txlog.locator('title').filter({ hasText: 'offset 2: payer-1 PrepareCommit epoch 1' })).toHaveCount(3);
  await expect(txlog.locator('title').filter({ hasText: 'offset 3: payer-1 CompleteCommit epoch 1' })).toHaveCount(2);
});

test('the application sends a transaction it aborts: its records end aborted for the read_committed consumer', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: committed across two topics');
  // After the lesson's own transaction: a producer runs one transaction at a time.
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await page.getByRole('button', { name: 'Send 3 records in a transaction, then abort it' }).click();
  await expect(page.getByRole('status').or(page.locator('.note')).first()).toContainText('x1, x2, x3 in a transaction it then aborts');
  for (const id of ['x1', 'x2', 'x3']) await expect(finalFate(page, id)).toContainText('aborted');
  await expect(finalFate(page, 'd1')).toContainText('committed');
});

test('arming "crash the producer when it commits" on d1: commitTransaction() had not flushed it, so d1 is lost with no answer', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: committed across two topics');
  await expect(finalFate(page, 'd1')).toContainText('committed');
  await page.getByRole('row', { name: 'Record d1' }).getByRole('button', { name: 'd1' }).click();
  await page.getByLabel('Fault to arm on d1').selectOption({ label: 'crash the producer when it commits the transaction of d1' });
  await page.getByRole('group', { name: 'Arm a fault on d1' }).getByRole('button', { name: 'Arm' }).click();
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/on = "commit-transaction"\s+record = "d1"\s+do = "crash-producer"/);
  await expect(finalFate(page, 'd1')).toContainText('lost');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('row', { name: 'Record d1' })).toContainText('no-answer');
  await expect(page.getByRole('list', { name: 'Why chain' })).toContainText('crash');
});

test('switching the consumer to read_committed in the settings turns an aborted-read into aborted', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: aborted, read_uncommitted reads it');
  await expect(finalFate(page, 'r1')).toContainText('aborted-read');
  await page.getByLabel('Reads', { exact: true }).selectOption('read_committed');
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/"isolation.level" = "read_committed"/);
  await expect(finalFate(page, 'r1')).toContainText(/^\S+ aborted$/);
});

test('the sink shows its rows: after a crash between processing and the offset commit, an insert sink holds a record twice', async ({ page }) => {
  await open(page);
  await lesson(page, 'Consumer: commit after processing duplicates');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  const rows = page.getByRole('group', { name: 'Sink rows of billing' });
  await expect(rows).toContainText('×2');
  await lesson(page, 'Consumer: an upsert sink absorbs duplicates');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('group', { name: 'Sink rows of billing' })).not.toContainText('×');
});

test('clicking a produce request on the network map drops it: the fault is added to the scenario', async ({ page }) => {
  await open(page);
  await lesson(page, 'acks=all: the ISR already has it');
  const dot = page.getByRole('img', { name: /Messages in flight/ }).locator('circle.droppable').first();
  for (let i = 0; i < 60 && (await dot.count()) === 0; i++) await page.getByRole('button', { name: 'Step forward' }).click();
  const title = (await dot.locator('title').textContent()) ?? '';
  expect(title).toContain('click to drop it');
  await dot.click();
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/do = "drop-(request|response)"/);
});

test('the exported run report holds each record\'s fate and its whole why chain', async ({ page }) => {
  await open(page);
  await lesson(page, 'acks=1: the leader dies right after its ack');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export report JSON' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('report.json');
  const report = JSON.parse(readFileSync(await download.path(), 'utf8'));
  const r1 = report.records.find((r: { id: string }) => r.id === 'r1');
  expect(r1.fate).toBe('lost');
  expect(r1.why.join('\n')).toContain('b1 (leader, epoch 0) appended it at offset 0');
  expect(r1.why.join('\n')).toContain('b1 truncated its log to offset 0');
});

test('a partition draws the same offset slots at every moment: empty at the start, filled once written', async ({ page }) => {
  await open(page);
  await lesson(page, 'acks=1: the leader dies right after its ack');
  const partition = page.getByRole('figure', { name: 'Partition orders/0' });
  await page.getByRole('button', { name: 'Jump to start' }).click();
  await expect(partition.locator('title').filter({ hasText: 'offset 0: not written on b1' })).toHaveCount(1);
  await expect(partition.locator('title')).toHaveCount(3 * 12);
  await page.getByRole('button', { name: 'Jump to end' }).click();
  // r1 was truncated away: offset 0 now holds r2 on every replica.
  await expect(partition.locator('title').filter({ hasText: 'offset 0: r2' })).toHaveCount(3);
  await expect(partition.locator('title')).toHaveCount(3 * 12);
});

test('a long run\'s ledger shows its records a page at a time, and the finder finds any of them', async ({ page }) => {
  await open(page);
  await page.getByLabel('Scenario (TOML)').fill(['format = 1', 'title = "many records"', 'seed = 3', '[[send]]', 'count = 120', 'every_ms = 1'].join('\n'));
  await page.getByRole('button', { name: 'Run scenario' }).click();
  const pages = page.getByRole('navigation', { name: 'Ledger pages' });
  await expect(pages).toContainText('records 1–50 of 120');
  await expect(page.getByRole('button', { name: 'Previous records' })).toBeDisabled();
  await expect(page.getByRole('row', { name: 'Record r50', exact: true })).toBeVisible();
  await expect(page.getByRole('row', { name: 'Record r51', exact: true })).toHaveCount(0);
  await page.getByRole('button', { name: 'Next records' }).click();
  await page.getByRole('button', { name: 'Next records' }).click();
  await expect(pages).toContainText('records 101–120 of 120');
  await expect(page.getByRole('button', { name: 'Next records' })).toBeDisabled();
  await expect(finalFate(page, 'r120')).toHaveText('✔ committed');
  await expect(page.getByRole('row', { name: 'Record r1', exact: true })).toHaveCount(0);
  await page.getByLabel('Find a record').fill('r7');
  // r7 and r70 to r79: one page, so no page buttons.
  await expect(page.getByRole('row', { name: /^Record r7/ })).toHaveCount(11);
  await expect(pages).toHaveCount(0);
});

test('a replica that fell behind the offsets drawn says where its high watermark and log end are', async ({ page }) => {
  await open(page);
  await page.getByLabel('Scenario (TOML)').fill(['format = 1', 'title = "b1 falls behind"', 'seed = 7', '[[topic]]', 'name = "orders"', 'partitions = 1',
    '"replication.factor" = 3', '[[send]]', 'count = 60', 'every_ms = 2', '[[fault]]', 'at_ms = 40', 'do = "kill-broker"', 'target = "b1"'].join('\n'));
  await page.getByRole('button', { name: 'Run scenario' }).click();
  await page.getByRole('button', { name: 'Jump to end' }).click();
  const partition = page.getByRole('figure', { name: 'Partition orders/0' });
  await expect(partition.locator('figcaption')).toContainText('offsets 48–59 of 60 drawn');
  await expect(partition.locator('text').filter({ hasText: /^◀ HW \d+, LEO \d+$/ })).toHaveCount(1);
});

test('idempotence forgets: a retry that comes after producer.id.expiration.ms is written twice, and the why chain says why', async ({ page }) => {
  await open(page);
  await lesson(page, 'Idempotence forgets: producer.id.expiration.ms before a retry');
  await expect(finalFate(page, 'r1')).toHaveText('❏ duplicated');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await page.getByRole('button', { name: 'r1', exact: true }).click();
  const why = page.getByRole('list', { name: 'Why chain' });
  await expect(why).toContainText('b1 had forgotten producer id');
  await expect(why).toContainText('appended it at offset 1');
  // The same lesson with the default expiration (a day): the retry is recognised.
  await page.getByLabel('Scenario (TOML)').fill((await page.getByLabel('Scenario (TOML)').inputValue()).replace(/"producer\.id\.expiration\.ms" = 1000\n/, ''));
  await page.getByRole('button', { name: 'Run scenario' }).click();
  await expect(finalFate(page, 'r1')).toHaveText('✔ committed');
});

test('Kafka 3.0.0 did not apply the idempotence default: the lesson duplicates, the fixed release does not', async ({ page }) => {
  await open(page);
  await lesson(page, 'Kafka 3.0.0: the idempotence default that did not apply');
  await expect(page.getByLabel('Kafka version')).toHaveValue('3.0.0');
  await expect(finalFate(page, 'r1')).toHaveText('❏ duplicated');
  await expect(page.getByRole('note').first()).toContainText('KAFKA-13598');
  // The same file on a release with the fix keeps one copy, and the note is gone.
  await page.getByLabel('Kafka version').selectOption({ label: '3.0.1–3.5' });
  await expect(finalFate(page, 'r1')).toHaveText('✔ committed');
  await expect(page.getByRole('note')).toHaveCount(0);
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/kafka = "3\.5"/);
});

test('a long run is warmed up for scrubbing without changing the screen or what a screen reader hears', async ({ page }) => {
  // Every change to the current-time text, with the text it replaced.
  await page.addInitScript(() => {
    const w = window as any;
    w.timeWas = [];
    new MutationObserver((rs) => {
      for (const r of rs) if (r.target.parentElement?.closest('[aria-label="Current time"]')) w.timeWas.push(r.oldValue);
    }).observe(document, { subtree: true, characterData: true, characterDataOldValue: true });
  });
  const scenario = 'format = 1\nseed = 3\n[[topic]]\nname = "orders"\npartitions = 3\n[[send]]\ncount = 600\nevery_ms = 1\n'
    + '[[fault]]\nat_ms = 150\ndo = "kill-broker"\ntarget = "b1"\n';
  const state = { scenario, stop: 5, record: null };
  const link = 'v1.' + zlib.deflateRawSync(Buffer.from(JSON.stringify(state))).toString('base64url');
  await open(page, '#' + link);
  const time = page.getByLabel('Current time');
  await expect(time).toContainText('step 5 of');
  expect(Number((await time.innerText()).split(' of ')[1])).toBeGreaterThanOrEqual(1000);
  // The warm-up drew a far moment and this one again, in one task.
  await expect.poll(() => page.evaluate(() => (window as any).timeWas.some((t: string) => !t.includes('step 5 of')))).toBe(true);
  await expect(time).toContainText('step 5 of');
  await expect(page.locator('.sr-only[aria-live="polite"]')).toHaveText('');
  const screen = await page.locator('main').innerText();
  await page.getByRole('button', { name: 'Step back' }).click();
  await page.getByRole('button', { name: 'Step forward' }).click();
  await expect(time).toContainText('step 5 of');
  expect(await page.locator('main').innerText()).toBe(screen);
});

test('large text makes the page\'s text larger, for a projector', async ({ page }) => {
  await open(page);
  const size = () => page.getByRole('table', { name: 'Record fates' }).evaluate((t) => parseFloat(getComputedStyle(t).fontSize));
  const before = await size();
  await page.getByRole('button', { name: 'Large text' }).click();
  await expect(page.getByRole('button', { name: 'Large text' })).toHaveAttribute('aria-pressed', 'true');
  expect(await size()).toBeGreaterThan(before * 1.3);
});

test('on a narrow page (a doc embedding the lab) the cluster and records come first, and an error stays on top', async ({ page }) => {
  await page.setViewportSize({ width: 800, height: 1000 });
  await open(page);
  await lesson(page, 'A lost ack with idempotence does not');
  const top = async (name: string) => (await page.getByRole('heading', { name, exact: true, level: 2 }).boundingBox())!.y;
  expect(await top('Cluster')).toBeLessThan(await top('Settings'));
  expect(await top('Records')).toBeLessThan(await top('Settings'));
  await page.getByLabel('Acknowledgements').selectOption('1');
  const error = page.getByRole('alert', { name: 'Error' });
  await expect(error).toContainText('ConfigException');
  expect((await error.boundingBox())!.y).toBeLessThan(await top('Cluster'));
});

test('a late COMMIT marker under Transactions V1 is named as such in the chain of the record it commits too early', async ({ page }) => {
  await open(page);
  await lesson(page, '3.6: a late marker commits the next transaction');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(finalFate(page, 'u1')).toHaveText('⚠ aborted-read');
  await page.getByRole('button', { name: 'u1', exact: true }).click();
  const why = page.getByRole('list', { name: 'Why chain' });
  await expect(why).toContainText('appended a late COMMIT marker at offset 3');
  await expect(why).toContainText('sent for an earlier transaction of payer-1');
  await expect(why).toContainText('producer.abortTransaction() returned');
  // On 4.0 the same late copy is refused, and u1 stays in the transaction the application aborted.
  await lesson(page, '4.0: the late marker is refused');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(finalFate(page, 'u1')).toHaveText('⌀ aborted');
});

test('arming "crash the producer right after the ack" on a transaction\'s last record: EndTxn never leaves, and the coordinator aborts it', async ({ page }) => {
  await open(page);
  await lesson(page, 'Transaction: committed across two topics');
  await page.getByRole('row', { name: 'Record c1' }).getByRole('button', { name: 'c1' }).click();
  await page.getByLabel('Fault to arm on c1').selectOption({ label: 'crash the producer once the ack of c1 reaches it' });
  await page.getByRole('group', { name: 'Arm a fault on c1' }).getByRole('button', { name: 'Arm' }).click();
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/on = "response"\s+record = "c1"\s+do = "crash-producer"/);
  await expect(finalFate(page, 'c1')).toHaveText('⌀ aborted');
  await expect(finalFate(page, 'd1')).toHaveText('⌀ aborted');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('row', { name: 'Record c1' })).toContainText('acked');
});

test('a producer held up by a dead leader names its first buffered records and counts the rest', async ({ page }) => {
  await open(page);
  // One broker, killed before the first send: nothing leaves the accumulator until until_ms.
  await page.getByLabel('Scenario (TOML)').fill(['format = 1', 'title = "no leader"', 'seed = 1', 'until_ms = 200', '[cluster]', 'brokers = 1',
    '[[topic]]', 'name = "orders"', 'partitions = 1', '"replication.factor" = 1', '[[send]]', 'count = 40', 'every_ms = 1',
    '[[fault]]', 'at_ms = 0', 'do = "kill-broker"', 'target = "b1"'].join('\n'));
  await page.getByRole('button', { name: 'Run scenario' }).click();
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('group', { name: 'Producer producer' })).toContainText('buffered: r1 r2 r3 r4 r5 r6 r7 r8 +32 more');
  await expect(nowFate(page, 'r40')).toContainText('pending');
});

test('the controller quorum from its menu: one kill is a failover, a second leaves no quorum, and the dead leader is never replaced', async ({ page }) => {
  await open(page);
  await lesson(page, 'acks=all: the ISR already has it');
  await expect(finalFate(page, 'r3')).toHaveText('✔ committed');
  await page.getByRole('button', { name: 'Kill the controller' }).click();
  await expect(page.getByRole('status')).toContainText('kill-broker controller');
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/do = "kill-broker"\s*\ntarget = "controller"/);
  // Two voters are left: they elect another active controller, which replaces the dead leader.
  await expect(finalFate(page, 'r3')).toHaveText('✔ committed');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('group', { name: 'Controller' })).toContainText('controller: up (2 of 3 voters up)');
  await page.getByRole('button', { name: 'Jump to start' }).click();
  await page.getByRole('button', { name: 'Kill the controller' }).click();
  await expect(finalFate(page, 'r1')).toHaveText('✔ committed');
  await expect(finalFate(page, 'r3')).toHaveText('⊘ rejected');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('group', { name: 'Controller' })).toContainText('controller: down, no quorum (1 of 3 voters up)');
  await page.getByRole('button', { name: 'r3', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Why chain' })).toContainText('no controller is up to elect another leader');
  // Restarting it at the end adds the restart to the scenario.
  await page.getByRole('button', { name: 'Restart the controller' }).click();
  await expect(page.getByLabel('Scenario (TOML)')).toHaveValue(/do = "restart-broker"\s*\ntarget = "controller"/);
});

test('the "no controller" lesson: r2 waits for a leader nobody elects and times out; r3, sent once the controller is back, is committed', async ({ page }) => {
  await open(page);
  await lesson(page, 'No controller, no new leader');
  await expect(finalFate(page, 'r2')).toHaveText('⊘ rejected');
  await expect(finalFate(page, 'r3')).toHaveText('✔ committed');
  await page.getByRole('button', { name: 'Jump to end' }).click();
  await expect(page.getByRole('group', { name: 'Controller' })).toContainText('controller: up');
  await page.getByRole('button', { name: 'r2', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Why chain' })).toContainText('TimeoutException');
  // At 100 s the controller is still down: the page says so.
  await page.getByRole('button', { name: /Jump to 122000 ms/ }).first().click();
  await expect(page.getByRole('group', { name: 'Controller' })).toContainText('controller: down');
});
