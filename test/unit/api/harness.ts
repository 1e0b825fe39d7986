// An API plane on a real SQLite store in a temp dir, listening on a free
// loopback port, for in-process tests of the methods and transports.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiPlane, type ApiPlane } from '../../../src/api/index.js';
import type { ApiOptions } from '../../../src/api/index.js';
import { HttpClient, WsClient } from '../../../src/api/client.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/store.js';

export const quiet = { info() {}, warn() {}, debug() {}, error() {} };

export interface TestApi {
  api: ApiPlane;
  store: Store;
  dir: string;
  url: string;
  adminToken: string;
  http(token?: string): HttpClient;
  ws(token?: string): Promise<WsClient>;
  close(): Promise<void>;
}

export async function startApi(options: Partial<ApiOptions> = {}, dir = mkdtempSync(join(tmpdir(), 'weft-api-'))): Promise<TestApi> {
  const store = await openSqliteStore(join(dir, 'weft.db'));
  const api = createApiPlane({
    store,
    dataDir: dir,
    listen: { host: '127.0.0.1', port: 0 },
    version: '0.0.0-test',
    log: quiet,
    registry: { checkResults: true },
    ...options,
  });
  await api.start();
  const url = api.url();
  const adminToken = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const clients: { close(): Promise<void> }[] = [];
  return {
    api,
    store,
    dir,
    url,
    adminToken,
    http(token = adminToken) {
      const c = new HttpClient({ url, token });
      clients.push(c);
      return c;
    },
    async ws(token = adminToken) {
      const c = await WsClient.connect({ url, token });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) await c.close().catch(() => undefined);
      await api.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ApiEvent {
  kind: string;
  key: string;
  action: string;
  value: Record<string, unknown>;
}

/**
 * A WebSocket client on a new token of `tenant`, subscribed to events with
 * `params`: the token, the events as they come, and a wait (up to 5 s) for
 * the first `n`.
 */
export async function subscriber(api: TestApi, tenant: string, params: object): Promise<{ secret: string; seen: ApiEvent[]; until(n: number): Promise<void> }> {
  const { secret } = await api.http().call<{ secret: string }>('token.create', { tenant });
  const ws = await api.ws(secret);
  const seen: ApiEvent[] = [];
  ws.onNotification((method, p) => {
    if (method === 'event') seen.push(p as ApiEvent);
  });
  await ws.call('events.subscribe', params);
  return {
    secret,
    seen,
    async until(n) {
      const deadline = Date.now() + 5000;
      while (seen.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

/** Everything the store holds, for "nothing changed" assertions. */
export async function snapshot(store: Store): Promise<string> {
  const kinds = ['tenant', 'network', 'reservation', 'host', 'port', 'lease', 'token'] as const;
  const all: Record<string, unknown> = {};
  for (const k of kinds) all[k] = (await store.list(k)).map((o) => [o.key, o.revision, o.value]);
  return JSON.stringify(all);
}
