// 1,000 generated malformed requests (wrong types, missing fields, huge
// strings, deep nesting, invalid JSON, oversized bodies, bad batches, broken
// envelopes), over HTTP and WebSocket: each gets a proper JSON-RPC error, the
// daemon keeps serving, and the store is unchanged.
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { WebSocket } from 'ws';
import { snapshot, startApi, type TestApi } from './harness.js';

const KNOWN_CODES = new Set([-32700, -32600, -32601, -32602, -32000, -32001, -32002, -32003, -32004, -32005]);

let api: TestApi;
t.before(async () => {
  api = await startApi();
  await api.http().call('apply', { manifest: { tenant: 'acme', networks: [{ name: 'web', vlan: 11, subnets: [{ cidr: '192.0.2.0/24' }] }] } });
});
t.teardown(() => api.close());

const methods = ['tenant.create', 'tenant.get', 'tenant.delete', 'network.create', 'network.update', 'network.delete', 'reservation.create', 'token.create', 'token.revoke', 'apply', 'status', 'events.subscribe', 'nope.nope', ''];
const fields = ['name', 'tenant', 'network', 'vlan', 'vni', 'mtu', 'subnets', 'mac', 'ip', 'manifest', 'force', 'id', 'dryRun'];

/** A value of the wrong type for every field above. */
const wrongValue = fc.oneof(
  fc.integer().map((n) => ({ n })),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.anything(), { maxLength: 5 }),
  fc.double({ noInteger: true }).map((x) => [x]),
);
const hugeString = fc.nat({ max: 300_000 }).map((n) => 'x'.repeat(n + 1000));
// Nesting is spliced into the text after stringifying: JSON.stringify itself would overflow the stack.
const deep = fc.integer({ min: 1000, max: 100_000 }).map((d) => `__DEEP_${d}__`);
const render = (value: unknown) => JSON.stringify(value).replace(/"__DEEP_(\d+)__"/g, (_m, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
const wrongTypes = fc.record({
  method: fc.constantFrom(...methods),
  params: fc.dictionary(fc.constantFrom(...fields), fc.oneof(wrongValue, hugeString, deep), { minKeys: 1 }),
});
/** Strict params: an unknown key makes any params invalid, whatever else is there. */
const unknownKey = fc.record({
  method: fc.constantFrom(...methods),
  params: fc.dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 3 })).map((p) => ({ ...p, __junk: 1 })),
});
const notAnObject = fc.record({ method: fc.constantFrom(...methods), params: fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 4 })) });

let nextId = 1;
const call = (r: { method: string; params: unknown }) => ({ jsonrpc: '2.0', id: nextId++, method: r.method, params: r.params });
const request = fc.oneof(wrongTypes, unknownKey, notAnObject).map(call);

const brokenEnvelope = fc.oneof(
  // undefined has no JSON text: JSON.stringify would give no body at all.
  fc.anything({ maxDepth: 2 }).filter((x) => x !== undefined && (typeof x !== 'object' || x === null || Array.isArray(x))),
  fc.record({ jsonrpc: fc.constantFrom('1.0', 2, null, '2.00'), id: fc.integer(), method: fc.constant('status') }),
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.integer(), method: fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string())) }),
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.object(), fc.array(fc.integer()), fc.boolean()), method: fc.constant('status') }),
  fc.record({ jsonrpc: fc.constant('2.0'), method: fc.constant('tenant.create'), params: fc.constant({ name: 'zz' }), id: fc.integer(), result: fc.anything().filter((x) => x !== undefined) }),
);

interface Message {
  body: string;
  transport: 'http' | 'ws';
  what: string;
}

const message: fc.Arbitrary<Message> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(request, fc.constantFrom<'http' | 'ws'>('http', 'ws')).map(([r, transport]) => ({ body: render(r), transport, what: 'bad params' })) },
  { weight: 2, arbitrary: fc.tuple(brokenEnvelope, fc.constantFrom<'http' | 'ws'>('http', 'ws')).map(([r, transport]) => ({ body: JSON.stringify(r), transport, what: 'bad envelope' })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(fc.string(), request.map((r) => render(r)).chain((s) => fc.nat({ max: s.length - 1 }).map((n) => s.slice(0, n)))), fc.constantFrom<'http' | 'ws'>('http', 'ws'))
      .filter(([s]) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      })
      .map(([body, transport]) => ({ body, transport, what: 'invalid JSON' })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constant([]), fc.array(fc.oneof(request, brokenEnvelope), { minLength: 1, maxLength: 20 }), fc.array(request, { minLength: 101, maxLength: 150 })),
        fc.constantFrom<'http' | 'ws'>('http', 'ws'),
      )
      .map(([batch, transport]) => ({ body: render(batch), transport, what: 'bad batch' })),
  },
  { weight: 1, arbitrary: fc.integer({ min: (1 << 20) + 1, max: (1 << 20) + 200_000 }).map((n) => ({ body: `{"jsonrpc":"2.0","id":1,"method":"status","params":{"x":"${'y'.repeat(n)}"}}`, transport: 'http' as const, what: 'oversized' })) },
  // Anything over the limit is sent over HTTP, which answers it; a WebSocket is closed instead (tested below).
).map((m) => (Buffer.byteLength(m.body) > 1 << 20 ? { ...m, transport: 'http' as const, what: 'oversized' } : m));

function checkError(_t: Test, value: unknown, what: string): void {
  const e = value as { jsonrpc?: string; error?: { code?: number; message?: string }; result?: unknown };
  if (e?.jsonrpc !== '2.0' || !e.error || typeof e.error.message !== 'string' || !KNOWN_CODES.has(e.error.code as number) || 'result' in e) {
    throw new Error(`${what}: not a proper JSON-RPC error: ${JSON.stringify(value).slice(0, 300)}`);
  }
}

function wsOpen(url: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/rpc', { headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function wsExchange(ws: WebSocket, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer on the WebSocket')), 10_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(data.toString());
    });
    ws.send(body);
  });
}

t.test('every malformed request gets a JSON-RPC error; the daemon serves on; the store is unchanged', async (t) => {
  const before = await snapshot(api.store);
  const http = api.http();
  const ws = await wsOpen(api.url, api.adminToken);
  const counts: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(message, async (m) => {
      counts[m.what] = (counts[m.what] ?? 0) + 1;
      let text: string;
      if (m.transport === 'http') {
        const r = await http.post(m.body);
        if (m.what === 'oversized' && r.status !== 413) throw new Error(`oversized body answered HTTP ${r.status}`);
        text = r.body;
      } else {
        text = await wsExchange(ws, m.body);
      }
      const answer = JSON.parse(text) as unknown;
      if (Array.isArray(answer)) {
        if (answer.length === 0) throw new Error('empty batch answer');
        for (const a of answer) checkError(t, a, m.what);
      } else checkError(t, answer, m.what);
    }),
    { numRuns: 1000 },
  );
  t.comment(JSON.stringify(counts));
  t.equal(ws.readyState, WebSocket.OPEN, 'the WebSocket is still open');
  ws.close();
  t.match(await api.http().call('status'), { version: '0.0.0-test' }, 'the daemon still serves');
  t.equal(await snapshot(api.store), before, 'the store is unchanged');
});

t.test('an oversized WebSocket message closes that connection only', async (t) => {
  const ws = await wsOpen(api.url, api.adminToken);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => undefined);
  ws.send('x'.repeat((1 << 20) + 1));
  t.equal(await closed, 1009, 'closed with 1009 (message too big)');
  t.match(await api.http().call('status'), { version: '0.0.0-test' });
});

t.test('a batch of 100 is served, 101 is refused whole', async (t) => {
  const http = api.http();
  const batch = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tenant.get', params: { name: 'acme' } })));
  const ok = JSON.parse((await http.post(batch(100))).body) as unknown[];
  t.equal(ok.length, 100);
  t.match(JSON.parse((await http.post(batch(101))).body), { error: { code: -32600 } });
});
