// Runs every audit of the graphql-http suite (the GraphQL-over-HTTP spec's conformance checks)
// against the live /graphql, each request carrying the demo token, and fails unless every MUST
// and every SHOULD audit passes (MAY audits are reported, not required).
import { serverAudits } from 'graphql-http';

const [base, token] = process.argv.slice(2);
const url = `${base}/graphql`;
// The audits send no credentials; stockgraph answers every unauthenticated request with 401,
// so a fetch that adds the token is what the suite's `fetchFn` option is for.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
setTimeout(() => { console.error('graphql-http audit: timed out'); process.exit(1); }, 60000).unref();

const results = await Promise.all(serverAudits({ url, fetchFn }).map(({ fn }) => fn()));
const tally = {};
const failures = [];
for (const result of results) {
  const level = result.name.split(' ')[0];
  tally[level] ??= { ok: 0, total: 0 };
  tally[level].total += 1;
  if (result.status === 'ok') {
    tally[level].ok += 1;
  } else if (level !== 'MAY') {
    let body = '';
    try { body = await result.response.text(); } catch { /* already read by the audit */ }
    failures.push(`${result.id} ${result.name}: ${result.reason} (status ${result.response?.status}) ${body}`);
  } else {
    console.log(`(optional) ${result.id} ${result.name}: ${result.reason}`);
  }
}
for (const [level, { ok, total }] of Object.entries(tally)) console.log(`${level}: ${ok}/${total}`);
if (failures.length) {
  console.error(`graphql-http audit failed:\n${failures.join('\n')}`);
  process.exit(1);
}
console.log('graphql-http audit: every MUST and SHOULD audit passes');
