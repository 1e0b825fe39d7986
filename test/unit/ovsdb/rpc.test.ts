import t from 'tap';
import fc from 'fast-check';
import * as ovsdb from '../../../protocols/ovsdb/index.js';
import { OvsdbDecodeError } from '../../../protocols/ovsdb/errors.js';
import { allCaptured, capturedSchemaJson, loadCapture } from './fixtures.js';

const schema = (() => {
  const r = ovsdb.parseSchema(capturedSchemaJson());
  if (!r.ok) throw r.error;
  return r.value;
})();
const table = (name: string) => schema.tables.get(name)!;
const must = <T>(r: ovsdb.Result<T>): T => {
  if (!r.ok) throw r.error;
  return r.value;
};

t.test('every captured message classifies as the JSON-RPC message it is', async (t) => {
  const kinds = new Map<string, number>();
  for (const m of allCaptured()) {
    const r = ovsdb.decodeRpc(m.value);
    t.ok(r.ok, m.text.slice(0, 60));
    if (!r.ok) continue;
    kinds.set(r.value.kind, (kinds.get(r.value.kind) ?? 0) + 1);
    if (m.dir === 'c2s') t.not(r.value.kind, 'response', 'clients here only ask');
  }
  t.ok(kinds.get('request')! > 20 && kinds.get('response')! > 20 && kinds.get('notification')! > 5 && kinds.get('error')! >= 4, JSON.stringify([...kinds]));
});

t.test('requests re-encode to exactly what the OVS tools sent', async (t) => {
  for (const m of allCaptured().filter((m) => m.dir === 'c2s')) {
    const r = must(ovsdb.decodeRpc(m.value));
    if (r.kind === 'request') {
      t.same(ovsdb.encodeRequest(r.id, { method: r.method as ovsdb.Method, params: r.params }), m.value);
      if (r.method === 'transact') {
        const ops = r.params.slice(1).map((o, i) => must(ovsdb.decodeOperation(o, `op[${i}]`)));
        t.same(ovsdb.transact(r.params[0] as string, ops).params, r.params, 'operations decode and re-encode losslessly');
      }
    } else if (r.kind === 'notification') t.same(ovsdb.encodeNotification({ method: r.method as ovsdb.Method, params: r.params }), m.value);
  }
});

t.test('the builders produce the requests ovsdb-client sends', async (t) => {
  const tx = loadCapture('transact').find((m) => m.dir === 'c2s' && m.conn === 0)!.value;
  const ovsT = table('Open_vSwitch');
  const call = ovsdb.transact('Open_vSwitch', [
    { op: 'insert', table: 'Bridge', uuidName: 'b', row: must(ovsdb.encodeRow({ name: 'br-tx', external_ids: new Map([['k', 'v']]) }, table('Bridge'))) },
    { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [must(ovsdb.mutation(ovsT, 'bridges', 'insert', [ovsdb.namedUuid('b')]))] },
    { op: 'comment', comment: 'weft capture' },
  ]);
  t.same(ovsdb.encodeRequest(0, call), tx);

  const mcs = loadCapture('monitor-cond-since-update3').find((m) => m.dir === 'c2s' && (m.value as { method: string }).method === 'monitor_cond_since')!.value;
  const where = [must(ovsdb.condition(table('Bridge'), 'name', '==', 'br-int'))];
  const call2 = ovsdb.monitorCondSince('Open_vSwitch', null, { Bridge: [{ where, columns: ['name', 'ports', 'external_ids'] }] }, ovsdb.ZERO_UUID);
  t.same(ovsdb.encodeRequest(4, call2), mcs);

  const misc = loadCapture('rpc-misc').filter((m) => m.dir === 'c2s').map((m) => m.value);
  t.same(ovsdb.encodeRequest('e1', ovsdb.echo('ping', 1)), misc[0]);
  t.same(ovsdb.encodeRequest(2, ovsdb.getSchema('NoSuchDb')), misc[1]);
  t.same(ovsdb.encodeRequest(4, ovsdb.monitor('Open_vSwitch', 'm1', { Port: { columns: ['name', 'tag'] } })).params, [
    'Open_vSwitch', 'm1', { Port: [{ columns: ['name', 'tag'] }] },
  ], 'a single request per table is sent as a one-element array');
  t.same(ovsdb.encodeRequest(5, ovsdb.monitorCancel('m1')), misc[4]);
  t.same(ovsdb.encodeRequest(7, ovsdb.unlock('weft')), misc[6]);
  const lock = loadCapture('lock').filter((m) => m.dir === 'c2s').map((m) => m.value);
  t.same(ovsdb.encodeRequest(0, ovsdb.lock('weft')), lock[0]);
  t.same(ovsdb.encodeRequest(0, ovsdb.steal('weft')), lock[1]);
  t.same(ovsdb.encodeRequest(2, ovsdb.setDbChangeAware(true)), { id: 2, method: 'set_db_change_aware', params: [true] });
  t.same(ovsdb.encodeNotification(ovsdb.cancel(9)), { id: null, method: 'cancel', params: [9] });
  t.same(ovsdb.listDbs(), { method: 'list_dbs', params: [] });
});

t.test('conditions and mutations are typed by their column', async (t) => {
  t.same(must(ovsdb.condition(table('Port'), 'tag', '==', [11])), ['tag', '==', 11]);
  t.same(must(ovsdb.condition(table('Bridge'), 'external_ids', 'includes', new Map([['owner', 'weft']]))), [
    'external_ids', 'includes', ['map', [['owner', 'weft']]],
  ]);
  t.same(must(ovsdb.condition(table('Bridge'), 'flood_vlans', 'excludes', [2])), ['flood_vlans', 'excludes', 2]);
  t.match((ovsdb.condition(table('Bridge'), 'name', '<', 'a') as { error: Error }).error.message, /^Bridge\.name: "<" applies only/);
  t.match((ovsdb.condition(table('Bridge'), 'nope', '==', 1) as { error: Error }).error.message, /Bridge\.nope: no such column/);
  t.same(must(ovsdb.mutation(table('Port'), 'tag', '*=', 1000)), ['tag', '*=', 1000], 'arithmetic is not bound by the column range');
  t.same(must(ovsdb.mutation(table('Bridge'), 'external_ids', 'delete', ['k'])), ['external_ids', 'delete', 'k'], 'map delete by keys');
  t.same(must(ovsdb.mutation(table('Bridge'), 'external_ids', 'delete', new Map([['k', 'v']]))), ['external_ids', 'delete', ['map', [['k', 'v']]]]);
  t.notOk(ovsdb.mutation(table('Bridge'), 'name', '+=', 1).ok);
});

t.test('transact replies decode into outcomes with the RFC error strings', async (t) => {
  const msgs = loadCapture('transact');
  const outcome = (conn: number) => {
    const req = msgs.find((m) => m.conn === conn && m.dir === 'c2s')!.value as { params: unknown[] };
    const rep = msgs.find((m) => m.conn === conn && m.dir === 's2c')!.value;
    const r = must(ovsdb.decodeRpc(rep));
    if (r.kind !== 'response') throw new Error('expected a response');
    return must(ovsdb.decodeTransactResult(r.result, req.params.length - 1));
  };
  const first = outcome(0);
  t.ok(first.ok);
  t.equal(first.results[0]?.kind, 'insert');
  t.match(first.results[0], { uuid: /^[0-9a-f-]{36}$/ });
  t.same(first.results.slice(1), [{ kind: 'count', count: 1 }, { kind: 'empty' }]);
  const second = outcome(1);
  t.ok(second.ok);
  t.same(second.results.map((r) => r?.kind), ['select', 'select', 'count', 'count', 'empty', 'select']);
  const rows = (second.results[5] as { rows: ovsdb.RowJson[] }).rows;
  t.ok(rows.some((row) => JSON.stringify(must(ovsdb.decodeRow(row, table('Bridge'))).flood_vlans) === '[1,3]'), 'the mutate deleted 2 from {1,2,3}');

  const failures: [number, number, string, RegExp][] = [
    [2, 0, 'timed out', /where/],
    [3, 0, 'constraint violation', /bogus is not one of the allowed values/],
    [4, 1, 'referential integrity violation', /references nonexistent row/],
    [6, 1, 'referential integrity violation', /remaining reference/],
    [7, 0, 'constraint violation', /11000 is not in the valid range/],
    [8, 0, 'not owner', /lock weft not held/],
    [9, 1, 'aborted', /./],
    [10, 1, 'syntax error', /No table named Nope/],
    [11, 0, 'syntax error', /may not be applied/],
    [12, 3, 'referential integrity violation', /remaining reference/],
  ];
  for (const [conn, index, error, details] of failures) {
    const o = outcome(conn);
    t.notOk(o.ok, `transaction ${conn} fails`);
    if (o.ok) continue;
    t.equal(o.index, index, `transaction ${conn} fails at ${index}`);
    t.equal(o.error.error, error);
    t.ok((ovsdb.OVSDB_ERRORS as readonly string[]).includes(o.error.error));
    if (error !== 'aborted') t.match(o.error.details, details);
  }
  t.same(outcome(4).results[0], { kind: 'insert', uuid: (outcome(4).results[0] as { uuid: string }).uuid }, 'results before a commit-time error are kept');
});

t.test('operation results and errors round-trip', async (t) => {
  const results: ovsdb.OperationResult[] = [
    { kind: 'insert', uuid: ovsdb.ZERO_UUID },
    { kind: 'select', rows: [{ name: 'x' }] },
    { kind: 'count', count: 3 },
    { kind: 'empty' },
    { kind: 'error', error: { error: 'timed out', details: 'd' } },
  ];
  for (const r of results) t.same(must(ovsdb.decodeOperationResult(ovsdb.encodeOperationResult(r))), r);
  t.notOk(ovsdb.decodeTransactResult([{}, {}], 1).ok, 'an extra result that is not an error');
  t.notOk(ovsdb.decodeTransactResult([], 1).ok, 'too few results');
});

t.test('error replies: bare strings and error objects, shaped like ovsdb-server\'s', async (t) => {
  const errs = loadCapture('rpc-misc').filter((m) => m.dir === 's2c').map((m) => must(ovsdb.decodeRpc(m.value))).filter((m) => m.kind === 'error');
  t.same(errs.map((e) => e.kind === 'error' && e.error.error), ['unknown database', 'unknown method', 'unknown monitor', 'syntax error', 'unknown database']);
  t.same(ovsdb.encodeError(3, { error: 'unknown method' }), { id: 3, error: 'unknown method' });
  const full = { error: 'unknown database', details: 'x', syntax: '[]' };
  t.same(must(ovsdb.decodeRpc(ovsdb.encodeError(2, full))), { kind: 'error', id: 2, error: full });
  t.same(must(ovsdb.decodeRpc(ovsdb.encodeResponse('e1', ['ping']))), { kind: 'response', id: 'e1', result: ['ping'] });
});

t.test('lock replies and notifications', async (t) => {
  const s2c = loadCapture('lock').filter((m) => m.dir === 's2c').map((m) => must(ovsdb.decodeRpc(m.value)));
  const response = s2c.find((m) => m.kind === 'response')!;
  t.same(must(ovsdb.decodeLockResult((response as { result: unknown }).result)), { locked: true });
  const notes = s2c.filter((m) => m.kind === 'notification') as { method: string; params: unknown[] }[];
  t.same(notes.map((n) => n.method), ['stolen', 'locked']);
  for (const n of notes) t.equal(must(ovsdb.decodeLockNotification(n.params)), 'weft');
  t.same(must(ovsdb.decodeListDbsResult(['Open_vSwitch', '_Server'])), ['Open_vSwitch', '_Server']);
});

t.test('malformed JSON-RPC gives typed errors', async (t) => {
  const bad: unknown[] = [null, [], 'x', { method: 1, params: [] }, { id: 1, method: 'echo' }, { id: 1, method: 'echo', params: {} }, { result: 1 }, { id: 1 }, { id: 1, error: 5 }];
  for (const b of bad) {
    const r = ovsdb.decodeRpc(b);
    t.notOk(r.ok, JSON.stringify(b));
    if (!r.ok) t.type(r.error, OvsdbDecodeError);
  }
  t.notOk(ovsdb.decodeOperation({ op: 'frob' }).ok);
  t.notOk(ovsdb.decodeOperation({ op: 'wait', table: 'T', where: [], columns: [], until: '<', rows: [] }).ok);
  t.notOk(ovsdb.decodeOperation({ op: 'select', table: 'T', where: [['a', '~', 1]] }).ok);
});

t.test('fuzz: decoders take any JSON, including mutated captures, without throwing', async (t) => {
  const samples = allCaptured().map((m) => m.value);
  const mutate = (v: unknown, path: number[], replacement: unknown): unknown => {
    if (path.length === 0 || v === null || typeof v !== 'object') return replacement;
    const entries = Object.entries(v as object);
    if (entries.length === 0) return replacement;
    const [k, child] = entries[path[0]! % entries.length]!;
    const copy: Record<string, unknown> | unknown[] = Array.isArray(v) ? [...v] : { ...(v as object) };
    (copy as Record<string, unknown>)[k] = mutate(child, path.slice(1), replacement);
    return copy;
  };
  const decodeEverything = (v: unknown): boolean => {
    const r = ovsdb.decodeRpc(v);
    if (!r.ok) return r.error instanceof OvsdbDecodeError;
    const m = r.value;
    const params = 'params' in m ? m.params : [];
    const result = m.kind === 'response' ? m.result : undefined;
    const all: ovsdb.Result<unknown>[] = [
      ovsdb.decodeUpdate(params), ovsdb.decodeUpdate2(params), ovsdb.decodeUpdate3(params), ovsdb.decodeLockNotification(params),
      ovsdb.decodeMonitorCondSinceResult(result), ovsdb.decodeTableUpdates(result), ovsdb.decodeTableUpdates2(result),
      ovsdb.decodeTransactResult(result, 1), ovsdb.parseSchema(result), ovsdb.decodeLockResult(result),
      ...params.map((p) => ovsdb.decodeOperation(p)),
    ];
    return all.every((x) => x.ok || x.error instanceof OvsdbDecodeError);
  };
  fc.assert(
    fc.property(fc.constantFrom(...samples), fc.array(fc.nat(), { maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), (s, path, rep) =>
      decodeEverything(mutate(s, path, rep)),
    ),
    { numRuns: 3000 },
  );
  fc.assert(fc.property(fc.jsonValue(), decodeEverything), { numRuns: 1000 });
  t.pass();
});
