// The flow diff: identity is table, priority and match (whatever the order
// or masks the switch reports them in); changed instructions are a
// MODIFY_STRICT, a changed cookie an ADD that replaces, a flow no longer
// wanted a DELETE_STRICT guarded by weft's cookie mask; nothing else. And the
// apply path against a fake switch: one bundle, or ordered with barriers.
import t from 'tap';
import fc from 'fast-check';
import { OFPBCT, OFPFC, output, type Message } from '../../../protocols/openflow/index.js';
import { applyDiff, diffFlows, diffSize, flowKey, flowMods, WEFT_COOKIES, type Flow } from '../../../src/openflow/sync.js';
import { handshake, pair } from './peer.js';

const f = (table: number, prio: number, inPort: number, out: number, cookieLow = 1n): Flow => ({
  cookie: WEFT_COOKIES.value | cookieLow,
  tableId: table,
  priority: prio,
  idleTimeout: 0,
  hardTimeout: 0,
  flags: 0,
  match: { fields: [{ field: 'in_port', value: BigInt(inPort) }] },
  instructions: [{ type: 'apply_actions', actions: [output(out)] }],
});

t.test('identity ignores field order and all-ones masks, and clears bits outside a mask', async (t) => {
  const a = flowKey({ tableId: 0, priority: 1, match: { fields: [{ field: 'in_port', value: 1n }, { field: 'eth_dst', value: 0x0200000000ffn, mask: 0xffffffffffffn }] } });
  const b = flowKey({ tableId: 0, priority: 1, match: { fields: [{ field: 'eth_dst', value: 0x0200000000ffn }, { field: 'in_port', value: 1n }] } });
  t.equal(a, b);
  const c = flowKey({ tableId: 0, priority: 1, match: { fields: [{ field: 'metadata', value: 0x1ffn, mask: 0xffn }] } });
  const d = flowKey({ tableId: 0, priority: 1, match: { fields: [{ field: 'metadata', value: 0xffn, mask: 0xffn }] } });
  t.equal(c, d);
  t.not(flowKey({ ...f(0, 1, 1, 1) }), flowKey({ ...f(0, 2, 1, 1) }), 'priority is part of the identity');
  t.not(flowKey({ ...f(0, 1, 1, 1) }), flowKey({ ...f(1, 1, 1, 1) }), 'so is the table');
});

t.test('the diff names each change once, by kind', async (t) => {
  const actual = [f(0, 10, 1, 2), f(0, 10, 2, 1), f(0, 10, 3, 1), f(10, 5, 1, 1, 5n)];
  const desired = [f(0, 10, 1, 2), f(0, 10, 2, 9), f(10, 5, 1, 1, 6n), f(20, 1, 1, 1)];
  const d = diffFlows(desired, actual);
  t.same(d.adds, [f(20, 1, 1, 1)]);
  t.same(d.modifies, [f(0, 10, 2, 9)]);
  t.same(d.replaces, [f(10, 5, 1, 1, 6n)]);
  t.same(d.deletes, [f(0, 10, 3, 1)]);
});

t.test('flow-mods: upserts before deletes, deletes strict and guarded by the cookie mask, never a flush', async (t) => {
  const d = diffFlows([f(0, 10, 1, 2), f(0, 10, 2, 9), f(10, 5, 1, 1, 6n)], [f(0, 10, 2, 1), f(0, 10, 3, 1), f(10, 5, 1, 1, 5n)]);
  const { upserts, deletes } = flowMods(d, WEFT_COOKIES);
  t.same(
    upserts.map((m) => (m.type === 'flow_mod' ? m.command : -1)),
    [OFPFC.ADD, OFPFC.ADD, OFPFC.MODIFY_STRICT],
  );
  for (const m of deletes) {
    if (m.type !== 'flow_mod') throw new Error('not a flow-mod');
    t.equal(m.command, OFPFC.DELETE_STRICT);
    t.equal(m.cookieMask, WEFT_COOKIES.mask);
  }
  const modify = upserts[2]!;
  t.equal(modify.type === 'flow_mod' && modify.cookieMask, WEFT_COOKIES.mask, 'a modify only hits a flow of ours');
});

t.test('property: applying the diff to the actual table gives the desired one, and a second diff is empty', async () => {
  const flowArb = fc.record({ table: fc.integer({ min: 0, max: 3 }), prio: fc.integer({ min: 0, max: 3 }), inPort: fc.integer({ min: 1, max: 4 }), out: fc.integer({ min: 1, max: 3 }), c: fc.bigInt({ min: 1n, max: 3n }) }).map((r) => f(r.table, r.prio, r.inPort, r.out, r.c));
  fc.assert(
    fc.property(fc.array(flowArb, { maxLength: 20 }), fc.array(flowArb, { maxLength: 20 }), (desired, actual) => {
      const table = new Map(actual.map((x) => [flowKey(x), x]));
      const d = diffFlows(desired, actual);
      for (const x of [...d.adds, ...d.modifies, ...d.replaces]) table.set(flowKey(x), x);
      for (const x of d.deletes) table.delete(flowKey(x));
      const after = diffFlows(desired, [...table.values()]);
      if (diffSize(after) !== 0) throw new Error('not converged');
      const want = new Map(desired.map((x) => [flowKey(x), x]));
      if (table.size !== want.size) throw new Error('sizes differ');
    }),
  );
});

t.test('apply: one bundle (open, adds, commit) in one write, then a barrier', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  const d = diffFlows([f(0, 1, 1, 1), f(0, 1, 2, 2)], [f(0, 1, 3, 3)]);
  const applied = applyDiff(session, d, WEFT_COOKIES);
  const open = await peer.nextOf('bundle_control');
  t.equal(open.controlType, OFPBCT.OPEN_REQUEST);
  const adds: Extract<Message, { type: 'bundle_add' }>[] = [];
  for (let i = 0; i < 3; i++) adds.push(await peer.nextOf('bundle_add'));
  t.same(
    adds.map((a) => a.message.type === 'flow_mod' && a.message.command),
    [OFPFC.ADD, OFPFC.ADD, OFPFC.DELETE_STRICT],
    'adds before the delete',
  );
  t.ok(adds.every((a) => a.message.xid === a.xid), 'each bundled message carries its BUNDLE_ADD\'s xid');
  const commit = await peer.nextOf('bundle_control');
  t.equal(commit.controlType, OFPBCT.COMMIT_REQUEST);
  peer.send({ ...open, controlType: OFPBCT.OPEN_REPLY });
  peer.send({ ...commit, controlType: OFPBCT.COMMIT_REPLY });
  const barrier = await peer.nextOf('barrier_request');
  peer.send({ type: 'barrier_reply', xid: barrier.xid });
  const r = await applied;
  t.same(r, { diff: { adds: 2, modifies: 0, deletes: 1 }, flowMods: 3, mode: 'bundle', errors: [] });
});

t.test('apply: a switch that refuses bundles gets adds, a barrier, then deletes and a barrier', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  const d = diffFlows([f(0, 1, 1, 1)], [f(0, 1, 3, 3)]);
  const applied = applyDiff(session, d, WEFT_COOKIES);
  const open = await peer.nextOf('bundle_control');
  // OFPBRC_BAD_EXPERIMENTER: no bundles here.
  peer.send({ type: 'error', xid: open.xid, errorType: 1, code: 3, data: new Uint8Array(0) });
  // The bundle's own messages (its adds, commit and the barrier sent with them) come first; then the ordered path.
  for (;;) {
    const m = await peer.next();
    if (m.type === 'barrier_request') {
      peer.send({ type: 'barrier_reply', xid: m.xid });
      break;
    }
  }
  const order: string[] = [];
  for (;;) {
    const m = await peer.next();
    if (m.type === 'flow_mod') order.push(m.command === OFPFC.ADD ? 'add' : m.command === OFPFC.DELETE_STRICT ? 'delete' : String(m.command));
    if (m.type === 'barrier_request') {
      order.push('barrier');
      peer.send({ type: 'barrier_reply', xid: m.xid });
      if (order.filter((o) => o === 'barrier').length === 2) break;
    }
  }
  t.same(order, ['add', 'barrier', 'delete', 'barrier']);
  const r = await applied;
  t.equal(r.mode, 'ordered');
  t.equal(r.bundlesUnsupported, true);
});
