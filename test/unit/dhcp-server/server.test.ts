// The DHCP service through its one entry point, handle(packet-in), on the
// real SQLite store: replies as frames, leases durable before the ACK, the
// rate limit, leadership and fencing, the sweeper and the change feed.
import t, { type Test } from 'tap';
import { getOption } from '../../../protocols/dhcp/index.js';
import { createDhcpService, type DhcpEvent, type Leadership } from '../../../src/dhcp/index.js';
import { keyOf, type Lease } from '../../../src/model/index.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { put, type Fence, type Store } from '../../../src/store/store.js';
import { frame, mac, parseReply, quiet, reservation, testNetwork, type FrameSpec, type MessageType } from './client.js';

const NET = 'acme/web';

async function setup(t: Test, opts: { network?: ReturnType<typeof testNetwork>; leadership?: Leadership; now?: () => number; rate?: number } = {}) {
  const store = await openSqliteStore(':memory:');
  const network = opts.network ?? testNetwork();
  await store.commit([put('network', keyOf('network', network), network)]);
  const events: DhcpEvent[] = [];
  const dhcp = createDhcpService({
    store, log: quiet, sweepIntervalMs: 0, onEvent: (e) => events.push(e),
    ...(opts.leadership ? { leadership: opts.leadership } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.rate ? { rateLimit: { burst: opts.rate, perSecond: 0 } } : {}),
  });
  t.teardown(async () => {
    await dhcp.close();
    await store.close();
  });
  const send = async (type: MessageType, spec: FrameSpec) => {
    const out = await dhcp.handle({ network: NET, host: 'hv1', port: 'tap100i0', frame: frame(type, spec) });
    return out?.map(parseReply);
  };
  const leaseAt = async (ip: string) => (await store.get('lease', `${NET}/${ip}`))?.value;
  return { store, dhcp, send, events, leaseAt };
}

async function dora(send: Awaited<ReturnType<typeof setup>>['send'], m: string, extra: Partial<FrameSpec> = {}) {
  const [offer] = (await send('DISCOVER', { mac: m, ...extra })) ?? [];
  if (!offer) return undefined;
  const serverId = getOption(offer.message, 'serverId')!;
  const [ack] = (await send('REQUEST', { mac: m, serverId, requestedIp: offer.message.yiaddr, ...extra })) ?? [];
  return { offer, ack };
}

t.test('a DORA: OFFER then ACK as frames for the ingress port, the lease durable and bound', async (t) => {
  const { send, leaseAt } = await setup(t);
  const m = mac(1);
  const [offer] = (await send('DISCOVER', { mac: m }))!;
  t.equal(offer!.type, 'OFFER');
  t.equal(offer!.frame.ipv4.src, '192.0.2.1', 'from the server identifier');
  t.equal(offer!.frame.ethernet.src, '0a:58:c0:00:02:01', 'from the MAC derived from it');
  t.equal(offer!.frame.ipv4.dst, offer!.message.yiaddr, 'unicast to yiaddr (no broadcast bit)');
  t.equal(offer!.frame.ethernet.dst, m);
  t.equal(offer!.frame.udp.dstPort, 68);
  t.equal(await leaseAt(offer!.message.yiaddr), undefined, 'an offer is held in memory, not stored');
  const [ack] = (await send('REQUEST', { mac: m, serverId: '192.0.2.1', requestedIp: offer!.message.yiaddr, broadcast: true }))!;
  t.equal(ack!.type, 'ACK');
  t.equal(ack!.frame.ipv4.dst, '255.255.255.255', 'broadcast when the client asks');
  t.match(await leaseAt(ack!.message.yiaddr), { state: 'bound', mac: m, host: 'hv1', port: 'tap100i0' });
});

t.test('the ACK goes out only once the lease commit has resolved', async (t) => {
  const inner = await openSqliteStore(':memory:');
  const network = testNetwork();
  await inner.commit([put('network', keyOf('network', network), network)]);
  const gates: (() => void)[] = [];
  const store: Store = Object.create(inner, {
    commit: {
      value: (ops: Parameters<Store['commit']>[0], o: Parameters<Store['commit']>[1]) =>
        new Promise<void>((r) => gates.push(r)).then(() => inner.commit(ops, o)),
    },
  });
  const dhcp = createDhcpService({ store, log: quiet, sweepIntervalMs: 0 });
  t.teardown(async () => {
    await dhcp.close();
    await inner.close();
  });
  let answered = false;
  const pending = dhcp.handle({ network: NET, host: 'hv1', port: 'p1', frame: frame('REQUEST', { mac: mac(2), serverId: '192.0.2.1', requestedIp: '192.0.2.120' }) })
    .then((r) => { answered = true; return r; });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  t.equal(answered, false, 'no reply while the write is not durable');
  t.equal(gates.length, 1);
  gates[0]!();
  const [ack] = (await pending)!.map(parseReply);
  t.equal(ack!.type, 'ACK');
  t.equal((await inner.get('lease', `${NET}/192.0.2.120`))?.value.state, 'bound', 'durable when the ACK exists');
});

t.test('a relayed request (giaddr set, as perfdhcp sends): replies to the relay at port 67', async (t) => {
  const { send } = await setup(t);
  const r = await dora(send, mac(3), { giaddr: '192.0.2.1', ethSrc: '02:00:5e:ff:00:01' });
  for (const reply of [r!.offer, r!.ack!]) {
    t.equal(reply.frame.ipv4.dst, '192.0.2.1');
    t.equal(reply.frame.udp.dstPort, 67);
    t.equal(reply.frame.ethernet.dst, '02:00:5e:ff:00:01', 'to the relay, out of the ingress port');
    t.equal(reply.message.giaddr, '192.0.2.1');
  }
  t.equal(r!.ack!.type, 'ACK');
});

t.test('a RELEASE frees the address; the client gets it back next time', async (t) => {
  const { send, leaseAt } = await setup(t);
  const m = mac(4);
  const r = await dora(send, m);
  const ip = r!.ack!.message.yiaddr;
  t.equal(await send('RELEASE', { mac: m, ciaddr: ip, serverId: '192.0.2.1', ipDst: '192.0.2.1' }), undefined, 'no reply to a release');
  t.equal((await leaseAt(ip))?.state, 'released');
  t.equal((await dora(send, m))!.ack!.message.yiaddr, ip);
});

t.test('undecodable frames are counted and dropped, never thrown', async (t) => {
  const { dhcp } = await setup(t);
  const good = frame('DISCOVER', { mac: mac(5) });
  const frames = [Buffer.alloc(0), Buffer.from('not a frame'), good.subarray(0, 40), Buffer.concat([good.subarray(0, 300), Buffer.alloc(10)])];
  for (const f of frames) t.equal(await dhcp.handle({ network: NET, host: 'h', port: 'p', frame: f }), undefined);
  t.equal(dhcp.stats().malformed, frames.length);
  t.equal(dhcp.stats().errors, 0);
});

t.test('a client over its rate limit gets no answer', async (t) => {
  const { dhcp, send } = await setup(t, { rate: 3 });
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await send('DISCOVER', { mac: mac(6), xid: i }));
  t.same(answers.map((a) => a !== undefined), [true, true, true, false, false]);
  t.equal(dhcp.stats().rateLimited, 2);
  t.ok(await send('DISCOVER', { mac: mac(7) }), 'another client is not limited');
});

t.test('unknown networks and subnets with DHCP off get no answer', async (t) => {
  const { dhcp, send, store } = await setup(t);
  t.equal(await dhcp.handle({ network: 'acme/nope', host: 'h', port: 'p', frame: frame('DISCOVER', { mac: mac(8) }) }), undefined);
  t.equal(dhcp.stats().unknownNetwork, 1);
  t.ok(await send('DISCOVER', { mac: mac(9) }));
  const off = testNetwork();
  off.subnets[0]!.dhcp = false;
  await store.commit([put('network', NET, off)]);
  t.equal(await send('DISCOVER', { mac: mac(10) }), undefined, 'the change feed turned it off');
});

t.test('a reservation added later is seen through the change feed', async (t) => {
  const { send, store } = await setup(t);
  t.ok(await send('DISCOVER', { mac: mac(11) }), 'network loaded');
  const r = reservation(mac(12), '192.0.2.50', 'db1');
  await store.commit([put('reservation', keyOf('reservation', r), r)]);
  const [offer] = (await send('DISCOVER', { mac: mac(12) }))!;
  t.equal(offer!.message.yiaddr, '192.0.2.50');
});

t.test('concurrent DISCOVERs never get the same address, and a full pool gives none', async (t) => {
  const { send, events } = await setup(t);
  const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => send('DISCOVER', { mac: mac(100 + i) })));
  const offered = replies.filter((r) => r !== undefined).map((r) => r![0]!.message.yiaddr);
  t.equal(offered.length, 51, 'the pool of 51');
  t.equal(new Set(offered).size, 51, 'all different');
  t.equal(events.filter((e) => e.type === 'pool-exhausted').length, 9);
});

t.test('only the leader answers; a fenced write stops the network until a newer term', async (t) => {
  let leader = true;
  let fence: Fence | undefined = { scope: 'network:acme/web', term: 1 };
  const { send, dhcp, store, events } = await setup(t, { leadership: { isLeader: () => leader, fence: () => fence } });
  await store.claimTerm('network:acme/web', 0);
  t.ok(await dora(send, mac(20)), 'answers with the current term');
  leader = false;
  t.equal(await send('DISCOVER', { mac: mac(21) }), undefined, 'a backup is silent');
  t.equal(dhcp.stats().notLeader, 1);
  t.equal(await dhcp.handle({ network: NET, host: 'h', port: 'p', frame: Buffer.from('not a frame') }), undefined);
  t.same([dhcp.stats().notLeader, dhcp.stats().malformed], [2, 0], 'a backup does not even decode what it will not answer');
  leader = true;
  await store.claimTerm('network:acme/web', 1);
  const [offer] = (await send('DISCOVER', { mac: mac(22) }))!;
  t.equal(offer!.type, 'OFFER', 'an offer writes nothing, so it meets no fence');
  t.equal(await send('REQUEST', { mac: mac(22), serverId: '192.0.2.1', requestedIp: offer!.message.yiaddr }), undefined, 'the ACK write with term 1 is fenced: no ACK');
  t.match(events, [{ type: 'fenced', network: NET, term: 1 }]);
  t.equal(await send('DISCOVER', { mac: mac(25) }), undefined, 'and no more offers');
  t.equal(await send('INFORM', { mac: mac(23), ciaddr: '192.0.2.9' }), undefined, 'nothing more is answered, even without a write');
  await store.claimTerm('network:acme/web', 2);
  fence = { scope: 'network:acme/web', term: 3 };
  t.ok(await send('DISCOVER', { mac: mac(24) }), 'leader again with a newer term');
});

t.test('the sweeper lets lapsed offers and bindings expire and ends quarantines', async (t) => {
  let now = 1_700_000_000_000;
  const { send, dhcp, leaseAt } = await setup(t, { now: () => now });
  const [offer] = (await send('DISCOVER', { mac: mac(30) }))!;
  const offered = offer!.message.yiaddr;
  const r = await dora(send, mac(31));
  const declinedIp = r!.ack!.message.yiaddr;
  await send('DECLINE', { mac: mac(31), serverId: '192.0.2.1', requestedIp: declinedIp });
  t.equal((await leaseAt(declinedIp))?.state, 'declined');
  t.equal(await leaseAt(offered), undefined, 'the offer is held in memory only');
  const [taken] = (await send('DISCOVER', { mac: mac(32), requestedIp: offered }))!;
  t.not(taken!.message.yiaddr, offered, 'while held, the offered address goes to nobody else');
  now += 31_000;
  t.equal(await dhcp.sweep(), 0, 'lapsed offers are forgotten without a write');
  const [other] = (await send('DISCOVER', { mac: mac(33), requestedIp: offered }))!;
  t.equal(other!.message.yiaddr, offered, 'a lapsed offer frees its address');
  now += 600_000;
  t.equal(await dhcp.sweep(), 1, 'the quarantine is over');
  t.equal(await leaseAt(declinedIp), undefined);
  const [again] = (await send('DISCOVER', { mac: mac(34) }))!;
  t.ok(again, 'the pool still answers');
});

t.test('a renewal extends the lease from the time of the request', async (t) => {
  let now = 1_700_000_000_000;
  const { send, leaseAt } = await setup(t, { now: () => now });
  const r = await dora(send, mac(40));
  const ip = r!.ack!.message.yiaddr;
  const first = (await leaseAt(ip)) as Lease;
  now += 1_800_000;
  const [ack] = (await send('REQUEST', { mac: mac(40), ciaddr: ip, ipDst: '192.0.2.1' }))!;
  t.equal(ack!.type, 'ACK');
  t.equal(ack!.frame.ipv4.dst, ip, 'unicast to ciaddr');
  const renewed = (await leaseAt(ip)) as Lease;
  t.equal(renewed.start, first.start);
  t.equal(renewed.expiresAt, now + 3_600_000);
});

t.test('an offer made over a stored lease that changes before the REQUEST never decides the ACK', async (t) => {
  let now = 1_700_000_000_000;
  const { send, dhcp, store, leaseAt } = await setup(t, { now: () => now });
  const lapsed = async (m: string, other: string) => {
    // m held an address and let it lapse; other is offered that address when it asks for it.
    const ip = (await dora(send, m))!.ack!.message.yiaddr;
    now += 3_600_001;
    const [offer] = (await send('DISCOVER', { mac: other, requestedIp: ip }))!;
    t.equal(offer!.message.yiaddr, ip);
    return { ip, stored: (await store.get('lease', `${NET}/${ip}`))! };
  };

  t.test('bound again underneath: the change feed drops the offer, the client gets a NAK', async (t) => {
    const { ip, stored } = await lapsed(mac(50), mac(51));
    await store.commit([put('lease', stored.key, { ...stored.value, state: 'bound', expiresAt: now + 3_600_000 }, stored.revision)]);
    const [reply] = (await send('REQUEST', { mac: mac(51), serverId: '192.0.2.1', requestedIp: ip }))!;
    t.equal(reply!.type, 'NAK', 'no ACK on the strength of the offer');
    t.match(await leaseAt(ip), { mac: mac(50), state: 'bound' }, 'the binding stands');
  });

  t.test('rewritten underneath but still free: the ACK write conflicts, and the REQUEST is decided again from the store', async (t) => {
    const { ip, stored } = await lapsed(mac(52), mac(53));
    await store.commit([put('lease', stored.key, { ...stored.value, state: 'released', expiresAt: now }, stored.revision)]);
    const conflicts = dhcp.stats().conflicts;
    const [reply] = (await send('REQUEST', { mac: mac(53), serverId: '192.0.2.1', requestedIp: ip }))!;
    t.equal(dhcp.stats().conflicts, conflicts + 1, 'the write conditional on the revision the offer saw failed');
    t.equal(reply!.type, 'ACK', 'and the second decision, on the current revision, binds it');
    t.match(await leaseAt(ip), { mac: mac(53), state: 'bound' });
  });
});
