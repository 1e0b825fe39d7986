import t from 'tap';
import fc from 'fast-check';
import {
  decodeDatum, encodeDatum, decodeRow, encodeRow, defaultDatum, validateDatum, namedUuid, NamedUuid,
} from '../../../protocols/ovsdb/datum.js';
import { parseSchema, type ColumnType, type DatabaseSchema } from '../../../protocols/ovsdb/schema.js';
import { OvsdbDecodeError } from '../../../protocols/ovsdb/errors.js';
import { typedValueArb, columnTypeArb } from './arbitraries.js';
import { capturedSchemaJson, loadCapture } from './fixtures.js';

const schema: DatabaseSchema = (() => {
  const r = parseSchema(capturedSchemaJson());
  if (!r.ok) throw r.error;
  return r.value;
})();
const col = (table: string, column: string): ColumnType => schema.tables.get(table)!.columns.get(column)!.type;
const U1 = '2a7bc7e1-78b3-4925-982a-7d035f9e6eee';
const U2 = 'd7fc3b3d-832f-4c1b-936f-7134f61b7d9e';

t.test('a set of one element may be sent bare, and is encoded bare as OVS does', async (t) => {
  const ports = col('Bridge', 'ports');
  const bare = decodeDatum(['uuid', U1], ports, 'Bridge.ports');
  const tagged = decodeDatum(['set', [['uuid', U1]]], ports, 'Bridge.ports');
  t.same(bare, { ok: true, value: [U1] });
  t.same(tagged, bare);
  t.same(encodeDatum([U1], ports, 'p'), { ok: true, value: ['uuid', U1] });
  t.same(encodeDatum([U1, U2], ports, 'p'), { ok: true, value: ['set', [['uuid', U1], ['uuid', U2]]] });
  t.same(encodeDatum([], ports, 'p'), { ok: true, value: ['set', []] });
});

t.test('optional scalars are arrays of zero or one element', async (t) => {
  const failMode = col('Bridge', 'fail_mode');
  t.same(decodeDatum(['set', []], failMode, 'x'), { ok: true, value: [] });
  t.same(decodeDatum('secure', failMode, 'x'), { ok: true, value: ['secure'] });
  t.same(encodeDatum(['secure'], failMode, 'x'), { ok: true, value: 'secure' });
  t.same(defaultDatum(failMode), []);
});

t.test('maps are Maps, always tagged on the wire', async (t) => {
  const ext = col('Bridge', 'external_ids');
  const r = decodeDatum(['map', [['owner', 'weft'], ['x', '1']]], ext, 'x');
  t.ok(r.ok);
  if (r.ok) t.same([...(r.value as Map<string, string>)], [['owner', 'weft'], ['x', '1']]);
  t.same(encodeDatum(new Map([['a', 'b']]), ext, 'x'), { ok: true, value: ['map', [['a', 'b']]] });
  t.same(encodeDatum(new Map(), ext, 'x'), { ok: true, value: ['map', []] });
  const proto = decodeDatum(JSON.parse('["map",[["__proto__","x"]]]'), ext, 'x');
  t.ok(proto.ok && (proto.value as Map<string, string>).get('__proto__') === 'x', 'a hostile key is just a key');
});

t.test('named-uuids stand for rows inserted in the same transaction', async (t) => {
  const ports = col('Bridge', 'ports');
  t.same(encodeDatum([namedUuid('p1')], ports, 'x'), { ok: true, value: ['named-uuid', 'p1'] });
  const r = decodeDatum(['named-uuid', 'p1'], ports, 'x');
  t.ok(r.ok && (r.value as unknown[])[0] instanceof NamedUuid);
  t.notOk(encodeDatum([namedUuid('not a name')], ports, 'x').ok);
});

t.test('defaults follow RFC 7047: zero, false, empty, the all-zero uuid', async (t) => {
  t.equal(defaultDatum(col('Bridge', 'name')), '');
  t.equal(defaultDatum(col('Bridge', 'stp_enable')), false);
  t.equal(defaultDatum(col('Open_vSwitch', 'next_cfg')), 0);
  t.same(defaultDatum(col('Bridge', 'external_ids')), new Map());
  t.equal(defaultDatum({ key: { type: 'uuid' }, min: 1, max: 1 }), '00000000-0000-0000-0000-000000000000');
});

t.test('values that break the column type are errors that name the column', async (t) => {
  const cases: [unknown, ColumnType, string, RegExp][] = [
    ['bogus', col('Bridge', 'fail_mode'), 'Bridge.fail_mode', /^Bridge\.fail_mode: "bogus" is not one of the allowed values/],
    [5000, col('Port', 'tag'), 'Port.tag', /^Port\.tag: 5000 is greater than the maximum 4095/],
    [-1, col('Port', 'tag'), 'Port.tag', /less than the minimum 0/],
    [['set', [1, 2]], col('Port', 'tag'), 'Port.tag', /at most 1 element/],
    [['set', []], col('Bridge', 'name'), 'Bridge.name', /at least 1 element/],
    [['set', ['a', 'a']], col('Bridge', 'protocols'), 'Bridge.protocols', /not one of|duplicate/],
    [['map', [['a', '1'], ['a', '2']]], col('Bridge', 'external_ids'), 'Bridge.external_ids', /duplicate key/],
    [['set', [['a', '1']]], col('Bridge', 'external_ids'), 'Bridge.external_ids', /expected \["map"/],
    [['uuid', 'nope'], col('Bridge', 'ports'), 'Bridge.ports', /expected \["uuid"/],
    ['2a7bc7e1-78b3-4925-982a-7d035f9e6eee', col('Bridge', 'ports'), 'Bridge.ports', /expected \["uuid"/],
    [1.5, col('Open_vSwitch', 'next_cfg'), 'Open_vSwitch.next_cfg', /expected an integer/],
    [2 ** 60, col('Open_vSwitch', 'next_cfg'), 'Open_vSwitch.next_cfg', /expected an integer/],
    ['true', col('Bridge', 'stp_enable'), 'Bridge.stp_enable', /expected a boolean/],
    [['set', [1]], { key: { type: 'string' }, min: 0, max: 1 }, 'T.c', /^T\.c: expected a string/],
    [['set', ['a', 1]], { key: { type: 'string' }, min: 0, max: 2 }, 'T.c', /^T\.c\[1\]: expected a string/],
  ];
  for (const [json, type, path, re] of cases) {
    const r = decodeDatum(json, type, path);
    t.notOk(r.ok, `${path} ${JSON.stringify(json)}`);
    if (!r.ok) {
      t.type(r.error, OvsdbDecodeError);
      t.match(r.error.message, re);
    }
  }
  t.match((validateDatum(['x'], col('Bridge', 'fail_mode'), 'Bridge.fail_mode') as { error: Error }).error.message, /^Bridge\.fail_mode/);
  t.notOk(encodeDatum({ a: 'b' }, col('Bridge', 'external_ids'), 'x').ok, 'a plain object is not a map');
  t.notOk(encodeDatum('a', col('Bridge', 'protocols'), 'x').ok, 'a set needs an array');
});

t.test('every row the real server sent decodes against its schema', async (t) => {
  let rows = 0;
  for (const name of ['monitor-update', 'monitor-cond-update2', 'monitor-cond-since-update3', 'rpc-misc']) {
    for (const m of loadCapture(name).filter((m) => m.dir === 's2c')) {
      const v = m.value as { result?: unknown; method?: string; params?: unknown[] };
      const updates = Array.isArray(v.result) ? v.result[2] : v.method === 'update3' ? v.params?.[2] : v.result ?? v.params?.[1];
      if (typeof updates !== 'object' || updates === null || Array.isArray(updates) || 'cksum' in updates) continue;
      for (const [table, byUuid] of Object.entries(updates as Record<string, Record<string, Record<string, unknown>>>)) {
        for (const ru of Object.values(byUuid)) {
          for (const [kind, row] of Object.entries(ru)) {
            if (kind === 'modify' || row === null) continue; // diffs are not rows
            const r = decodeRow(row, schema.tables.get(table)!);
            t.ok(r.ok, `${name} ${table} ${kind} ${r.ok ? '' : r.error.message}`);
            rows++;
          }
        }
      }
    }
  }
  t.ok(rows > 10, `${rows} rows`);
});

t.test('rows: unknown columns are rejected on both sides', async (t) => {
  const bridge = schema.tables.get('Bridge')!;
  t.match((decodeRow({ nope: 1 }, bridge) as { error: Error }).error.message, /Bridge\.nope: no such column/);
  t.match((encodeRow({ nope: 1 }, bridge) as { error: Error }).error.message, /Bridge\.nope: no such column/);
  t.same(encodeRow({ name: 'br-int', protocols: ['OpenFlow13'] }, bridge), {
    ok: true,
    value: { name: 'br-int', protocols: 'OpenFlow13' },
  });
});

t.test('property: a datum survives encode, JSON and decode unchanged', async (t) => {
  fc.assert(
    fc.property(typedValueArb, ({ type, value }) => {
      const enc = encodeDatum(value, type, 'c');
      if (!enc.ok) throw enc.error;
      const dec = decodeDatum(JSON.parse(JSON.stringify(enc.value)), type, 'c');
      if (!dec.ok) throw dec.error;
      t.same(dec.value, value);
      return true;
    }),
    { numRuns: 1000 },
  );
});

t.test('fuzz: arbitrary JSON against arbitrary types decodes or fails typed', async (t) => {
  fc.assert(
    fc.property(columnTypeArb, fc.jsonValue({ maxDepth: 4 }), (type, json) => {
      const r = decodeDatum(json, type, 'c');
      if (r.ok) {
        // Whatever decodes must encode back to something that decodes the same.
        const again = encodeDatum(r.value, type, 'c');
        return again.ok;
      }
      return r.error instanceof OvsdbDecodeError;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
