// A client's lease belongs to the port it was bound on. The switch vouches
// for the ingress port, not for chaddr: a VM that names another VM's MAC
// (in chaddr, or also as its source MAC from a port not yet held to one)
// must neither take, renew, free nor decline that VM's address, nor bind a
// second address for its MAC, while the other VM's port is on its bridge. A
// VM that moved (its old port gone, or its MAC declared on its new port by
// the hypervisor) is served from the new port.
import t, { type Test } from 'tap';
import { getOption } from '../../../protocols/dhcp/index.js';
import { keyOf, type Lease } from '../../../src/model/index.js';
import {
  DEFAULT_TIMERS, LeaseTable, buildView, createDhcpService, decide, heldElsewhere, type Decision, type Ingress, type PortFacts,
} from '../../../src/dhcp/index.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { put } from '../../../src/store/store.js';
import { frame, lease, message, parseReply, quiet, testNetwork, type FrameSpec, type MessageType, type RequestSpec } from './client.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const VICTIM = '02:00:5e:00:00:0a';
const ATTACKER = '02:00:5e:00:00:0b';
const VICTIM_PORT: Ingress = { host: 'hv1', port: 'tap100i0' };
const ATTACKER_PORT: Ingress = { host: 'hv1', port: 'tap101i0' };
const ELSEWHERE: Ingress = { host: 'hv2', port: 'tap100i0' };
const IP = '192.0.2.120';
const SERVER = '192.0.2.1';

/** Ports as the fabric would report them. */
function facts(present: Record<string, boolean>, declared: Record<string, string> = {}): PortFacts {
  return {
    present: (host, port) => present[`${host}/${port}`],
    declaredMac: (host, port) => declared[`${host}/${port}`],
  };
}
const BOTH_THERE = facts({ 'hv1/tap100i0': true, 'hv1/tap101i0': true, 'hv2/tap100i0': true });

const victimLease = (fields: Partial<Lease> = {}): Lease =>
  lease({ ip: IP, mac: VICTIM, state: 'bound', expiresAt: NOW + HOUR, host: VICTIM_PORT.host, port: VICTIM_PORT.port, ...fields });

function run(leases: Lease[], type: MessageType, spec: RequestSpec, ingress: Ingress, ports?: PortFacts): Decision {
  const table = new LeaseTable();
  leases.forEach((l, i) => table.apply(l, i + 1));
  return decide({
    view: buildView(testNetwork(), []), leases: table, request: message(type, spec), ipBroadcast: true,
    ingress, now: NOW, timers: DEFAULT_TIMERS, ...(ports ? { ports } : {}),
  });
}

t.test('the decision: requests naming a client whose lease another present port holds change nothing and get no answer', async (t) => {
  const asks: [string, MessageType, RequestSpec][] = [
    ['DISCOVER', 'DISCOVER', { mac: VICTIM }],
    ['REQUEST in SELECTING', 'REQUEST', { mac: VICTIM, serverId: SERVER, requestedIp: IP }],
    ['REQUEST in SELECTING for another address', 'REQUEST', { mac: VICTIM, serverId: SERVER, requestedIp: '192.0.2.130' }],
    ['REQUEST in INIT-REBOOT', 'REQUEST', { mac: VICTIM, requestedIp: IP }],
    ['REQUEST in REBINDING', 'REQUEST', { mac: VICTIM, ciaddr: IP }],
    ['RELEASE', 'RELEASE', { mac: VICTIM, ciaddr: IP, serverId: SERVER }],
    ['DECLINE', 'DECLINE', { mac: VICTIM, requestedIp: IP, serverId: SERVER }],
    ['relayed REQUEST in INIT-REBOOT', 'REQUEST', { mac: VICTIM, requestedIp: IP, giaddr: '192.0.2.5' }],
  ];
  for (const [name, type, spec] of asks) {
    const d = run([victimLease()], type, spec, ATTACKER_PORT, BOTH_THERE);
    t.same({ path: d.path, reply: d.reply, write: d.write }, { path: 'held-by-other-port', reply: undefined, write: undefined }, `${name} from another port`);
  }
  const offered = run([victimLease({ state: 'offered', expiresAt: NOW + 30_000 })], 'REQUEST', { mac: VICTIM, serverId: SERVER, requestedIp: IP }, ATTACKER_PORT, BOTH_THERE);
  t.equal(offered.path, 'held-by-other-port', "an offer made to another port is not turned into the requester's binding");
  t.equal(run([victimLease()], 'REQUEST', { mac: VICTIM, requestedIp: IP }, ATTACKER_PORT).path, 'held-by-other-port', 'without port facts the old port is taken to be there');
  t.equal(
    run([victimLease()], 'REQUEST', { mac: VICTIM, requestedIp: IP }, ATTACKER_PORT, facts({})).path,
    'held-by-other-port',
    "while the old port's host is not known, the old port is taken to be there",
  );
});

t.test('the decision: the client itself, on its own port, is served as before', async (t) => {
  t.equal(run([victimLease()], 'REQUEST', { mac: VICTIM, requestedIp: IP }, VICTIM_PORT, BOTH_THERE).path, 'init-reboot-ack');
  t.equal(run([victimLease()], 'RELEASE', { mac: VICTIM, ciaddr: IP, serverId: SERVER }, VICTIM_PORT, BOTH_THERE).path, 'release');
  t.equal(run([victimLease()], 'DECLINE', { mac: VICTIM, requestedIp: IP, serverId: SERVER }, VICTIM_PORT, BOTH_THERE).path, 'decline');
  const other = run([victimLease()], 'DISCOVER', { mac: ATTACKER }, ATTACKER_PORT, BOTH_THERE);
  t.equal(other.path, 'discover-offer', 'another client on another port gets its own offer');
  t.not(other.reply?.message.yiaddr, IP, "never the victim's address");
});

t.test('the decision: leases that no longer hold a port do not stop a request', async (t) => {
  const init = { mac: VICTIM, requestedIp: IP };
  const moved = run([victimLease()], 'REQUEST', init, ELSEWHERE, facts({ 'hv1/tap100i0': false }));
  t.equal(moved.path, 'init-reboot-ack', 'the old port has left its bridge: the VM moved');
  t.match(moved.write?.lease, { ip: IP, mac: VICTIM, state: 'bound', host: 'hv2', port: 'tap100i0' }, 'and the lease moves with it');
  t.equal(
    run([victimLease()], 'REQUEST', init, ELSEWHERE, facts({ 'hv1/tap100i0': true, 'hv2/tap100i0': true }, { 'hv2/tap100i0': VICTIM })).path,
    'init-reboot-ack',
    'the hypervisor declares the MAC on the new port (live migration, both ports there)',
  );
  t.equal(
    run([victimLease()], 'REQUEST', init, ELSEWHERE, facts({ 'hv1/tap100i0': true, 'hv2/tap100i0': true }, { 'hv1/tap100i0': '02:00:5e:00:00:ff' })).path,
    'init-reboot-ack',
    "the old port's name now belongs to a NIC with another declared MAC",
  );
  t.equal(
    run([victimLease()], 'REQUEST', init, ATTACKER_PORT, facts({ 'hv1/tap100i0': true }, { 'hv1/tap101i0': ATTACKER })).path,
    'held-by-other-port',
    'a port declaring another MAC gains nothing from its declaration',
  );
  for (const [name, l] of [
    ['expired', victimLease({ state: 'expired', expiresAt: NOW - 1 })],
    ['released', victimLease({ state: 'released', expiresAt: NOW - 1 })],
    ['bound but lapsed', victimLease({ expiresAt: NOW - 1 })],
  ] as const) {
    t.not(run([l], 'DISCOVER', { mac: VICTIM }, ATTACKER_PORT, BOTH_THERE).path, 'held-by-other-port', `a ${name} lease holds no port`);
  }
  const { host: _h, port: _p, ...unplaced } = victimLease();
  t.equal(run([unplaced], 'REQUEST', init, ATTACKER_PORT, BOTH_THERE).path, 'init-reboot-ack', 'a lease with no recorded port (written by an older weft) holds none');
});

t.test('a relayed lease records no port: its client is behind the relay, not on the port', async (t) => {
  const d = run([], 'REQUEST', { mac: VICTIM, requestedIp: '192.0.2.130', serverId: SERVER, giaddr: '192.0.2.5' }, ATTACKER_PORT, BOTH_THERE);
  t.equal(d.path, 'selecting-ack');
  t.equal(d.write?.lease.port, undefined, 'no port');
  t.equal(d.write?.lease.host, undefined, 'no host');
});

t.test('heldElsewhere: no ingress, no rule', async (t) => {
  t.notOk(heldElsewhere(victimLease(), { mac: VICTIM }, undefined, BOTH_THERE, NOW));
  t.ok(heldElsewhere(victimLease(), { mac: VICTIM }, ATTACKER_PORT, BOTH_THERE, NOW));
  t.notOk(heldElsewhere(victimLease(), { mac: VICTIM }, VICTIM_PORT, BOTH_THERE, NOW));
});

// ---- through the service ---------------------------------------------------

async function service(t: Test, ports?: PortFacts) {
  const store = await openSqliteStore(':memory:');
  const network = testNetwork();
  await store.commit([put('network', keyOf('network', network), network)]);
  const dhcp = createDhcpService({ store, log: quiet, sweepIntervalMs: 0, ...(ports ? { ports } : {}) });
  t.teardown(async () => {
    await dhcp.close();
    await store.close();
  });
  const send = async (at: Ingress, type: MessageType, spec: FrameSpec) =>
    (await dhcp.handle({ network: 'acme/web', ...at, frame: frame(type, spec) }))?.map(parseReply);
  const dora = async (at: Ingress, m: string) => {
    const [offer] = (await send(at, 'DISCOVER', { mac: m })) ?? [];
    const ip = offer!.message.yiaddr;
    const [ack] = (await send(at, 'REQUEST', { mac: m, serverId: getOption(offer!.message, 'serverId')!, requestedIp: ip })) ?? [];
    t.equal(ack?.type, 'ACK', `${m} bound`);
    return ip;
  };
  const leaseOf = async (ip: string) => (await store.get('lease', `acme/web/${ip}`))?.value;
  return { dhcp, send, dora, leaseOf };
}

t.test('the service drops a request whose chaddr is not the frame source, unless relayed, and counts it', async (t) => {
  const s = await service(t, BOTH_THERE);
  const ip = await s.dora(VICTIM_PORT, VICTIM);
  const before = await s.leaseOf(ip);
  t.equal(await s.send(ATTACKER_PORT, 'REQUEST', { mac: VICTIM, ethSrc: ATTACKER, requestedIp: ip }), undefined, 'INIT-REBOOT naming the victim: no answer');
  t.equal(await s.send(ATTACKER_PORT, 'RELEASE', { mac: VICTIM, ethSrc: ATTACKER, ciaddr: ip, serverId: SERVER }), undefined, 'RELEASE naming the victim: no answer');
  t.equal(await s.send(ATTACKER_PORT, 'DISCOVER', { mac: VICTIM, ethSrc: ATTACKER }), undefined, 'DISCOVER naming the victim: no answer');
  t.equal(s.dhcp.stats().spoofed, 3, 'each counted as spoofed');
  t.same(await s.leaseOf(ip), before, 'the lease is as it was');
  const relayed = await s.send(ATTACKER_PORT, 'DISCOVER', { mac: '02:00:5e:00:00:77', ethSrc: ATTACKER, giaddr: '192.0.2.5' });
  t.equal(relayed?.[0]?.type, 'OFFER', 'a relay speaks for other MACs and is answered');
  t.equal(s.dhcp.stats().spoofed, 3);
});

t.test('the service: a VM sending as the victim (source MAC and chaddr) from another port neither frees nor takes its lease', async (t) => {
  const s = await service(t, BOTH_THERE);
  const ip = await s.dora(VICTIM_PORT, VICTIM);
  const before = await s.leaseOf(ip);
  t.equal(await s.send(ATTACKER_PORT, 'RELEASE', { mac: VICTIM, ciaddr: ip, serverId: SERVER }), undefined);
  t.equal(await s.send(ATTACKER_PORT, 'DECLINE', { mac: VICTIM, requestedIp: ip, serverId: SERVER }), undefined);
  t.equal(await s.send(ATTACKER_PORT, 'REQUEST', { mac: VICTIM, requestedIp: ip }), undefined, 'INIT-REBOOT: no ACK');
  t.equal(await s.send(ATTACKER_PORT, 'REQUEST', { mac: VICTIM, ciaddr: ip }), undefined, 'REBINDING: no ACK');
  t.equal(await s.send(ATTACKER_PORT, 'DISCOVER', { mac: VICTIM }), undefined, 'DISCOVER: no offer');
  t.same(await s.leaseOf(ip), before, 'the lease is as it was, on the victim’s port');
  t.equal(s.dhcp.stats().paths['held-by-other-port'], 5);
  const [renew] = (await s.send(VICTIM_PORT, 'REQUEST', { mac: VICTIM, ciaddr: ip })) ?? [];
  t.equal(renew?.type, 'ACK', 'the victim still renews');
});

t.test('the service: a VM whose old port is gone gets its address back on its new port', async (t) => {
  const present: Record<string, boolean> = { 'hv1/tap100i0': true, 'hv2/tap100i0': true };
  const s = await service(t, facts(present));
  const ip = await s.dora(VICTIM_PORT, VICTIM);
  t.equal(await s.send(ELSEWHERE, 'REQUEST', { mac: VICTIM, requestedIp: ip }), undefined, 'mid-migration (both ports there): no answer, the client retries');
  present['hv1/tap100i0'] = false;
  const [ack] = (await s.send(ELSEWHERE, 'REQUEST', { mac: VICTIM, requestedIp: ip })) ?? [];
  t.equal(ack?.type, 'ACK', 'once the old port is gone: ACK');
  t.equal(ack?.message.yiaddr, ip, 'the same address');
  t.match(await s.leaseOf(ip), { mac: VICTIM, state: 'bound', host: 'hv2', port: 'tap100i0' }, 'the lease is on the new port');
});
