// dhcp.stats and status's dhcp line, with the real DHCP server on the API's
// store: a DORA through handle() shows up as one offer, one ACK, one lease
// write with its latency, and two answers timed.
import t, { type Test } from 'tap';
import { RpcError } from '../../../src/api/client.js';
import { ErrorCode } from '../../../src/api/errors.js';
import { createDhcpService, type DhcpService } from '../../../src/dhcp/index.js';
import { keyOf } from '../../../src/model/index.js';
import { put } from '../../../src/store/store.js';
import { frame, mac, parseReply, quiet, testNetwork } from '../dhcp-server/client.js';
import { startApi } from './harness.js';

const NET = 'acme/web';

async function setup(t: Test) {
  let service: DhcpService | undefined;
  const leaders = { leaders: () => [], flowWriters: () => [], replica: () => ({ replicaId: 'weft-1', election: false, leads: 0, peers: [] }) };
  const api = await startApi({ leaders, dhcp: { stats: () => service!.stats() } });
  const network = testNetwork();
  await api.store.commit([put('network', keyOf('network', network), network)]);
  service = createDhcpService({ store: api.store, log: quiet, sweepIntervalMs: 0 });
  t.teardown(async () => {
    await service!.close();
    await api.close();
  });
  const send = async (f: Buffer) => (await service!.handle({ network: NET, host: 'hv1', port: 'tap100i0', frame: f }))?.map(parseReply)[0];
  return { api, send };
}

t.test('a DORA is one offer, one ACK and one lease write, each timed', async (t) => {
  const { api, send } = await setup(t);
  const m = mac(1);
  const offer = await send(frame('DISCOVER', { mac: m }));
  const ack = await send(frame('REQUEST', { mac: m, serverId: '192.0.2.1', requestedIp: offer!.message.yiaddr }));
  t.equal(ack?.type, 'ACK');

  const s = await api.http().call<Record<string, any>>('dhcp.stats');
  t.match(s, { replicaId: 'weft-1', received: 2, offers: 1, acks: 1, naks: 0, writes: 1, conflicts: 0, storeErrors: 0, errors: 0 });
  t.same(s.paths, { 'discover-offer': 1, 'selecting-ack': 1 });
  t.equal(s.latency.leaseWrite.count, 1, 'the ACK\'s write, and only it: the offer is not stored');
  t.equal(s.latency.leaseWrite.buckets.length, 1);
  t.type(s.latency.leaseWrite.p99Ms, 'number');
  t.equal(s.latency.answer.count, 2, 'the OFFER and the ACK');
  t.ok(s.since <= Date.now());
});

t.test('status carries the short version for an admin token, and not for a tenant token', async (t) => {
  const { api, send } = await setup(t);
  await send(frame('DISCOVER', { mac: mac(2) }));
  const status = await api.http().call<{ dhcp?: Record<string, unknown> }>('status');
  t.match(status.dhcp, { offers: 1, acks: 0, naks: 0, answerP99Ms: Number });
  t.notOk('leaseWriteP99Ms' in status.dhcp!, 'no lease written yet: no percentile');

  await api.http().call('tenant.create', { name: 'acme' });
  const { secret } = await api.http().call<{ secret: string }>('token.create', { tenant: 'acme' });
  t.notOk('dhcp' in (await api.http(secret).call<object>('status')));
  await t.rejects(api.http(secret).call('dhcp.stats'), { code: ErrorCode.Forbidden }, 'the counters cover every tenant: admin only');
});

t.test('dhcp.stats takes no params, and names one it does not know', async (t) => {
  const { api } = await setup(t);
  const e = await api.http().call('dhcp.stats', { network: NET }).catch((x: unknown) => x);
  t.type(e, RpcError);
  t.equal((e as RpcError).code, ErrorCode.InvalidParams);
  t.same((e as RpcError).data?.issues, [{ path: 'network', message: 'unknown field' }]);
});

t.test('a daemon without a DHCP server answers not found', async (t) => {
  const api = await startApi();
  t.teardown(() => api.close());
  await t.rejects(api.http().call('dhcp.stats'), { code: ErrorCode.NotFound });
});
