// The screens. Each view renders into `root`, may start subscriptions, and returns the function
// that ends them when the user leaves the screen.
import { esc, DECIMAL, showErrors, clearErrors, formError, IdempotentSubmit } from './forms.js';
import { GraphQLError, NetworkError } from './graphql.js';

export const STATUSES = ['PENDING', 'SUBMITTED', 'PARTIALLY_RECEIVED', 'RECEIVED', 'CLOSED', 'CANCELED'];

const badge = (status) =>
  `<span class="badge" data-status="${esc(status)}">${esc(status.replace('_', ' '))}</span>`;
const dash = (value) => (value === null || value === undefined || value === '' ? '—' : esc(value));
const day = (dateTime) => (dateTime ? esc(String(dateTime).slice(0, 10)) : '—');
const time = (dateTime) => (dateTime ? esc(new Date(dateTime).toLocaleTimeString()) : '');

function problem(root, error) {
  const text = error instanceof GraphQLError && error.code === 'UNAUTHENTICATED'
    ? 'The service wants a token: paste one above (`stockgraph token --sub you --permissions admin`).'
    : error.message;
  root.innerHTML = `<p class="problem" role="alert">${esc(text)}</p>`;
}

function liveIndicator(client, element) {
  return client.onStatus((status, detail) => {
    element.dataset.live = status;
    element.textContent = { live: '● live', connecting: '○ connecting', reconnecting: '○ reconnecting',
      refused: '✕ live updates refused', idle: '' }[status] ?? status;
    element.title = detail ?? '';
  });
}

// --- Board --------------------------------------------------------------------------------------

const BOARD = `query Board($filter: PurchaseOrderFilter, $after: String) {
  purchaseOrders(first: 25, after: $after, filter: $filter, sort: { field: ORDER_DATE, direction: DESC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id number status orderDate total currency
      vendor { id name } shipTo { code }
    }
  }
}`;
const VENDOR_CHOICES = `query VendorChoices { vendors(first: 50, sort: { field: NAME, direction: ASC }) { nodes { id code name } } }`;
const BOARD_BADGES = `subscription BoardBadges {
  purchaseOrderStatusChanged { status previousStatus occurredAt actor purchaseOrder { id number } }
}`;

// The status changes this tab has seen, newest first; kept while the tab lives, across filters.
const activity = [];

function boardRow(order) {
  return `<tr data-order-id="${esc(order.id)}" data-number="${esc(order.number)}">
    <td><a href="#/orders/${encodeURIComponent(order.id)}">${esc(order.number)}</a></td>
    <td class="status">${badge(order.status)}</td>
    <td>${esc(order.vendor.name)}</td>
    <td>${esc(order.shipTo.code)}</td>
    <td class="num">${order.total === null ? '—' : `${esc(order.total)} ${esc(order.currency)}`}</td>
    <td>${day(order.orderDate)}</td>
  </tr>`;
}

export async function board(root, { client, params, navigate }) {
  const status = params.get('status') ?? '';
  const vendor = params.get('vendor') ?? '';
  const search = params.get('q') ?? '';
  root.innerHTML = `
    <section class="board">
      <div class="heading"><h1>Purchase orders</h1><span class="live" id="live"></span></div>
      <form class="filters" id="filters">
        <label>Status <select name="status"><option value="">Any</option>
          ${STATUSES.map((s) => `<option ${s === status ? 'selected' : ''}>${s}</option>`).join('')}</select></label>
        <label>Vendor <select name="vendor"><option value="">Any</option></select></label>
        <label>Search <input name="q" type="search" value="${esc(search)}" placeholder="number or vendor name"></label>
        <button type="submit">Filter</button>
      </form>
      <div class="content"><table class="orders"><thead><tr><th>Number</th><th>Status</th><th>Vendor</th><th>Ship to</th>
        <th class="num">Total</th><th>Ordered</th></tr></thead><tbody></tbody></table>
        <aside class="activity"><h2>Live status changes</h2><ol id="activity"></ol></aside></div>
      <p class="muted" id="count"></p>
      <button type="button" id="more" hidden>Load more</button>
    </section>`;
  const form = root.querySelector('#filters');
  const tbody = root.querySelector('tbody');
  const more = root.querySelector('#more');
  const filter = {};
  if (status) filter.status = [status];
  if (vendor) filter.vendorId = vendor;
  if (search) filter.search = search;
  let cursor = null;
  const showActivity = () => {
    root.querySelector('#activity').innerHTML = activity.map((event) => `<li><time>${time(event.occurredAt)}</time>
      <b>${esc(event.purchaseOrder.number)}</b> ${event.previousStatus ? badge(event.previousStatus) : ''} → ${badge(event.status)}
      <span class="muted">${esc(event.actor ?? '')}</span></li>`).join('') || '<li class="muted">Changes show here as they happen.</li>';
  };
  showActivity();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) next.set(key, value);
    navigate(`#/?${next}`);
  });
  client.request(VENDOR_CHOICES).then((data) => {
    form.elements.vendor.insertAdjacentHTML('beforeend', data.vendors.nodes.map((v) =>
      `<option value="${esc(v.id)}" ${v.id === vendor ? 'selected' : ''}>${esc(v.name)}</option>`).join(''));
  }).catch(() => {});

  async function load(after) {
    const data = await client.request(BOARD, { filter, after });
    const page = data.purchaseOrders;
    if (!after) tbody.innerHTML = '';
    tbody.insertAdjacentHTML('beforeend', page.nodes.map(boardRow).join(''));
    if (!tbody.children.length) tbody.innerHTML = '<tr><td colspan="6" class="muted">No order matches.</td></tr>';
    root.querySelector('#count').textContent = `${tbody.querySelectorAll('[data-order-id]').length} of ${page.totalCount} orders`;
    cursor = page.pageInfo.endCursor;
    more.hidden = !page.pageInfo.hasNextPage;
  }
  more.addEventListener('click', () => load(cursor).catch((e) => problem(root, e)));

  // Badges follow the subscription; when the socket comes (back) up, the list is read again so
  // a change made while it was down is not missed.
  let first = true;
  const stopStatus = liveIndicator(client, root.querySelector('#live'));
  const stop = client.subscribe(BOARD_BADGES, {}, {
    onLive: () => { if (!first) load().catch(() => {}); first = false; },
    onNext: ({ purchaseOrderStatusChanged: event }) => {
      const row = tbody.querySelector(`tr[data-order-id="${CSS.escape(event.purchaseOrder.id)}"]`);
      if (row) {
        const cell = row.querySelector('.status');
        cell.innerHTML = badge(event.status);
        cell.firstElementChild.classList.add('changed');
      }
      activity.unshift(event);
      activity.length = Math.min(activity.length, 12);
      showActivity();
    },
    onError: (e) => { root.querySelector('#live').textContent = `✕ ${e.message}`; },
  });
  try {
    await load(null);
  } catch (e) {
    stop(); stopStatus();
    problem(root, e);
    return () => {};
  }
  return () => { stop(); stopStatus(); };
}

// --- Order page ---------------------------------------------------------------------------------

const ORDER = `query Order($id: ID!) {
  purchaseOrder(id: $id) {
    id number status version orderDate submittedAt expectedDate memo currency subtotal tax shipping total
    vendor { id code name } shipTo { id code name } type { name } businessUnit { name }
    job { number name } project { number name } technician { number name }
    lines(first: 50) {
      nodes {
        id lineNumber quantity quantityReceived quantityOpen receivableQuantity unitCost amount
        product { sku description unitOfMeasure serialized } location { code }
      }
    }
    receipts {
      id number receivedAt receivedBy packingSlip canceledAt
      lines { quantity rejectedQuantity line { lineNumber } product { sku } location { code } }
    }
  }
}`;
const ORDER_STATUS = `subscription OrderStatus($id: ID!) {
  purchaseOrderStatusChanged(purchaseOrderId: $id) { status }
}`;
const SUBMIT = `mutation Submit($input: SubmitPurchaseOrderInput!) {
  submitPurchaseOrder(input: $input) {
    purchaseOrder { id status version }
    userErrors { code field message }
  }
}`;

const RECEIVABLE = ['SUBMITTED', 'PARTIALLY_RECEIVED'];

export async function order(root, { client, id }) {
  root.innerHTML = '<p class="muted">Loading the order…</p>';
  let current = null;

  async function render() {
    const data = await client.request(ORDER, { id });
    const po = data.purchaseOrder;
    if (!po) { root.innerHTML = '<p class="problem">No such order (or not yours to read).</p>'; return; }
    current = po;
    const ref = (r) => (r ? `${esc(r.number)} · ${esc(r.name)}` : '—');
    root.innerHTML = `
      <section class="order" data-order-id="${esc(po.id)}">
        <div class="heading"><h1>${esc(po.number)} <span id="status">${badge(po.status)}</span></h1>
          <span class="live" id="live"></span>
          <div class="actions">
            ${po.status === 'PENDING' ? '<button type="button" id="submit-order">Submit to vendor</button>' : ''}
            ${RECEIVABLE.includes(po.status) ? `<a class="button" id="receive-link" href="#/orders/${encodeURIComponent(po.id)}/receive">Receive</a>` : ''}
          </div></div>
        <form id="order-actions"><ul class="form-errors" hidden></ul></form>
        <dl class="header">
          <div><dt>Vendor</dt><dd>${esc(po.vendor.name)} (${esc(po.vendor.code)})</dd></div>
          <div><dt>Ship to</dt><dd>${esc(po.shipTo.name)} (${esc(po.shipTo.code)})</dd></div>
          <div><dt>Type</dt><dd>${esc(po.type.name)}</dd></div>
          <div><dt>Business unit</dt><dd>${esc(po.businessUnit.name)}</dd></div>
          <div><dt>Ordered</dt><dd>${day(po.orderDate)}</dd></div>
          <div><dt>Submitted</dt><dd>${day(po.submittedAt)}</dd></div>
          <div><dt>Expected</dt><dd>${dash(po.expectedDate)}</dd></div>
          <div><dt>Job</dt><dd>${ref(po.job)}</dd></div>
          <div><dt>Project</dt><dd>${ref(po.project)}</dd></div>
          <div><dt>Technician</dt><dd>${ref(po.technician)}</dd></div>
          <div><dt>Total</dt><dd>${po.total === null ? '—' : `${esc(po.total)} ${esc(po.currency)}`}
            <span class="muted">(subtotal ${dash(po.subtotal)}, tax ${dash(po.tax)}, shipping ${dash(po.shipping)})</span></dd></div>
          <div><dt>Memo</dt><dd>${dash(po.memo)}</dd></div>
        </dl>
        <h2>Lines</h2>
        <table class="lines"><thead><tr><th>#</th><th>Product</th><th>Location</th><th class="num">Ordered</th>
          <th class="num">Received</th><th class="num">Open</th><th class="num">Unit cost</th><th class="num">Amount</th></tr></thead>
          <tbody>${po.lines.nodes.map((l) => `<tr data-line-id="${esc(l.id)}">
            <td>${esc(l.lineNumber)}</td><td><b>${esc(l.product.sku)}</b> <span class="muted">${esc(l.product.description)}</span></td>
            <td>${esc(l.location.code)}</td><td class="num">${esc(l.quantity)}</td>
            <td class="num received">${esc(l.quantityReceived)}</td><td class="num open">${esc(l.quantityOpen)}</td>
            <td class="num">${dash(l.unitCost)}</td><td class="num">${dash(l.amount)}</td></tr>`).join('')}</tbody></table>
        <h2>Receipts</h2>
        ${po.receipts.length ? `<table class="receipts"><thead><tr><th>Receipt</th><th>Received</th><th>By</th><th>Packing slip</th><th>Lines</th></tr></thead><tbody>
          ${po.receipts.map((r) => `<tr class="${r.canceledAt ? 'canceled' : ''}"><td>${esc(r.number)}${r.canceledAt ? ' <span class="muted">(canceled)</span>' : ''}</td>
            <td>${esc(new Date(r.receivedAt).toLocaleString())}</td><td>${esc(r.receivedBy)}</td><td>${dash(r.packingSlip)}</td>
            <td>${r.lines.map((rl) => `line ${esc(rl.line.lineNumber)} ${esc(rl.product.sku)}: ${esc(rl.quantity)}${rl.rejectedQuantity !== '0' ? ` (rejected ${esc(rl.rejectedQuantity)})` : ''}`).join('<br>')}</td></tr>`).join('')}
          </tbody></table>` : '<p class="muted">Nothing received yet.</p>'}
      </section>`;
    liveStatus?.();
    liveStatus = liveIndicator(client, root.querySelector('#live'));
    root.querySelector('#submit-order')?.addEventListener('click', submit);
  }

  async function submit(event) {
    const button = event.currentTarget;
    const form = root.querySelector('#order-actions');
    button.disabled = true;
    clearErrors(form);
    try {
      const { submitPurchaseOrder: answer } = await client.request(SUBMIT,
        { input: { purchaseOrderId: current.id, expectedVersion: current.version } });
      if (answer.userErrors.length) {
        showErrors(form, answer.userErrors);
        button.disabled = false;
        return;
      }
      await render();
    } catch (e) {
      formError(form, e.message);
      button.disabled = false;
    }
  }

  let liveStatus = null;
  let rendered = false;
  // A status change (a receipt elsewhere, a submit in another tab) re-reads the page.
  const stop = client.subscribe(ORDER_STATUS, { id }, {
    onLive: () => { if (rendered) render().catch(() => {}); },
    onNext: () => render().catch(() => {}),
  });
  try {
    await render();
    rendered = true;
  } catch (e) {
    problem(root, e);
  }
  return () => { stop(); liveStatus?.(); };
}

// --- Receiving ----------------------------------------------------------------------------------

const RECEIVE = `mutation Receive($input: ReceivePurchaseOrderInput!) {
  receivePurchaseOrder(input: $input) {
    receipt { id number lines { quantity line { lineNumber } } }
    purchaseOrder { id status }
    userErrors { code field message }
  }
}`;

export async function receive(root, { client, id }) {
  root.innerHTML = '<p class="muted">Loading the order…</p>';
  let data;
  try {
    data = await client.request(ORDER, { id });
  } catch (e) {
    problem(root, e);
    return () => {};
  }
  const po = data.purchaseOrder;
  if (!po) { root.innerHTML = '<p class="problem">No such order (or not yours to read).</p>'; return () => {}; }
  const attempt = new IdempotentSubmit();
  const lines = po.lines.nodes;
  const receivable = RECEIVABLE.includes(po.status);
  root.innerHTML = `
    <section class="receiving">
      <div class="heading"><h1>Receive ${esc(po.number)} <span id="status">${badge(po.status)}</span></h1>
        <a href="#/orders/${encodeURIComponent(po.id)}">Back to the order</a></div>
      <p class="muted">${esc(po.vendor.name)} → ${esc(po.shipTo.name)}. Enter what arrived on each line; leave a line empty to skip it.</p>
      <form id="receive-form" novalidate>
        <ul class="form-errors" hidden></ul>
        <div class="row">
          <label>Packing slip <input name="packingSlip" data-field="input.packingSlip" autocomplete="off"></label>
          <label>Freight <input name="freight" data-field="input.freight" inputmode="decimal" placeholder="0.00"></label>
        </div>
        <table class="lines"><thead><tr><th>#</th><th>Product</th><th>Location</th><th class="num">Ordered</th>
          <th class="num">Received</th><th class="num">Open</th><th class="num">At most</th><th>Receive now</th><th>Rejected</th></tr></thead>
          <tbody>${lines.map((l, row) => `<tr data-field="input.lines.${row}" data-line-id="${esc(l.id)}">
            <td>${esc(l.lineNumber)}</td><td><b>${esc(l.product.sku)}</b> <span class="muted">${esc(l.product.description)}</span></td>
            <td>${esc(l.location.code)}</td><td class="num">${esc(l.quantity)}</td><td class="num">${esc(l.quantityReceived)}</td>
            <td class="num">${esc(l.quantityOpen)}</td><td class="num">${esc(l.receivableQuantity)}</td>
            <td><input name="quantity" data-field="input.lines.${row}.quantity" inputmode="decimal" size="8"
              aria-label="Quantity to receive on line ${esc(l.lineNumber)}" value="${l.quantityOpen !== '0' ? esc(l.quantityOpen) : ''}">
              ${l.product.serialized ? `<textarea name="serialNumbers" data-field="input.lines.${row}.serialNumbers" rows="2"
                placeholder="serial numbers, one a line" aria-label="Serial numbers of line ${esc(l.lineNumber)}"></textarea>` : ''}</td>
            <td><input name="rejectedQuantity" data-field="input.lines.${row}.rejectedQuantity" inputmode="decimal" size="6"
              aria-label="Rejected quantity on line ${esc(l.lineNumber)}"></td></tr>`).join('')}</tbody></table>
        <div class="actions"><button type="submit" id="receive-submit" ${receivable ? '' : 'disabled'}>Receive</button>
          <span class="muted" id="attempt"></span></div>
        ${receivable ? '' : `<p class="problem">A ${esc(po.status)} order cannot be received.</p>`}
      </form>
      <div id="result"></div>
    </section>`;
  const form = root.querySelector('#receive-form');
  const button = root.querySelector('#receive-submit');
  const attemptNote = root.querySelector('#attempt');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    // Rows sent, in the order of `input.lines`: an error on input.lines.N names rows[N].
    const rows = [];
    const input = { purchaseOrderId: po.id, lines: [] };
    const local = [];
    const packingSlip = form.elements.packingSlip.value.trim();
    if (packingSlip) input.packingSlip = packingSlip;
    const freight = form.elements.freight.value.trim();
    if (freight) {
      if (DECIMAL.test(freight)) input.freight = freight;
      else local.push({ code: 'INVALID_INPUT', field: ['input', 'freight'], message: 'not a number' });
    }
    form.querySelectorAll('tbody tr').forEach((tr, row) => {
      const quantity = tr.querySelector('[name=quantity]').value.trim();
      const rejected = tr.querySelector('[name=rejectedQuantity]').value.trim();
      if (!quantity && !rejected) return;
      const line = { lineId: lines[row].id, quantity: quantity || '0' };
      const sent = input.lines.length;
      rows.push(row);
      if (!DECIMAL.test(line.quantity)) {
        local.push({ code: 'INVALID_INPUT', field: ['input', 'lines', String(sent), 'quantity'], message: 'not a number' });
      }
      if (rejected) {
        if (DECIMAL.test(rejected)) line.rejectedQuantity = rejected;
        else local.push({ code: 'INVALID_INPUT', field: ['input', 'lines', String(sent), 'rejectedQuantity'], message: 'not a number' });
      }
      const serials = tr.querySelector('[name=serialNumbers]')?.value.split(/[\s,]+/).filter(Boolean);
      if (serials?.length) line.serialNumbers = serials;
      input.lines.push(line);
    });
    const translate = (path) => (path[1] === 'lines' && path[2] !== undefined && rows[Number(path[2])] !== undefined
      ? ['input', 'lines', String(rows[Number(path[2])]), ...path.slice(3)] : path);
    if (local.length) { showErrors(form, local, translate); return; }
    if (!input.lines.length) { formError(form, 'Enter a quantity on at least one line.'); return; }

    const retry = attempt.retrying;
    input.idempotencyKey = attempt.keyFor({ ...input, idempotencyKey: undefined });
    attemptNote.textContent = `${retry ? 'Retrying with the same' : 'Sending with'} idempotency key ${input.idempotencyKey}…`;
    button.disabled = true;
    const editable = (yes) => form.querySelectorAll('input, textarea').forEach((el) => { el.readOnly = !yes; });
    try {
      const { receivePurchaseOrder: answer } = await client.request(RECEIVE, { input });
      attempt.settled();
      attemptNote.textContent = '';
      editable(true);
      if (answer.userErrors.length) {
        showErrors(form, answer.userErrors, translate);
        button.disabled = false;
        return;
      }
      const receipt = answer.receipt;
      if (answer.purchaseOrder) root.querySelector('#status').innerHTML = badge(answer.purchaseOrder.status);
      root.querySelector('#result').innerHTML = `<p class="done" role="status">Received ${receipt ? esc(receipt.number) : ''}:
        the order is now ${badge(answer.purchaseOrder?.status ?? '')}. <a href="#/orders/${encodeURIComponent(po.id)}">Open the order</a></p>`;
      form.querySelectorAll('input, textarea').forEach((el) => { el.disabled = true; });
    } catch (e) {
      if (e instanceof NetworkError) {
        // Unknown outcome: the receipt may exist. Only the same input may go again, with the
        // same key (the service answers a repeat with the first result); other quantities
        // would be a second receipt, so the inputs are frozen until the user looks again.
        editable(false);
        attemptNote.innerHTML = `No answer (${esc(e.message)}). Press Receive again to retry with the same key,
          or <a href="#/orders/${encodeURIComponent(po.id)}">check the order</a> first.`;
      } else {
        attempt.settled();
        attemptNote.textContent = '';
        formError(form, e.message, e.code);
      }
      button.disabled = false;
    }
  });
  return () => {};
}

// --- Stock --------------------------------------------------------------------------------------

const LOCATIONS = `query Locations { inventoryLocations(first: 50) { nodes { id code name active } } }`;
const STOCK = `query Stock($filter: InventoryItemFilter, $after: String) {
  inventoryItems(first: 50, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id onHand onOrder available reserved backordered minimum bin product { sku description unitOfMeasure } }
  }
}`;
const STOCK_CHANGES = `subscription StockChanges($locationId: ID) {
  inventoryItemChanged(locationId: $locationId) { inventoryItem { id onHand onOrder available reserved backordered } }
}`;

const stockCells = (item) => `<td class="num onhand">${esc(item.onHand)}</td><td class="num onorder">${esc(item.onOrder)}</td>
  <td class="num available">${esc(item.available)}</td><td class="num">${esc(item.reserved)}</td><td class="num">${esc(item.backordered)}</td>`;

export async function stock(root, { client, params, navigate }) {
  let locations;
  try {
    locations = (await client.request(LOCATIONS)).inventoryLocations.nodes;
  } catch (e) {
    problem(root, e);
    return () => {};
  }
  const locationId = params.get('location') ?? locations[0]?.id ?? '';
  const search = params.get('q') ?? '';
  root.innerHTML = `
    <section class="stock">
      <div class="heading"><h1>Stock</h1><span class="live" id="live"></span></div>
      <form class="filters" id="stock-filters">
        <label>Location <select name="location">${locations.map((l) => `<option value="${esc(l.id)}" ${l.id === locationId ? 'selected' : ''}>
          ${esc(l.code)} · ${esc(l.name)}${l.active ? '' : ' (inactive)'}</option>`).join('')}</select></label>
        <label>Search <input name="q" type="search" value="${esc(search)}" placeholder="SKU or description"></label>
        <button type="submit">Show</button>
      </form>
      <table class="items"><thead><tr><th>SKU</th><th>Description</th><th>Bin</th><th class="num">On hand</th><th class="num">On order</th>
        <th class="num">Available</th><th class="num">Reserved</th><th class="num">Backordered</th></tr></thead><tbody></tbody></table>
      <p class="muted" id="count"></p>
      <button type="button" id="more" hidden>Load more</button>
    </section>`;
  const form = root.querySelector('#stock-filters');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) next.set(key, value);
    navigate(`#/stock?${next}`);
  });
  form.elements.location.addEventListener('change', () => form.requestSubmit());
  const tbody = root.querySelector('tbody');
  const more = root.querySelector('#more');
  const filter = { locationId };
  if (search) filter.search = search;
  let cursor = null;
  async function load(after) {
    const page = (await client.request(STOCK, { filter, after })).inventoryItems;
    if (!after) tbody.innerHTML = '';
    tbody.insertAdjacentHTML('beforeend', page.nodes.map((item) => `<tr data-item-id="${esc(item.id)}">
      <td><b>${esc(item.product.sku)}</b></td><td>${esc(item.product.description)}</td><td>${dash(item.bin)}</td>${stockCells(item)}</tr>`).join(''));
    if (!tbody.children.length) tbody.innerHTML = '<tr><td colspan="8" class="muted">No stock here.</td></tr>';
    root.querySelector('#count').textContent = `${tbody.querySelectorAll('[data-item-id]').length} of ${page.totalCount} items`;
    cursor = page.pageInfo.endCursor;
    more.hidden = !page.pageInfo.hasNextPage;
  }
  more.addEventListener('click', () => load(cursor).catch((e) => problem(root, e)));
  const stopStatus = liveIndicator(client, root.querySelector('#live'));
  let first = true;
  const stop = client.subscribe(STOCK_CHANGES, { locationId }, {
    onLive: () => { if (!first) load().catch(() => {}); first = false; },
    onNext: ({ inventoryItemChanged: { inventoryItem: item } }) => {
      const row = tbody.querySelector(`tr[data-item-id="${CSS.escape(item.id)}"]`);
      if (!row) { load().catch(() => {}); return; }
      row.querySelectorAll('td.num').forEach((td) => td.remove());
      row.insertAdjacentHTML('beforeend', stockCells(item));
      row.classList.add('changed');
    },
  });
  try {
    await load(null);
  } catch (e) {
    problem(root, e);
  }
  return () => { stop(); stopStatus(); };
}

// --- New order ----------------------------------------------------------------------------------

const CHOICES = `query OrderChoices {
  vendors(first: 50, filter: { active: true }, sort: { field: NAME, direction: ASC }) { nodes { id code name } }
  inventoryLocations(first: 50, filter: { active: true }) { nodes { id code name } }
  purchaseOrderTypes(first: 50, filter: { active: true }) { nodes { id name } }
  businessUnits(first: 50, filter: { active: true }) { nodes { id name } }
  products(first: 50, filter: { active: true }) { nodes { id sku description defaultUnitCost } }
}`;
const CREATE = `mutation Create($input: CreatePurchaseOrderInput!) {
  createPurchaseOrder(input: $input) {
    purchaseOrder { id number status }
    userErrors { code field message }
  }
}`;

export async function newOrder(root, { client, navigate }) {
  let choices;
  try {
    choices = await client.request(CHOICES);
  } catch (e) {
    problem(root, e);
    return () => {};
  }
  const options = (nodes, label) => `<option value="">Choose…</option>${nodes.map((n) =>
    `<option value="${esc(n.id)}">${esc(label(n))}</option>`).join('')}`;
  const productOptions = options(choices.products.nodes, (p) => `${p.sku} · ${p.description}`);
  root.innerHTML = `
    <section class="new-order">
      <h1>New purchase order</h1>
      <form id="order-form" novalidate>
        <ul class="form-errors" hidden></ul>
        <div class="row">
          <label>Vendor <select name="vendorId" data-field="input.vendorId">${options(choices.vendors.nodes, (v) => `${v.name} (${v.code})`)}</select></label>
          <label>Ship to <select name="shipToId" data-field="input.shipToId">${options(choices.inventoryLocations.nodes, (l) => `${l.code} · ${l.name}`)}</select></label>
          <label>Type <select name="typeId" data-field="input.typeId">${options(choices.purchaseOrderTypes.nodes, (t) => t.name)}</select></label>
          <label>Business unit <select name="businessUnitId" data-field="input.businessUnitId">${options(choices.businessUnits.nodes, (b) => b.name)}</select></label>
        </div>
        <div class="row">
          <label>Expected <input name="expectedDate" type="date" data-field="input.expectedDate"></label>
          <label class="wide">Memo <input name="memo" data-field="input.memo"></label>
        </div>
        <table class="lines"><thead><tr><th>Product</th><th>Quantity</th><th>Unit cost</th><th></th></tr></thead><tbody></tbody></table>
        <div class="actions">
          <button type="button" id="add-line">Add line</button>
          <button type="submit" id="create-order">Create order</button>
        </div>
      </form>
    </section>`;
  const form = root.querySelector('#order-form');
  const tbody = form.querySelector('tbody');
  const renumber = () => tbody.querySelectorAll('tr').forEach((tr, i) => {
    tr.dataset.field = `input.lines.${i}`;
    tr.querySelector('[name=productId]').dataset.field = `input.lines.${i}.productId`;
    tr.querySelector('[name=quantity]').dataset.field = `input.lines.${i}.quantity`;
    tr.querySelector('[name=unitCost]').dataset.field = `input.lines.${i}.unitCost`;
  });
  const addLine = () => {
    tbody.insertAdjacentHTML('beforeend', `<tr>
      <td><select name="productId" aria-label="Product">${productOptions}</select></td>
      <td><input name="quantity" inputmode="decimal" size="8" aria-label="Quantity"></td>
      <td><input name="unitCost" inputmode="decimal" size="8" placeholder="default" aria-label="Unit cost"></td>
      <td><button type="button" class="remove" aria-label="Remove line">✕</button></td></tr>`);
    renumber();
  };
  addLine();
  form.querySelector('#add-line').addEventListener('click', addLine);
  tbody.addEventListener('click', (event) => {
    if (event.target.matches('.remove') && tbody.children.length > 1) {
      event.target.closest('tr').remove();
      renumber();
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const get = (name) => form.elements[name].value.trim();
    const input = {
      vendorId: get('vendorId'), shipToId: get('shipToId'), typeId: get('typeId'), businessUnitId: get('businessUnitId'),
    };
    if (get('expectedDate')) input.expectedDate = get('expectedDate');
    if (get('memo')) input.memo = get('memo');
    const local = [];
    // Required choices: the API cannot even parse an input without them, so they are checked here.
    for (const name of ['vendorId', 'shipToId', 'typeId', 'businessUnitId']) {
      if (!input[name]) local.push({ code: 'INVALID_INPUT', field: ['input', name], message: 'choose one' });
    }
    input.lines = [...tbody.querySelectorAll('tr')].map((tr, i) => {
      const line = { locationId: input.shipToId, quantity: tr.querySelector('[name=quantity]').value.trim() };
      const product = tr.querySelector('[name=productId]').value;
      const unitCost = tr.querySelector('[name=unitCost]').value.trim();
      if (product) line.productId = product;
      else local.push({ code: 'INVALID_INPUT', field: ['input', 'lines', String(i), 'productId'], message: 'choose a product' });
      if (!DECIMAL.test(line.quantity)) local.push({ code: 'INVALID_INPUT', field: ['input', 'lines', String(i), 'quantity'], message: 'not a number' });
      if (unitCost) {
        if (DECIMAL.test(unitCost)) line.unitCost = unitCost;
        else local.push({ code: 'INVALID_INPUT', field: ['input', 'lines', String(i), 'unitCost'], message: 'not a number' });
      }
      return line;
    });
    // A line's location is the ship-to here, so its errors belong next to the ship-to choice.
    const translate = (path) => (path[3] === 'locationId' ? ['input', 'shipToId'] : path);
    if (local.length) { showErrors(form, local, translate); return; }
    const button = form.querySelector('#create-order');
    button.disabled = true;
    try {
      const { createPurchaseOrder: answer } = await client.request(CREATE, { input });
      if (answer.userErrors.length) {
        showErrors(form, answer.userErrors, translate);
        button.disabled = false;
        return;
      }
      navigate(`#/orders/${encodeURIComponent(answer.purchaseOrder.id)}`);
    } catch (e) {
      clearErrors(form);
      formError(form, e.message, e.code);
      button.disabled = false;
    }
  });
  return () => {};
}
