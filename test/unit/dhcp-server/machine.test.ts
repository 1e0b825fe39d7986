// The server state machine of RFC 2131 section 4.3, path by path, as pure
// decisions: given the network, its leases, the request and the time, which
// reply goes out and which lease is written.
import t from 'tap';
import { getOption, type DhcpMessage } from '../../../protocols/dhcp/index.js';
import { Lease, type Network, type Reservation } from '../../../src/model/index.js';
import {
  DEFAULT_TIMERS, LeaseTable, buildView, decide, fnv1a, routeReply, type Decision,
} from '../../../src/dhcp/index.js';
import { lease, message, reservation, testNetwork, type MessageType, type RequestSpec } from './client.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const A = '02:00:5e:00:00:0a';
const B = '02:00:5e:00:00:0b';

interface Situation {
  network?: Network;
  reservations?: Reservation[];
  leases?: Lease[];
}

function run(s: Situation, type: MessageType, spec: RequestSpec, extra: { ipBroadcast?: boolean; avoid?: number[] } = {}): Decision {
  const view = buildView(s.network ?? testNetwork(), s.reservations ?? []);
  const table = new LeaseTable();
  (s.leases ?? []).forEach((l, i) => table.apply(l, i + 1));
  return decide({
    view, leases: table, request: message(type, spec), ipBroadcast: extra.ipBroadcast ?? true,
    ingress: { host: 'hv1', port: 'tap100i0' }, now: NOW, timers: DEFAULT_TIMERS,
    ...(extra.avoid ? { avoid: new Set(extra.avoid) } : {}),
  });
}

const reply = (d: Decision): DhcpMessage => {
  if (!d.reply) throw new Error(`no reply on path ${d.path}`);
  return d.reply.message;
};
const inPool = (ip: string) => {
  const last = Number(ip.split('.')[3]);
  return ip.startsWith('192.0.2.') && last >= 100 && last <= 150;
};

t.test('DHCPDISCOVER (4.3.1): which address is offered', async (t) => {
  t.test('a new client: a stable address hashed from its MAC, held for it 30 s', async (t) => {
    const d = run({}, 'DISCOVER', { mac: A });
    t.equal(d.path, 'discover-offer');
    t.equal(d.reply?.type, 'offer');
    const ip = reply(d).yiaddr;
    t.equal(ip, `192.0.2.${100 + (fnv1a(A) % 51)}`);
    t.match(d.write, { ifRevision: null, lease: { ip, mac: A, state: 'offered', expiresAt: NOW + 30_000, host: 'hv1', port: 'tap100i0' } });
    t.equal(run({}, 'DISCOVER', { mac: A, xid: 99 }).reply?.message.yiaddr, ip, 'the same choice every time');
    t.ok(Lease.safeParse(d.write!.lease).success, 'the written lease is a valid Lease');
  });

  t.test('a client with a live binding is offered it again, and nothing is written', async (t) => {
    const d = run({ leases: [lease({ ip: '192.0.2.120', mac: A, state: 'bound', expiresAt: NOW + HOUR })] }, 'DISCOVER', { mac: A });
    t.equal(reply(d).yiaddr, '192.0.2.120');
    t.equal(d.write, undefined);
  });

  t.test('a client that released its address gets the same one back', async (t) => {
    const d = run({ leases: [lease({ ip: '192.0.2.121', mac: A, state: 'released', expiresAt: NOW - HOUR })] }, 'DISCOVER', { mac: A });
    t.equal(reply(d).yiaddr, '192.0.2.121');
    t.match(d.write, { ifRevision: 1, lease: { state: 'offered' } });
  });

  t.test('a client is known by its client identifier before its MAC', async (t) => {
    const held = lease({ ip: '192.0.2.122', mac: B, clientId: '01aabbcc', state: 'bound', expiresAt: NOW + HOUR });
    t.equal(reply(run({ leases: [held] }, 'DISCOVER', { mac: A, clientId: '01aabbcc' })).yiaddr, '192.0.2.122');
    t.not(reply(run({ leases: [held] }, 'DISCOVER', { mac: B, clientId: '01ddeeff' })).yiaddr, '192.0.2.122', 'same MAC, other id: another client');
  });

  t.test('a reservation gives its address (even outside the ranges) with its host name', async (t) => {
    const d = run({ reservations: [reservation(A, '192.0.2.10', 'db1')] }, 'DISCOVER', { mac: A });
    t.equal(reply(d).yiaddr, '192.0.2.10');
    t.equal(getOption(reply(d), 'hostname'), 'db1');
  });

  t.test('a reserved address is never offered to another MAC, even when it asks for it', async (t) => {
    const d = run({ reservations: [reservation(A, '192.0.2.130')] }, 'DISCOVER', { mac: B, requestedIp: '192.0.2.130' });
    t.not(reply(d).yiaddr, '192.0.2.130');
  });

  t.test('the requested address (option 50) when it is free and in a range', async (t) => {
    t.equal(reply(run({}, 'DISCOVER', { mac: A, requestedIp: '192.0.2.140' })).yiaddr, '192.0.2.140');
    t.not(reply(run({}, 'DISCOVER', { mac: A, requestedIp: '192.0.2.20' })).yiaddr, '192.0.2.20', 'outside the ranges');
    const taken = lease({ ip: '192.0.2.140', mac: B, state: 'bound', expiresAt: NOW + HOUR });
    t.not(reply(run({ leases: [taken] }, 'DISCOVER', { mac: A, requestedIp: '192.0.2.140' })).yiaddr, '192.0.2.140', 'bound to another');
  });

  t.test('an address offered to another client is held: the next free one is offered', async (t) => {
    const h = fnv1a(A) % 51;
    const hashed = `192.0.2.${100 + h}`;
    const held = lease({ ip: hashed, mac: B, state: 'offered', expiresAt: NOW + 10_000 });
    const ip = reply(run({ leases: [held] }, 'DISCOVER', { mac: A })).yiaddr;
    t.equal(ip, `192.0.2.${100 + ((h + 1) % 51)}`, 'the next free after the hashed one, wrapping');
    const lapsed = lease({ ip: hashed, mac: B, state: 'offered', expiresAt: NOW - 1 });
    t.not(reply(run({ leases: [lapsed] }, 'DISCOVER', { mac: A })).yiaddr, hashed, 'a lapsed offer is free, but never-used addresses come first');
  });

  t.test('an address a concurrent writer took is passed over', async (t) => {
    const first = reply(run({}, 'DISCOVER', { mac: A })).yiaddr;
    const n = (ip: string) => ip.split('.').reduce((a, p) => a * 256 + Number(p), 0);
    t.not(reply(run({}, 'DISCOVER', { mac: A }, { avoid: [n(first)] })).yiaddr, first);
  });

  t.test('a declined address is in quarantine, for its decliner too', async (t) => {
    const pool = testNetwork({ subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.101' }] }] });
    const declined = lease({ ip: '192.0.2.100', mac: A, state: 'declined', expiresAt: NOW + 600_000 });
    t.equal(reply(run({ network: pool, leases: [declined] }, 'DISCOVER', { mac: A })).yiaddr, '192.0.2.101');
    t.equal(reply(run({ network: pool, leases: [declined] }, 'DISCOVER', { mac: B })).yiaddr, '192.0.2.101');
  });

  t.test('an exhausted pool: no offer, a pool-exhausted event', async (t) => {
    const pool = testNetwork({ subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.100' }] }] });
    const d = run({ network: pool, leases: [lease({ ip: '192.0.2.100', mac: B, state: 'bound', expiresAt: NOW + HOUR })] }, 'DISCOVER', { mac: A });
    t.equal(d.path, 'discover-exhausted');
    t.equal(d.reply, undefined);
    t.equal(d.write, undefined);
    t.same(d.event, { type: 'pool-exhausted', network: 'acme/web', mac: A, poolSize: 1 });
  });

  t.test('an expired lease of another client is reused only when nothing fresh is left', async (t) => {
    const pool = testNetwork({ subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.101' }] }] });
    const old = lease({ ip: '192.0.2.100', mac: B, state: 'expired', expiresAt: NOW - HOUR });
    t.equal(reply(run({ network: pool, leases: [old] }, 'DISCOVER', { mac: A })).yiaddr, '192.0.2.101');
    const both = [old, lease({ ip: '192.0.2.101', mac: '02:00:5e:00:00:0c', state: 'bound', expiresAt: NOW + HOUR })];
    const d = run({ network: pool, leases: both }, 'DISCOVER', { mac: A });
    t.equal(reply(d).yiaddr, '192.0.2.100');
    t.equal(d.write?.ifRevision, 1, 'conditional on the old lease');
  });

  t.test('no answer where DHCP is off or no server identifier exists', async (t) => {
    const off = testNetwork({ subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', dhcp: false, ranges: [{ start: '192.0.2.100', end: '192.0.2.150' }] }] });
    t.equal(run({ network: off }, 'DISCOVER', { mac: A }).path, 'discover-no-subnet');
    const noId = testNetwork({ subnets: [{ cidr: '192.0.2.0/24', ranges: [{ start: '192.0.2.100', end: '192.0.2.150' }] }] });
    t.equal(run({ network: noId }, 'DISCOVER', { mac: A }).path, 'discover-no-subnet');
    t.same(buildView(noId, []).unservable, [{ cidr: '192.0.2.0/24', reason: 'no-server-id' }]);
    const withId = testNetwork({ subnets: [{ cidr: '192.0.2.0/24', serverId: '192.0.2.2', ranges: [{ start: '192.0.2.100', end: '192.0.2.150' }] }] });
    t.equal(getOption(reply(run({ network: withId }, 'DISCOVER', { mac: A })), 'serverId'), '192.0.2.2', 'serverId serves a subnet without gateway');
  });

  t.test('a relayed request is served from the subnet holding giaddr', async (t) => {
    const two = testNetwork({
      subnets: [
        { cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.150' }] },
        { cidr: '198.51.100.0/24', gateway: '198.51.100.1', ranges: [{ start: '198.51.100.100', end: '198.51.100.150' }] },
      ],
    });
    const d = run({ network: two }, 'DISCOVER', { mac: A, giaddr: '198.51.100.1' });
    t.match(reply(d).yiaddr, /^198\.51\.100\./);
    t.equal(getOption(reply(d), 'serverId'), '198.51.100.1');
    t.equal(reply(d).giaddr, '198.51.100.1');
    t.equal(run({ network: two }, 'DISCOVER', { mac: A, giaddr: '203.0.113.1' }).path, 'discover-no-subnet', 'a relay on no subnet of ours');
  });
});

t.test('DHCPREQUEST (4.3.2)', async (t) => {
  const offered = lease({ ip: '192.0.2.110', mac: A, state: 'offered', expiresAt: NOW + 20_000 });
  const bound = lease({ ip: '192.0.2.110', mac: A, state: 'bound', start: NOW - HOUR, expiresAt: NOW + HOUR });
  const others = lease({ ip: '192.0.2.110', mac: B, state: 'bound', expiresAt: NOW + HOUR });

  const cases: { rfc: string; s: Situation; type?: MessageType; spec: RequestSpec; unicast?: boolean; path: string; reply?: 'ack' | 'nak'; state?: string }[] = [
    { rfc: 'SELECTING, our server id, the address offered: ACK, bound', s: { leases: [offered] }, spec: { mac: A, serverId: '192.0.2.1', requestedIp: '192.0.2.110' }, path: 'selecting-ack', reply: 'ack', state: 'bound' },
    { rfc: 'SELECTING, our server id, the offer swept but the address free: ACK', s: {}, spec: { mac: A, serverId: '192.0.2.1', requestedIp: '192.0.2.110' }, path: 'selecting-ack', reply: 'ack', state: 'bound' },
    { rfc: 'SELECTING, our server id, the address bound to another: NAK', s: { leases: [others] }, spec: { mac: A, serverId: '192.0.2.1', requestedIp: '192.0.2.110' }, path: 'selecting-nak', reply: 'nak' },
    { rfc: 'SELECTING, another server id: the client chose another server, our offer goes back', s: { leases: [offered] }, spec: { mac: A, serverId: '192.0.2.254', requestedIp: '192.0.2.77' }, path: 'selecting-other-server', state: 'expired' },
    { rfc: 'SELECTING, another server id and no offer of ours: nothing', s: {}, spec: { mac: A, serverId: '192.0.2.254', requestedIp: '192.0.2.77' }, path: 'selecting-other-server-no-offer' },
    { rfc: 'INIT-REBOOT, its own lease: ACK', s: { leases: [bound] }, spec: { mac: A, requestedIp: '192.0.2.110' }, path: 'init-reboot-ack', reply: 'ack', state: 'bound' },
    { rfc: 'INIT-REBOOT, its own expired lease not taken since: ACK', s: { leases: [{ ...bound, state: 'expired', expiresAt: NOW - HOUR }] }, spec: { mac: A, requestedIp: '192.0.2.110' }, path: 'init-reboot-ack', reply: 'ack', state: 'bound' },
    { rfc: 'INIT-REBOOT, an address of another network: NAK', s: { leases: [bound] }, spec: { mac: A, requestedIp: '203.0.113.5' }, path: 'init-reboot-nak', reply: 'nak' },
    { rfc: 'INIT-REBOOT, an address bound to another client: NAK', s: { leases: [others] }, spec: { mac: A, requestedIp: '192.0.2.110' }, path: 'init-reboot-nak', reply: 'nak' },
    { rfc: 'INIT-REBOOT, a known client asking for an address not its own: NAK', s: { leases: [{ ...bound, ip: '192.0.2.111' }] }, spec: { mac: A, requestedIp: '192.0.2.110' }, path: 'init-reboot-nak', reply: 'nak' },
    { rfc: 'INIT-REBOOT, a client we have no record of: silence', s: {}, spec: { mac: A, requestedIp: '192.0.2.110' }, path: 'init-reboot-unknown' },
    { rfc: 'INIT-REBOOT, the reserved address of another MAC: NAK', s: { reservations: [reservation(B, '192.0.2.110')] }, spec: { mac: A, requestedIp: '192.0.2.110' }, path: 'init-reboot-nak', reply: 'nak' },
    { rfc: 'RENEWING (unicast, ciaddr), its own binding: ACK extending it', s: { leases: [bound] }, spec: { mac: A, ciaddr: '192.0.2.110' }, unicast: true, path: 'renewing-ack', reply: 'ack', state: 'bound' },
    { rfc: 'RENEWING, an address bound to another: NAK', s: { leases: [others] }, spec: { mac: A, ciaddr: '192.0.2.110' }, unicast: true, path: 'renewing-nak', reply: 'nak' },
    { rfc: 'RENEWING, an address we have no record of: silence', s: {}, spec: { mac: A, ciaddr: '192.0.2.110' }, unicast: true, path: 'renewing-unknown' },
    { rfc: 'REBINDING (broadcast, ciaddr), its own binding: ACK', s: { leases: [bound] }, spec: { mac: A, ciaddr: '192.0.2.110' }, path: 'rebinding-ack', reply: 'ack', state: 'bound' },
    { rfc: 'REBINDING, an address on another network: NAK', s: { leases: [bound] }, spec: { mac: A, ciaddr: '203.0.113.5' }, path: 'rebinding-nak', reply: 'nak' },
    { rfc: 'REBINDING, an address bound to another: NAK', s: { leases: [others] }, spec: { mac: A, ciaddr: '192.0.2.110' }, path: 'rebinding-nak', reply: 'nak' },
    { rfc: 'a REQUEST with neither server id, ciaddr nor requested address is dropped', s: {}, spec: { mac: A }, path: 'malformed' },
  ];
  for (const c of cases) {
    t.test(c.rfc, async (t) => {
      const d = run(c.s, c.type ?? 'REQUEST', c.spec, { ipBroadcast: !c.unicast });
      t.equal(d.path, c.path);
      t.equal(d.reply?.type, c.reply);
      t.equal(d.write?.lease.state, c.state);
      if (c.reply === 'nak') {
        t.equal(reply(d).yiaddr, '0.0.0.0');
        t.equal(getOption(reply(d), 'leaseTime'), undefined, 'a NAK carries no lease');
      }
      if (d.write) t.ok(Lease.safeParse(d.write.lease).success, 'the written lease is valid');
    });
  }

  t.test('the ACK of a renewal keeps the binding start, moves the expiry and echoes ciaddr', async (t) => {
    const d = run({ leases: [bound] }, 'REQUEST', { mac: A, ciaddr: '192.0.2.110' }, { ipBroadcast: false });
    t.match(d.write, { ifRevision: 1, lease: { start: NOW - HOUR, expiresAt: NOW + HOUR, state: 'bound' } });
    t.equal(reply(d).ciaddr, '192.0.2.110');
    t.equal(reply(d).yiaddr, '192.0.2.110');
  });
});

t.test('DHCPDECLINE (4.3.3): the address is quarantined 10 minutes', async (t) => {
  const mine = lease({ ip: '192.0.2.110', mac: A, state: 'bound', expiresAt: NOW + HOUR });
  const d = run({ leases: [mine] }, 'DECLINE', { mac: A, serverId: '192.0.2.1', requestedIp: '192.0.2.110' });
  t.equal(d.path, 'decline');
  t.equal(d.reply, undefined);
  t.match(d.write, { ifRevision: 1, lease: { state: 'declined', expiresAt: NOW + 600_000 } });
  t.match(d.event, { type: 'address-declined', ip: '192.0.2.110', mac: A });
  t.equal(run({ leases: [mine] }, 'DECLINE', { mac: B, serverId: '192.0.2.1', requestedIp: '192.0.2.110' }).path, 'decline-ignored', 'nobody declines the address of another');
  t.equal(run({ leases: [mine] }, 'DECLINE', { mac: A, serverId: '192.0.2.254', requestedIp: '192.0.2.110' }).path, 'decline-ignored', 'meant for another server');
});

t.test('DHCPRELEASE (4.3.4): the address is free, the client keeps its claim', async (t) => {
  const mine = lease({ ip: '192.0.2.110', mac: A, state: 'bound', expiresAt: NOW + HOUR });
  const d = run({ leases: [mine] }, 'RELEASE', { mac: A, serverId: '192.0.2.1', ciaddr: '192.0.2.110' });
  t.equal(d.path, 'release');
  t.match(d.write, { lease: { state: 'released', expiresAt: NOW, mac: A } });
  t.equal(run({ leases: [mine] }, 'RELEASE', { mac: B, ciaddr: '192.0.2.110' }).path, 'release-ignored', 'nobody releases the address of another');
  t.equal(reply(run({ leases: [d.write!.lease] }, 'DISCOVER', { mac: A })).yiaddr, '192.0.2.110', 'the same address next time');
});

t.test('DHCPINFORM (4.3.5): an ACK with options, no lease', async (t) => {
  const d = run({}, 'INFORM', { mac: A, ciaddr: '192.0.2.20' }, { ipBroadcast: false });
  t.equal(d.path, 'inform-ack');
  t.equal(d.write, undefined);
  t.equal(reply(d).yiaddr, '0.0.0.0');
  t.equal(reply(d).ciaddr, '192.0.2.20');
  t.equal(getOption(reply(d), 'leaseTime'), undefined);
  t.same(getOption(reply(d), 'router'), ['192.0.2.1']);
  t.equal(run({}, 'INFORM', { mac: A, ciaddr: '203.0.113.9' }).path, 'inform-ignored');
});

t.test('reply options: the mandatory ones, then only what option 55 asks for', async (t) => {
  const net = testNetwork({
    mtu: 1450,
    subnets: [{
      cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.150' }],
      dns: ['198.51.100.53'], domain: 'acme.example', search: ['acme.example', 'example'],
      routes: [{ destination: '198.51.100.0/24', gateway: '192.0.2.254' }], leaseTime: 7200,
    }],
  });
  const d = run({ network: net }, 'DISCOVER', { mac: A, clientId: '01' + A.replaceAll(':', ''), hostname: 'vm-1' });
  const m = reply(d);
  t.same(m.options.slice(0, 6).map((o) => o.name), ['messageType', 'serverId', 'leaseTime', 'renewalTime', 'rebindingTime', 'subnetMask']);
  t.equal(getOption(m, 'leaseTime'), 7200);
  t.equal(getOption(m, 'renewalTime'), 3600, 'T1 = 0.5');
  t.equal(getOption(m, 'rebindingTime'), 6300, 'T2 = 0.875');
  t.equal(getOption(m, 'subnetMask'), '255.255.255.0');
  t.same(getOption(m, 'router'), ['192.0.2.1']);
  t.same(getOption(m, 'dnsServers'), ['198.51.100.53']);
  t.equal(getOption(m, 'domainName'), 'acme.example');
  t.same(getOption(m, 'domainSearch'), ['acme.example', 'example']);
  t.equal(getOption(m, 'interfaceMtu'), 1450);
  t.equal(getOption(m, 'broadcastAddress'), '192.0.2.255');
  t.equal(getOption(m, 'hostname'), 'vm-1', 'the host name echoed');
  t.same(getOption(m, 'classlessRoutes'), [
    { destination: '198.51.100.0/24', router: '192.0.2.254' },
    { destination: '0.0.0.0/0', router: '192.0.2.1' },
  ], 'option 121 carries the default route too (RFC 3442)');
  t.ok(getOption(m, 'clientId'), 'the client identifier echoed (RFC 6842)');
  t.equal(d.write?.lease.hostname, 'vm-1');

  const bare = reply(run({ network: net }, 'DISCOVER', { mac: A, prl: [1] }));
  t.same(bare.options.map((o) => o.name), ['messageType', 'serverId', 'leaseTime', 'renewalTime', 'rebindingTime', 'subnetMask'], 'nothing unasked');
});

t.test('reply addressing (4.1)', async (t) => {
  const offer = { yiaddr: '192.0.2.110' } as DhcpMessage;
  const req = (spec: Partial<DhcpMessage>) => ({ ...message('REQUEST', { mac: A }), ...spec });
  const cases: [string, Partial<DhcpMessage>, 'offer' | 'ack' | 'nak', object][] = [
    ['relayed: to the relay, server port, its MAC', { giaddr: '198.51.100.1' }, 'offer', { ipDst: '198.51.100.1', dstPort: 67, ethDst: '02:00:5e:ff:ff:01' }],
    ['relayed NAK: to the relay too', { giaddr: '198.51.100.1' }, 'nak', { ipDst: '198.51.100.1', dstPort: 67 }],
    ['NAK: broadcast', {}, 'nak', { ipDst: '255.255.255.255', ethDst: 'ff:ff:ff:ff:ff:ff', dstPort: 68 }],
    ['ciaddr set: unicast to it', { ciaddr: '192.0.2.110' }, 'ack', { ipDst: '192.0.2.110', ethDst: A, dstPort: 68 }],
    ['broadcast bit: broadcast', { broadcast: true }, 'offer', { ipDst: '255.255.255.255', ethDst: 'ff:ff:ff:ff:ff:ff' }],
    ['otherwise: unicast to yiaddr at chaddr', {}, 'offer', { ipDst: '192.0.2.110', ethDst: A, dstPort: 68 }],
  ];
  for (const [what, spec, type, want] of cases) t.match(routeReply(req(spec), offer, type, '02:00:5e:ff:ff:01'), want, what);
});
