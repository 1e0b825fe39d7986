import t from 'tap';
import fc from 'fast-check';
import * as ovsdb from '../../../protocols/ovsdb/index.js';
import { capturedSchemaJson, loadCapture } from './fixtures.js';
import { columnTypeArb, valueArb } from './arbitraries.js';
import type { Atom, Value } from '../../../protocols/ovsdb/datum.js';
import type { ColumnType } from '../../../protocols/ovsdb/schema.js';

const schema = (() => {
  const r = ovsdb.parseSchema(capturedSchemaJson());
  if (!r.ok) throw r.error;
  return r.value;
})();
const must = <T>(r: ovsdb.Result<T>): T => {
  if (!r.ok) throw r.error;
  return r.value;
};
const BRIDGE_COLUMNS = ['name', 'ports', 'external_ids', 'fail_mode', 'protocols', 'datapath_type', 'other_config'];

/** The server-to-client messages of a capture, decoded. */
const serverSaid = (name: string) =>
  loadCapture(name).filter((m) => m.dir === 's2c').map((m) => must(ovsdb.decodeRpc(m.value)));

t.test('update2 from a real server: insert, modify diffs, delete', async (t) => {
  let replica = must(ovsdb.createReplica(schema, { Bridge: BRIDGE_COLUMNS }));
  const msgs = serverSaid('monitor-cond-update2');
  const initial = msgs.find((m) => m.kind === 'response' && JSON.stringify(m.result).startsWith('{"Bridge"'))!;
  replica = must(ovsdb.applyUpdate2(schema, replica, must(ovsdb.decodeTableUpdates2((initial as { result: unknown }).result)))).replica;
  const brInt = [...replica.tables.get('Bridge')!.rows.values()].find((r) => r.name === 'br-int')!;
  t.same(brInt.fail_mode, ['secure']);
  t.same(brInt.datapath_type, '', 'columns the server left out hold their default');

  const notes = msgs.filter((m) => m.kind === 'notification' && m.method === 'update2') as { params: unknown[] }[];
  t.equal(notes.length, 5);
  const steps = notes.map((n) => {
    const r = must(ovsdb.applyUpdate2(schema, replica, must(ovsdb.decodeUpdate2(n.params)).updates));
    replica = r.replica;
    return r.changes;
  });
  type C = ovsdb.RowChange;
  const [insert, modify, addPort, clear, del] = steps.map((c) => c[0]!) as [C, C, C, C, C];
  t.equal(insert.kind, 'insert');
  t.same(insert.new!.external_ids, new Map([['a', '1'], ['b', '2']]));
  t.same(insert.new!.protocols, ['OpenFlow10', 'OpenFlow13']);
  t.same(insert.new!.fail_mode, []);

  // set external_ids:a=changed external_ids:c=3, remove b; protocols 10,13 -> 13,14
  t.equal(modify.kind, 'modify');
  t.same(modify.new!.external_ids, new Map([['a', 'changed'], ['c', '3']]), 'map diff: changed, removed, added');
  t.same([...(modify.new!.protocols as string[])].sort(), ['OpenFlow13', 'OpenFlow14'], 'set diff toggles');
  t.same(modify.new!.fail_mode, ['standalone'], 'optional scalar: the diff is the new value');
  t.equal(modify.new!.datapath_type, 'netdev', 'scalar: the diff is the new value');
  t.same(modify.old!.external_ids, new Map([['a', '1'], ['b', '2']]), 'the old row is kept in the change');
  t.equal(modify.new!.name, 'br-user', 'untouched columns survive');

  t.equal((addPort.new!.ports as string[]).length, 2, 'a bare uuid in a diff adds one port');
  t.same(clear.new!.fail_mode, [], 'clearing an optional scalar');
  t.same(clear.new!.other_config, new Map([['hwaddr', '02:00:00:00:00:01']]));
  t.equal(del.kind, 'delete');
  t.equal(replica.tables.get('Bridge')!.rows.size, 1, 'only br-int is left');
});

t.test('update (v1) from a real server gives the same rows as update2', async (t) => {
  let replica = must(ovsdb.createReplica(schema, { Bridge: ['name', 'ports', 'external_ids', 'fail_mode', 'protocols'] }));
  const msgs = serverSaid('monitor-update');
  const reply = msgs.find((m) => m.kind === 'response' && JSON.stringify(m.result).startsWith('{"Bridge"')) as { result: unknown };
  replica = must(ovsdb.applyUpdate(schema, replica, must(ovsdb.decodeTableUpdates(reply.result)))).replica;
  const notes = msgs.filter((m) => m.kind === 'notification' && m.method === 'update') as { params: unknown[] }[];
  const kinds: string[] = [];
  for (const n of notes) {
    const r = must(ovsdb.applyUpdate(schema, replica, must(ovsdb.decodeUpdate(n.params)).updates));
    replica = r.replica;
    kinds.push(...r.changes.map((c) => c.kind));
    if (kinds.length === 2) {
      const row = r.changes[0]!.new!;
      t.same(row.external_ids, new Map([['a', 'changed']]));
      t.same(row.fail_mode, ['standalone']);
      t.same(row.protocols, ['OpenFlow13']);
    }
  }
  t.same(kinds, ['insert', 'modify', 'modify', 'delete']);
});

t.test('update3 and the monitor_cond_since reply carry the last transaction id', async (t) => {
  const msgs = serverSaid('monitor-cond-since-update3');
  const reply = msgs.find((m) => m.kind === 'response' && Array.isArray(m.result) && m.result.length === 3) as { result: unknown };
  const since = must(ovsdb.decodeMonitorCondSinceResult(reply.result));
  t.equal(since.found, false, 'a standalone server keeps no history');
  t.equal(since.lastTxnId, ovsdb.ZERO_UUID);
  let replica = must(ovsdb.createReplica(schema, { Bridge: ['name', 'ports', 'external_ids'] }));
  replica = must(ovsdb.applyUpdate2(schema, replica, since.updates)).replica;
  const notes = msgs.filter((m) => m.kind === 'notification' && m.method === 'update3') as { params: unknown[] }[];
  t.equal(notes.length, 2);
  for (const n of notes) {
    const u = must(ovsdb.decodeUpdate3(n.params));
    t.match(u.lastTxnId, /^[0-9a-f-]{36}$/);
    replica = must(ovsdb.applyUpdate2(schema, replica, u.updates)).replica;
  }
  const row = [...replica.tables.get('Bridge')!.rows.values()][0]!;
  t.equal((row.external_ids as Map<string, string>).get('x'), '1');
  t.equal((row.ports as string[]).length, 4);
});

t.test('the replica is never changed in place', async (t) => {
  const empty = must(ovsdb.createReplica(schema, { Bridge: ['name'] }));
  const U = '56804ae5-f5df-45c0-a5f2-509e84a19049';
  const one = must(ovsdb.applyUpdate2(schema, empty, new Map([['Bridge', new Map([[U, { kind: 'insert' as const, row: { name: 'a' } }]])]])));
  t.equal(empty.tables.get('Bridge')!.rows.size, 0);
  const two = must(ovsdb.applyUpdate2(schema, one.replica, new Map([['Bridge', new Map([[U, { kind: 'modify' as const, row: { name: 'b' } }]])]])));
  t.equal(one.replica.tables.get('Bridge')!.rows.get(U)!.name, 'a');
  t.equal(two.replica.tables.get('Bridge')!.rows.get(U)!.name, 'b');
});

t.test('inconsistent updates are errors, not silent repairs', async (t) => {
  const U = '56804ae5-f5df-45c0-a5f2-509e84a19049';
  const r = must(ovsdb.createReplica(schema, { Bridge: ['name', 'fail_mode'] }));
  const up = (kind: 'insert' | 'modify' | 'delete', row: ovsdb.RowJson = {}) =>
    new Map([['Bridge', new Map<string, ovsdb.RowUpdate2>([[U, kind === 'delete' ? { kind } : { kind, row }]])]]);
  t.match((ovsdb.applyUpdate2(schema, r, up('modify', { name: 'x' })) as { error: Error }).error.message, /modify of an unknown row/);
  t.match((ovsdb.applyUpdate2(schema, r, up('delete')) as { error: Error }).error.message, /delete of an unknown row/);
  const withRow = must(ovsdb.applyUpdate2(schema, r, up('insert', { name: 'x' }))).replica;
  t.match((ovsdb.applyUpdate2(schema, withRow, up('insert', { name: 'x' })) as { error: Error }).error.message, /already exists/);
  t.match((ovsdb.applyUpdate2(schema, withRow, up('modify', { fail_mode: 'bogus' })) as { error: Error }).error.message, /^Bridge\.fail_mode/);
  const port = new Map([['Port', new Map<string, ovsdb.RowUpdate2>([[U, { kind: 'insert', row: {} }]])]]);
  t.match((ovsdb.applyUpdate2(schema, r, port) as { error: Error }).error.message, /not monitored/);
  t.notOk(ovsdb.createReplica(schema, { Nope: undefined }).ok);
  t.notOk(ovsdb.decodeTableUpdates2({ Bridge: { [U]: { insert: {}, delete: null } } }).ok, 'two kinds in one row update');
  t.notOk(ovsdb.decodeTableUpdates2({ Bridge: { 'not-a-uuid': { delete: null } } }).ok);
  t.notOk(ovsdb.decodeTableUpdates({ Bridge: { [U]: {} } }).ok);
});

/** The diff ovsdb-server would send for old -> new (ovsdb-server(7), update2). */
function serverDiff(type: ColumnType, oldV: Value, newV: Value): Value {
  if (type.value) {
    const o = oldV as Map<Atom, Atom>;
    const n = newV as Map<Atom, Atom>;
    const d = new Map<Atom, Atom>();
    for (const [k, v] of o) if (!n.has(k)) d.set(k, v);
    for (const [k, v] of n) if (!o.has(k) || o.get(k) !== v) d.set(k, v);
    return d;
  }
  if (type.max === 1) return newV;
  const o = new Set(oldV as Atom[]);
  const n = new Set(newV as Atom[]);
  return [...[...o].filter((a) => !n.has(a)), ...[...n].filter((a) => !o.has(a))];
}

const sortedish = (v: Value) => (Array.isArray(v) ? [...v].map(String).sort() : v instanceof Map ? [...v].map(String).sort() : v);

t.test('property: applying the server\'s diff of old -> new gives new', async (t) => {
  const arb = columnTypeArb.chain((type) => fc.tuple(fc.constant(type), valueArb(type), valueArb(type)));
  fc.assert(
    fc.property(arb, ([type, oldV, newV]) => {
      // Through the wire, as a real diff would come.
      const wire = must(ovsdb.encodeDatum(serverDiff(type, oldV, newV), type.max === 1 && !type.value ? type : { ...type, min: 0, max: Infinity }, 'c'));
      const diff = must(ovsdb.decodeDatum(JSON.parse(JSON.stringify(wire)), type.max === 1 && !type.value ? type : { ...type, min: 0, max: Infinity }, 'c'));
      const after = must(ovsdb.applyDiff(oldV, diff, type, 'c'));
      t.same(sortedish(after), sortedish(newV));
      return true;
    }),
    { numRuns: 1000 },
  );
});

t.test('property: table updates round-trip through their wire form', async (t) => {
  const row = fc.dictionary(fc.constantFrom('name', 'tag', 'external_ids'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
  const ru2 = fc.oneof(
    fc.record({ kind: fc.constantFrom('initial' as const, 'insert' as const, 'modify' as const), row }),
    fc.constant({ kind: 'delete' as const }),
  );
  const updates2 = fc.dictionary(fc.constantFrom('Bridge', 'Port'), fc.dictionary(fc.uuid({ version: 4 }), ru2, { maxKeys: 3 }), { maxKeys: 2 }).map(
    (o): ovsdb.TableUpdates2 => new Map(Object.entries(o).map(([k, v]) => [k, new Map(Object.entries(v) as [string, ovsdb.RowUpdate2][])])),
  );
  fc.assert(
    fc.property(updates2, (u) => {
      t.same(must(ovsdb.decodeTableUpdates2(JSON.parse(JSON.stringify(ovsdb.encodeTableUpdates2(u))))), u);
      return true;
    }),
    { numRuns: 300 },
  );
  const v1 = new Map([['Port', new Map([['56804ae5-f5df-45c0-a5f2-509e84a19049', { old: { name: 'a' }, new: { name: 'b' } }]])]]);
  t.same(must(ovsdb.decodeTableUpdates(JSON.parse(JSON.stringify(ovsdb.encodeTableUpdates(v1))))), v1);
});
