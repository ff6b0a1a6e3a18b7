// A small client for the public graph: queries and mutations over HTTP POST /graphql, and
// subscriptions over the graphql-transport-ws protocol at /graphql/ws. No dependencies.

/** A GraphQL answer with request-level `errors`: the operation did not run as asked. */
export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join('; '));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
  }
}

/**
 * The outcome is unknown (no answer, or a 5xx): a mutation may or may not have committed, so
 * it must be retried with the same idempotency key.
 */
export class NetworkError extends Error {}

export function createClient({ endpoint = '/graphql', wsPath = '/graphql/ws', token }) {
  async function request(query, variables = {}) {
    let response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(token() ? { authorization: `Bearer ${token()}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch (e) {
      throw new NetworkError(`the service did not answer (${e.message})`);
    }
    let body;
    try {
      body = await response.json();
    } catch {
      throw new NetworkError(`the service answered ${response.status} without a GraphQL body`);
    }
    if (response.status >= 500 && !body?.data) {
      throw new NetworkError(body?.errors?.[0]?.message ?? `the service answered ${response.status}`);
    }
    if (body.errors?.length) throw new GraphQLError(body.errors);
    return body.data;
  }

  // --- graphql-transport-ws -----------------------------------------------------------------
  // One socket, opened while at least one subscription is active; subscriptions survive a
  // dropped connection (they are sent again once the new socket is acknowledged).
  const subscriptions = new Map();
  const statusListeners = new Set();
  let socket = null;
  let acknowledged = false;
  let nextId = 1;
  let retries = 0;
  let retryTimer = null;
  let status = 'idle';

  function setStatus(next, detail = '') {
    status = next;
    for (const listener of statusListeners) listener(next, detail);
  }

  function send(message) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function connect() {
    if (socket || !subscriptions.size) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${wsPath}`;
    const ws = new WebSocket(url, 'graphql-transport-ws');
    socket = ws;
    acknowledged = false;
    setStatus('connecting');
    ws.onopen = () => {
      ws.send(JSON.stringify({
        type: 'connection_init',
        payload: token() ? { authorization: `Bearer ${token()}` } : {},
      }));
    };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      const sub = subscriptions.get(message.id);
      switch (message.type) {
        case 'connection_ack':
          acknowledged = true;
          retries = 0;
          for (const [id, s] of subscriptions) {
            send({ type: 'subscribe', id, payload: { query: s.query, variables: s.variables } });
          }
          setStatus('live');
          for (const s of subscriptions.values()) s.onLive?.();
          break;
        case 'ping':
          send({ type: 'pong' });
          break;
        case 'next':
          if (sub) {
            if (message.payload?.errors?.length) sub.onError?.(new GraphQLError(message.payload.errors));
            else sub.onNext(message.payload.data);
          }
          break;
        case 'error':
          if (sub) {
            subscriptions.delete(message.id);
            sub.onError?.(new GraphQLError(message.payload ?? [{ message: 'subscription refused' }]));
          }
          break;
        case 'complete':
          subscriptions.delete(message.id);
          break;
        default:
          break;
      }
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      acknowledged = false;
      if (event.code === 4401 || event.code === 4403) {
        // The token is missing, bad or expired: retrying with it cannot help.
        setStatus('refused', event.reason || 'the token was refused');
        return;
      }
      if (!subscriptions.size) { setStatus('idle'); return; }
      retries += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(retries, 5));
      setStatus('reconnecting', `connection lost (${event.code}); retrying`);
      retryTimer = setTimeout(() => { retryTimer = null; connect(); }, delay);
    };
  }

  /**
   * Starts a subscription; `onNext(data)` gets each event, `onLive()` runs each time the
   * connection is (re)acknowledged, so a screen can fetch what it may have missed meanwhile.
   * Returns the function that ends it.
   */
  function subscribe(query, variables, { onNext, onError, onLive }) {
    const id = String(nextId++);
    subscriptions.set(id, { query, variables, onNext, onError, onLive });
    if (socket && acknowledged) {
      send({ type: 'subscribe', id, payload: { query, variables } });
      onLive?.();
    } else {
      connect();
    }
    return () => {
      if (!subscriptions.delete(id)) return;
      if (acknowledged) send({ type: 'complete', id });
      if (!subscriptions.size && socket) {
        const ws = socket;
        socket = null;
        acknowledged = false;
        ws.close(1000, 'no subscriptions left');
        setStatus('idle');
      }
    };
  }

  /** Closes the socket (e.g. after the token changed); active subscriptions reconnect. */
  function reconnect() {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    if (socket) { const ws = socket; socket = null; ws.close(1000, 'token changed'); }
    retries = 0;
    connect();
  }

  function onStatus(listener) {
    statusListeners.add(listener);
    listener(status);
    return () => statusListeners.delete(listener);
  }

  return { request, subscribe, onStatus, reconnect };
}
