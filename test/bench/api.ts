// `npm run bench -- api`: the admin API under load, against a real
// `weft serve` in its own process (as operators' scripts see it):
// network.get calls per second and p50/p99 latency over one WebSocket with
// pipelined calls and over one HTTP keep-alive connection, and the time to
// apply a 100-network manifest.
import { WebSocket } from 'ws';
import { HttpClient } from '../../src/api/client.js';
import { serve } from '../harness/daemon.js';
import { quantiles, withBenchDir } from './stats.js';

const WS_CALLS = 100_000;
const WS_WINDOW = 256;
const HTTP_CALLS = 10_000;

function summary(latencies: Float64Array, seconds: number, errors: number) {
  const at = quantiles(latencies);
  return { calls: latencies.length, callsPerSecond: Math.round(latencies.length / seconds), p50Ms: at(0.5), p99Ms: at(0.99), errors };
}

/** `calls` network.get calls over one WebSocket, at most `window` in flight. */
async function overWebSocket(url: string, token: string, calls: number, window: number) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/rpc`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const latencies = new Float64Array(calls);
  const sentAt = new Float64Array(calls);
  let sent = 0;
  let done = 0;
  let errors = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const send = () => {
      const id = sent++;
      sentAt[id] = performance.now();
      ws.send(`{"jsonrpc":"2.0","id":${id},"method":"network.get","params":{"tenant":"bench","name":"web"}}`);
    };
    ws.on('message', (data) => {
      const now = performance.now();
      const r = JSON.parse(data.toString()) as { id: number; error?: unknown };
      latencies[r.id] = now - sentAt[r.id]!;
      if (r.error) errors++;
      if (++done === calls) return resolve();
      if (sent < calls) send();
    });
    while (sent < Math.min(window, calls)) send();
  });
  const seconds = (performance.now() - started) / 1000;
  ws.close();
  return { ...summary(latencies, seconds, errors), inFlight: window };
}

/** `calls` sequential network.get calls over one keep-alive HTTP connection. */
async function overHttp(url: string, token: string, calls: number) {
  const client = new HttpClient({ url, token });
  const latencies = new Float64Array(calls);
  let errors = 0;
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const r = await client.post(`{"jsonrpc":"2.0","id":${i},"method":"network.get","params":{"tenant":"bench","name":"web"}}`);
    latencies[i] = performance.now() - t0;
    if (r.status !== 200 || r.body.includes('"error"')) errors++;
  }
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  return summary(latencies, seconds, errors);
}

export function run(): Promise<unknown> {
  return withBenchDir('weft-bench-api-', async (dir) => {
    const daemon = await serve(dir);
    try {
      const url = daemon.api;
      const token = daemon.token();
      const admin = new HttpClient({ url, token });
      await admin.call('apply', {
        manifest: { tenant: 'bench', networks: [{ name: 'web', vlan: 11, subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.199' }] }] }] },
      });

      await overWebSocket(url, token, 10_000, WS_WINDOW); // warm-up: JIT, caches
      const websocket = await overWebSocket(url, token, WS_CALLS, WS_WINDOW);
      const websocketSerial = await overWebSocket(url, token, 5_000, 1);
      await overHttp(url, token, 1_000);
      const http = await overHttp(url, token, HTTP_CALLS);

      const networks = Array.from({ length: 100 }, (_, i) => ({
        name: `n${i}`,
        vlan: 1000 + i,
        subnets: [{ cidr: `198.18.${i}.0/24`, gateway: `198.18.${i}.1`, ranges: [{ start: `198.18.${i}.100`, end: `198.18.${i}.199` }] }],
        reservations: [{ mac: `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, ip: `198.18.${i}.10` }],
      }));
      const manifest = { tenant: 'big', networks };
      let t0 = performance.now();
      const applied = await admin.call<{ changes: unknown[] }>('apply', { manifest });
      const applyMs = performance.now() - t0;
      t0 = performance.now();
      const again = await admin.call<{ changes: unknown[] }>('apply', { manifest });
      const reapplyMs = performance.now() - t0;
      await admin.close();

      return {
        networkGet: { websocket, websocketOneAtATime: websocketSerial, httpKeepAlive: http },
        apply100Networks: { ms: Math.round(applyMs * 10) / 10, changes: applied.changes.length, reapplyMs: Math.round(reapplyMs * 10) / 10, reapplyChanges: again.changes.length },
      };
    } finally {
      await daemon.stop();
    }
  });
}
