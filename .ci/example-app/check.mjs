// Drives the example purchasing board (examples/purchasing-board/) in headless Chromium as a
// user would: creates and submits an order through its form, watches the order's badge on the
// board in a second tab, receives the order on the receiving screen (an over-receipt first,
// whose userError must show next to its input; a lost answer retried with the same
// idempotency key, which must not receive twice) and sees the board's badge change live,
// without a reload. With SCREENSHOTS=dir it also saves the README's screenshots there.
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, browserPath] = process.argv.slice(2);
const app = `${base}/examples/purchasing-board/`;
const shots = process.env.SCREENSHOTS;
const WAIT = 20000;

const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
const problems = [];
let lost = 0;
const watch = (page, name) => {
  page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    // The one answer step 6 drops on purpose is logged by the browser.
    if (m.type() === 'error' && !(lost === 1 && m.text().includes('ERR_CONNECTION_RESET'))) {
      problems.push(`${name} console: ${m.text()}`);
    }
  });
};

async function fail(message) {
  const dir = mkdtempSync(join(tmpdir(), 'example-app-check-'));
  const paths = [];
  for (const [i, page] of context.pages().entries()) {
    const path = join(dir, `page-${i}.png`);
    await page.screenshot({ path, fullPage: true }).catch(() => {});
    paths.push(`${path} (${page.url()})`);
  }
  console.error(`example-app check: ${message}`);
  if (problems.length) console.error(`page problems: ${problems.join('; ')}`);
  console.error(`screenshots: ${paths.join(', ')}`);
  process.exit(1);
}
setTimeout(() => fail('timed out after 150 s'), 150000).unref();

/** Waits (bounded) until `predicate` holds in `page`, or fails with `what`. */
async function until(page, what, predicate, arg) {
  await page.waitForFunction(predicate, arg, { timeout: WAIT }).catch(() => fail(`${what} (waited ${WAIT / 1000} s)`));
}
const badgeOf = (page, selector, status, what) => until(page, what,
  ([sel, st]) => document.querySelector(sel)?.dataset.status === st, [selector, status]);

// 1. Create an order through the form; its dropdowns come from the public lists.
const orderPage = await context.newPage();
watch(orderPage, 'order tab');
await orderPage.goto(`${app}#/orders/new`);
await until(orderPage, 'the new-order form never filled its dropdowns',
  () => ['vendorId', 'shipToId', 'typeId', 'businessUnitId'].every((n) => document.querySelector(`select[name=${n}]`)?.options.length > 1));
const form = orderPage.locator('#order-form');
await form.locator('select[name=vendorId]').selectOption({ index: 1 });
await form.locator('select[name=shipToId]').selectOption({ index: 1 });
await form.locator('select[name=typeId]').selectOption({ index: 1 });
await form.locator('select[name=businessUnitId]').selectOption({ index: 1 });
await form.locator('tbody tr').nth(0).locator('select[name=productId]').selectOption({ index: 1 });
await form.locator('tbody tr').nth(0).locator('input[name=quantity]').fill('10');
await orderPage.click('#add-line');
await form.locator('tbody tr').nth(1).locator('select[name=productId]').selectOption({ index: 2 });
await form.locator('tbody tr').nth(1).locator('input[name=quantity]').fill('4');
await orderPage.click('#create-order');
await badgeOf(orderPage, '#status .badge', 'PENDING', 'the created order never showed as PENDING');
const id = decodeURIComponent(orderPage.url().match(/#\/orders\/([^/?]+)$/)?.[1] ?? '');
const number = (await orderPage.textContent('.order h1')).trim().split(/\s+/)[0];
if (!id || !number) await fail(`no order id or number after create: ${orderPage.url()}`);

// 2. Submit it from its page.
await orderPage.click('#submit-order');
await badgeOf(orderPage, '#status .badge', 'SUBMITTED', `${number} never showed as SUBMITTED`);

// 3. The board, filtered to this order, in a second tab: its badge, and a live subscription.
const board = await context.newPage();
watch(board, 'board tab');
await board.goto(`${app}#/?q=${encodeURIComponent(number)}`);
const row = `tr[data-number="${number}"] .badge`;
await badgeOf(board, row, 'SUBMITTED', `the board never listed ${number} as SUBMITTED`);
await until(board, 'the board never went live', () => document.querySelector('#live')?.dataset.live === 'live');
// Survives only as long as the board is not reloaded.
await board.evaluate(() => { window.stillTheSamePage = true; });

// 4. Receive too much on line 1: the OVER_RECEIPT userError shows next to that line's input.
await orderPage.bringToFront();
await orderPage.click('#receive-link');
await until(orderPage, 'the receiving screen never opened', () => document.querySelector('#receive-form tbody tr'));
const quantity = (row) => orderPage.locator(`input[data-field="input.lines.${row}.quantity"]`);
await quantity(0).fill('1000');
await quantity(1).fill('999');
await orderPage.click('#receive-submit');
// Both lines are over: the service reports every violation at once, each next to its input.
for (const line of [0, 1]) {
  await until(orderPage, `the over-receipt error never showed next to line ${line + 1}'s quantity`, (row) => {
    const input = document.querySelector(`input[data-field="input.lines.${row}.quantity"]`);
    const note = input?.nextElementSibling;
    return input?.getAttribute('aria-invalid') === 'true' && note?.classList.contains('field-error')
      && note.dataset.code === 'OVER_RECEIPT' && note.textContent.length > 20;
  }, line);
}
// Every error the service reported sits on a field; none is left over at the top of the form.
if (await orderPage.locator('#receive-form .form-errors li').count()) await fail('a userError found no field');
if (shots) await orderPage.screenshot({ path: join(shots, 'example-receiving.png') });

// 5. A partial receipt: the board's badge turns PARTIALLY_RECEIVED while it stays open.
await quantity(0).fill('4');
await quantity(1).fill('');
await orderPage.click('#receive-submit');
await until(orderPage, 'the partial receipt was not confirmed',
  () => document.querySelector('#result .done .badge')?.dataset.status === 'PARTIALLY_RECEIVED');
await badgeOf(board, row, 'PARTIALLY_RECEIVED', 'the board\'s badge never turned PARTIALLY_RECEIVED');

// 6. The rest, with the first answer lost on the way back (the receipt committed, the browser
// saw a network error): pressing Receive again retries with the same key and receives once.
await orderPage.click('#result a');
await badgeOf(orderPage, '#status .badge', 'PARTIALLY_RECEIVED', `${number}'s page never showed PARTIALLY_RECEIVED`);
await orderPage.click('#receive-link');
await until(orderPage, 'the receiving screen did not reopen with the open quantities',
  () => document.querySelector('input[data-field="input.lines.0.quantity"]')?.value === '6');
let keys = [];
await orderPage.route('**/graphql', async (route) => {
  const body = route.request().postData() ?? '';
  if (!body.includes('receivePurchaseOrder')) return route.continue();
  keys.push(JSON.parse(body).variables.input.idempotencyKey);
  if (lost === 0) {
    lost += 1;
    await route.fetch();
    return route.abort('connectionreset');
  }
  return route.continue();
});
await orderPage.click('#receive-submit');
await until(orderPage, 'the lost answer was not reported as unknown',
  () => document.querySelector('#attempt')?.textContent.includes('same key'));
// Other quantities now would be a second receipt: the inputs wait for the retry.
if (!(await quantity(0).evaluate((input) => input.readOnly))) await fail('the inputs stayed editable after a lost answer');
await orderPage.click('#receive-submit');
await until(orderPage, 'the retried receipt was not confirmed',
  () => document.querySelector('#result .done .badge')?.dataset.status === 'RECEIVED');
await orderPage.unroute('**/graphql');
if (keys.length !== 2 || keys[0] !== keys[1]) await fail(`the retry did not reuse the key: ${keys.join(', ')}`);
await badgeOf(board, row, 'RECEIVED', 'the board\'s badge never turned RECEIVED');
if (!(await board.evaluate(() => window.stillTheSamePage === true))) await fail('the board was reloaded');

// 7. The order page: two receipts (not three), nothing open.
await orderPage.goto(`${app}#/orders/${encodeURIComponent(id)}`);
await badgeOf(orderPage, '#status .badge', 'RECEIVED', `${number}'s page never showed RECEIVED`);
const receipts = await orderPage.locator('table.receipts tbody tr').count();
const open = await orderPage.locator('table.lines td.open').allTextContents();
if (receipts !== 2 || open.some((q) => Number(q) !== 0)) await fail(`expected 2 receipts and nothing open, saw ${receipts} and ${open}`);
if (shots) await orderPage.screenshot({ path: join(shots, 'example-order.png') });

// 8. The stock page lists the ship-to's items.
await orderPage.goto(`${app}#/stock`);
await until(orderPage, 'the stock page listed no item', () => document.querySelectorAll('table.items tr[data-item-id]').length > 0);

if (shots) {
  await board.goto(`${app}#/`);
  await until(board, 'the unfiltered board listed nothing', () => document.querySelectorAll('tr[data-order-id]').length > 3);
  await board.bringToFront();
  await board.screenshot({ path: join(shots, 'example-board.png') });
}
if (problems.length) await fail(problems.join('; '));
await browser.close();
console.log(`example-app check: ${number} created, submitted, over-receipts shown on both lines' fields, received in two receipts (one retried with its key), badge followed live on the board`);
