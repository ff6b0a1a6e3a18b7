// Subscribes with the real graphql-ws client, drives two transitions over HTTP, and checks the
// events arrive in order; then checks a bad token is closed with 4403 and none with 4401.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [base, token] = process.argv.slice(2);
const ws = base.replace('http', 'ws') + '/graphql/ws';
const fail = (message) => { console.error(`graphql-ws interop: ${message}`); process.exit(1); };
setTimeout(() => fail('timed out'), 30000).unref();

async function post(query) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  const body = await response.json();
  if (body.errors) fail(JSON.stringify(body.errors));
  return body.data;
}

function closeCode(connectionParams) {
  return new Promise((resolve) => {
    const client = createClient({ url: ws, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0 });
    client.subscribe({ query: 'subscription { purchaseOrderStatusChanged { status } }' }, {
      next: () => fail('an unauthenticated subscription got data'),
      error: (e) => resolve(e.code),
      complete: () => resolve('complete'),
    });
  });
}

const created = await post(`mutation { createPurchaseOrder(input: {
  vendorId: "gid://stockgraph/Vendor/1", shipToId: "gid://stockgraph/InventoryLocation/1",
  typeId: "gid://stockgraph/PurchaseOrderType/1", businessUnitId: "gid://stockgraph/BusinessUnit/1",
  lines: [{ productId: "gid://stockgraph/Product/1", locationId: "gid://stockgraph/InventoryLocation/1", quantity: "3" }] })
  { purchaseOrder { id number } userErrors { code message } } }`);
const po = created.createPurchaseOrder.purchaseOrder;
if (!po) fail(JSON.stringify(created));

const client = createClient({ url: ws, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
const seen = [];
const done = new Promise((resolve) => {
  client.subscribe(
    { query: 'subscription($id: ID) { purchaseOrderStatusChanged(purchaseOrderId: $id) { previousStatus status purchaseOrder { number } } }', variables: { id: po.id } },
    {
      next: ({ data, errors }) => {
        if (errors) fail(JSON.stringify(errors));
        seen.push(data.purchaseOrderStatusChanged.status);
        if (seen.length === 2) resolve();
      },
      error: (e) => fail(`subscription error ${JSON.stringify(e)}`),
      complete: () => {},
    },
  );
});
await new Promise((r) => setTimeout(r, 500));
await post(`mutation { submitPurchaseOrder(input: { purchaseOrderId: "${po.id}" }) { userErrors { code } } }`);
await post(`mutation { cancelPurchaseOrder(input: { purchaseOrderId: "${po.id}" }) { userErrors { code } } }`);
await done;
if (seen.join(',') !== 'SUBMITTED,CANCELED') fail(`events ${seen}`);
await client.dispose();

const bad = await closeCode({ authorization: 'Bearer not-a-token' });
if (bad !== 4403) fail(`a bad token closed with ${bad}, not 4403`);
const none = await closeCode({});
if (none !== 4401) fail(`no token closed with ${none}, not 4401`);
console.log(`graphql-ws interop: ${po.number} SUBMITTED, CANCELED delivered; 4403 and 4401 on bad and missing tokens`);
process.exit(0);
