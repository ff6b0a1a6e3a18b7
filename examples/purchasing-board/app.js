// The purchasing board: a hash-routed single page on stockgraph's public graph.
import { createClient } from './graphql.js';
import { board, order, receive, stock, newOrder } from './views.js';

const TOKEN_KEY = 'stockgraph:token';

// The token lives in sessionStorage (this tab only, gone when it closes). `serve --demo` on
// loopback puts its demo token in the page's <meta>, which is used until the user sets one.
const demoToken = document.querySelector('meta[name="stockgraph-demo-token"]')?.content ?? '';
const token = () => sessionStorage.getItem(TOKEN_KEY) || demoToken;
const client = createClient({ token });

const routes = [
  [/^\/?$/, (root, ctx) => board(root, ctx), 'board'],
  [/^\/orders\/new$/, (root, ctx) => newOrder(root, ctx), 'new'],
  [/^\/orders\/([^/]+)\/receive$/, (root, ctx, id) => receive(root, { ...ctx, id }), 'board'],
  [/^\/orders\/([^/]+)$/, (root, ctx, id) => order(root, { ...ctx, id }), 'board'],
  [/^\/stock$/, (root, ctx) => stock(root, ctx), 'stock'],
];

let leave = () => {};
let generation = 0;

async function show() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const root = document.getElementById('view');
  leave();
  leave = () => {};
  const mine = ++generation;
  const route = routes.find(([pattern]) => pattern.test(path));
  if (!route) {
    root.innerHTML = '<p class="problem">No such page. <a href="#/">Back to the board</a></p>';
    return;
  }
  const [pattern, view, nav] = route;
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('current', link.dataset.nav === nav);
  }
  const id = decodeURIComponent(path.match(pattern)[1] ?? '');
  const ctx = { client, params: new URLSearchParams(query), navigate };
  const cleanup = await view(root, ctx, id);
  // The user may have moved on while the view loaded: end what it started.
  if (mine === generation) leave = cleanup ?? (() => {});
  else cleanup?.();
}

function navigate(hash) {
  if (location.hash === hash) show();
  else location.hash = hash;
}

function showTokenState() {
  const state = document.getElementById('token-state');
  if (sessionStorage.getItem(TOKEN_KEY)) state.textContent = 'your token';
  else if (demoToken) state.textContent = 'demo token';
  else state.textContent = 'no token';
  state.dataset.token = sessionStorage.getItem(TOKEN_KEY) ? 'user' : demoToken ? 'demo' : 'none';
}

document.getElementById('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('token-input');
  const value = input.value.trim().replace(/^Bearer\s+/i, '');
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  input.value = '';
  showTokenState();
  client.reconnect();
  show();
});

window.addEventListener('hashchange', show);
showTokenState();
show();
