// The packet-in path: a bounded queue per switch that drops and counts what
// overflows, a token bucket that paces delivery, and subscribers that get
// the frame, the ingress port and the network id from the metadata.
import t from 'tap';
import { PacketInDispatcher, PacketInQueue, toEvent, type PacketInEvent } from '../../../src/openflow/packet-in.js';

const ev = (n: number): PacketInEvent => ({ dpid: 1n, host: 'hv1', inPort: n, metadata: 11n, tableId: 20, cookie: 0n, reason: 1, frame: new Uint8Array([n]) });
const turn = () => new Promise((r) => setImmediate(r));

t.test('a packet-in carries the frame, in_port and the metadata the pipeline wrote', async (t) => {
  const e = toEvent(0xabn, 'hv1', {
    type: 'packet_in',
    xid: 0,
    bufferId: 0xffffffff,
    totalLen: 3,
    reason: 1,
    tableId: 20,
    cookie: 7n,
    match: { fields: [{ field: 'in_port', value: 5n }, { field: 'metadata', value: 11n }] },
    data: new Uint8Array([1, 2, 3]),
  });
  t.same(e, { dpid: 0xabn, host: 'hv1', inPort: 5, metadata: 11n, tableId: 20, cookie: 7n, reason: 1, frame: new Uint8Array([1, 2, 3]) });
});

t.test('a full queue drops and counts; what it holds is delivered in order', async (t) => {
  const got: number[] = [];
  const q = new PacketInQueue((e) => got.push(e.inPort), { queue: 4, rate: 1_000_000, burst: 1000 });
  t.teardown(() => q.stop());
  for (let i = 0; i < 10; i++) q.push(ev(i));
  t.equal(q.counters.dropped, 6);
  t.equal(q.counters.queued, 4);
  await turn();
  t.same(got, [0, 1, 2, 3]);
  t.same(q.counters, { received: 10, delivered: 4, dropped: 6, queued: 0 });
});

t.test('the token bucket hands on a burst at once and the rest later, never more', async (t) => {
  const got: number[] = [];
  const q = new PacketInQueue((e) => got.push(e.inPort), { queue: 100, rate: 200, burst: 3 });
  t.teardown(() => q.stop());
  for (let i = 0; i < 6; i++) q.push(ev(i));
  await turn();
  t.same(got, [0, 1, 2], 'the burst');
  t.equal(q.counters.queued, 3, 'the rest wait, not dropped');
  await new Promise((r) => setTimeout(r, 100));
  t.same(got, [0, 1, 2, 3, 4, 5], 'then at the bucket\'s rate');
  t.equal(q.counters.dropped, 0);
});

t.test('a subscriber that throws does not stop the others or the queue', async (t) => {
  const d = new PacketInDispatcher();
  const seen: number[] = [];
  d.onPacketIn(() => {
    throw new Error('boom');
  });
  const off = d.onPacketIn((e) => seen.push(e.inPort));
  const q = new PacketInQueue((e) => d.dispatch(e));
  t.teardown(() => q.stop());
  q.push(ev(1));
  q.push(ev(2));
  await turn();
  t.same(seen, [1, 2]);
  off();
  q.push(ev(3));
  await turn();
  t.same(seen, [1, 2], 'an unsubscribed handler hears nothing more');
});

t.test('a stopped queue takes nothing', async (t) => {
  const q = new PacketInQueue(() => t.fail('delivered after stop'));
  q.push(ev(1));
  q.stop();
  t.equal(q.push(ev(2)), false);
  await turn();
});
