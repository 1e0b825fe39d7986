// Fuzzing handle(): random bytes, mutated frames, mutated DHCP payloads in
// valid frames (so they get past the checksums), and well-formed requests
// from strangers aimed at other clients' addresses. The service never
// throws, never fails internally, and never changes a lease it should not:
// the bound leases of the clients that are not sending stay as they were.
import t from 'tap';
import fc from 'fast-check';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, encodeDhcpMessage } from '../../../protocols/dhcp/index.js';
import { BROADCAST_IPV4, BROADCAST_MAC, buildUdpFrame } from '../../../protocols/packet/index.js';
import { createDhcpService } from '../../../src/dhcp/index.js';
import { keyOf } from '../../../src/model/index.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { put } from '../../../src/store/store.js';
import { frame, mac, message, parseReply, quiet, testNetwork, type MessageType } from './client.js';

const NET = 'acme/web';
const KNOWN = [mac(1), mac(2), mac(3)];
const types: MessageType[] = ['DISCOVER', 'REQUEST', 'DECLINE', 'RELEASE', 'INFORM', 'OFFER', 'ACK', 'NAK'];

t.test('fuzzed packets never throw and never touch the leases of others', async (t) => {
  const store = await openSqliteStore(':memory:');
  const network = testNetwork();
  await store.commit([put('network', keyOf('network', network), network)]);
  const dhcp = createDhcpService({ store, log: quiet, sweepIntervalMs: 0, rateLimit: { burst: 1e9 } });
  t.teardown(async () => {
    await dhcp.close();
    await store.close();
  });
  const handle = (f: Uint8Array) => dhcp.handle({ network: NET, host: 'hv1', port: 'p', frame: f });

  const ips: string[] = [];
  for (const m of KNOWN) {
    const [offer] = (await handle(frame('DISCOVER', { mac: m })))!.map(parseReply);
    const held = offer!.message.yiaddr;
    await handle(frame('REQUEST', { mac: m, serverId: '192.0.2.1', requestedIp: held }));
    ips.push(held);
  }
  const before = await Promise.all(ips.map((ip) => store.get('lease', `${NET}/${ip}`)));
  t.same(before.map((l) => l?.value.state), ['bound', 'bound', 'bound']);

  const stranger = fc.integer({ min: 100, max: 10_000 }).map(mac);
  const target = fc.oneof(fc.constantFrom(...ips), fc.integer({ min: 0, max: 255 }).map((n) => `192.0.2.${n}`), fc.constant('203.0.113.7'));
  const wellFormed = fc.record({
    type: fc.constantFrom(...types), mac: stranger, ip: target, other: target, broadcast: fc.boolean(),
    serverId: fc.constantFrom(undefined, '192.0.2.1', '192.0.2.254'), giaddr: fc.constantFrom(undefined, '192.0.2.1', '203.0.113.1'),
    clientId: fc.constantFrom(undefined, '01aa', '00'),
  }).map((r) => frame(r.type, {
    mac: r.mac, ciaddr: r.ip, requestedIp: r.other, broadcast: r.broadcast,
    ...(r.serverId ? { serverId: r.serverId } : {}), ...(r.giaddr ? { giaddr: r.giaddr } : {}), ...(r.clientId ? { clientId: r.clientId } : {}),
  }));
  const mutate = (bytes: Uint8Array) =>
    fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).chain((flips) =>
      fc.integer({ min: 0, max: bytes.length }).map((cut) => {
        const out = Uint8Array.from(bytes);
        for (const [i, v] of flips) out[i] = v;
        return out.subarray(0, Math.max(cut, bytes.length - 20));
      }));
  const base = fc.constantFrom(...types).chain((type) => stranger.map((m) => message(type, { mac: m, requestedIp: ips[0]!, ciaddr: ips[1]!, serverId: '192.0.2.1' })));
  const mutatedPayload = base.chain((m) => mutate(encodeDhcpMessage(m))).map((payload) =>
    buildUdpFrame({ ethSrc: '02:00:5e:00:99:99', ethDst: BROADCAST_MAC, ipSrc: '0.0.0.0', ipDst: BROADCAST_IPV4, srcPort: DHCP_CLIENT_PORT, dstPort: DHCP_SERVER_PORT, payload }));
  const mutatedFrame = wellFormed.chain((f) => mutate(f));
  const packet = fc.oneof(fc.uint8Array({ maxLength: 700 }), mutatedFrame, mutatedPayload, wellFormed);

  await fc.assert(
    fc.asyncProperty(fc.array(packet, { minLength: 1, maxLength: 20 }), async (frames) => {
      const out = await Promise.all(frames.map((f) => handle(f)));
      for (const o of out) if (o !== undefined && !Array.isArray(o)) throw new Error('handle returned a non-array');
    }),
    { numRuns: 300 },
  );

  const after = await Promise.all(ips.map((ip) => store.get('lease', `${NET}/${ip}`)));
  t.same(after, before, 'the leases of the clients that kept quiet are unchanged, revision and all');
  t.equal(dhcp.stats().errors, 0, 'no internal failure');
  t.ok(dhcp.stats().malformed > 0, 'malformed packets were counted');
  t.ok(dhcp.stats().offers > 0, 'well-formed strangers were still served');
  const report = await store.check();
  t.ok(report.ok, report.problems.join('; '));
});
