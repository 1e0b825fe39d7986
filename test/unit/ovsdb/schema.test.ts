import t from 'tap';
import { parseSchema, encodeSchema, parseColumnType, isScalar, isSet, isMap } from '../../../protocols/ovsdb/schema.js';
import { capturedSchemaJson } from './fixtures.js';

t.test('the Open_vSwitch schema from a real server parses', async (t) => {
  const r = parseSchema(capturedSchemaJson());
  if (!r.ok) throw r.error;
  const s = r.value;
  t.equal(s.name, 'Open_vSwitch');
  t.match(s.version, /^\d+\.\d+\.\d+$/);
  t.match(s.cksum, /^\d+ \d+$/);
  t.equal(s.tables.size, 19);

  const ovs = s.tables.get('Open_vSwitch')!;
  t.ok(ovs.isRoot);
  t.equal(ovs.maxRows, 1);
  t.notOk(s.tables.get('Bridge')!.isRoot, 'isRoot defaults to false');
  t.same(s.tables.get('Bridge')!.indexes, [['name']]);
  t.same(s.tables.get('Flow_Sample_Collector_Set')!.indexes, [['id', 'bridge']]);

  const bridge = s.tables.get('Bridge')!.columns;
  t.same(bridge.get('_uuid')!.type, { key: { type: 'uuid' }, min: 1, max: 1 }, 'implicit _uuid');
  t.ok(bridge.has('_version'), 'implicit _version');
  t.same(bridge.get('name')!.type, { key: { type: 'string' }, min: 1, max: 1 });
  t.same(bridge.get('fail_mode')!.type, {
    key: { type: 'string', enum: ['secure', 'standalone'] },
    min: 0,
    max: 1,
  });
  t.same(bridge.get('ports')!.type, {
    key: { type: 'uuid', refTable: 'Port', refType: 'strong' },
    min: 0,
    max: Infinity,
  });
  t.same(bridge.get('external_ids')!.type, { key: { type: 'string' }, value: { type: 'string' }, min: 0, max: Infinity });
  t.same(bridge.get('flow_tables')!.type.value, { type: 'uuid', refTable: 'Flow_Table', refType: 'strong' });
  t.same(s.tables.get('Port')!.columns.get('tag')!.type, {
    key: { type: 'integer', minInteger: 0, maxInteger: 4095 },
    min: 0,
    max: 1,
  });
  t.equal(s.tables.get('Mirror')!.columns.get('output_port')!.type.key.refType, 'weak');
  t.ok(s.tables.get('Interface')!.columns.get('ofport')!.mutable);
  t.equal(s.tables.get('Interface')!.columns.get('name')!.mutable, false, 'mutable: false is kept');
  t.ok(s.tables.get('Controller')!.columns.get('is_connected')!.ephemeral);
});

t.test('encoding a parsed schema and parsing it again changes nothing', async (t) => {
  const first = parseSchema(capturedSchemaJson());
  if (!first.ok) throw first.error;
  const again = parseSchema(JSON.parse(JSON.stringify(encodeSchema(first.value))));
  if (!again.ok) throw again.error;
  t.same(again.value, first.value);
});

t.test('column types: bare names, min/max, unlimited', async (t) => {
  const scalar = parseColumnType('integer');
  t.ok(scalar.ok && isScalar(scalar.value));
  const opt = parseColumnType({ key: 'string', min: 0 });
  t.ok(opt.ok && isSet(opt.value) && opt.value.max === 1);
  const map = parseColumnType({ key: 'string', value: 'integer', min: 0, max: 'unlimited' });
  t.ok(map.ok && isMap(map.value) && map.value.max === Infinity);
  const single = parseColumnType({ key: { type: 'string', enum: 'only' } });
  t.ok(single.ok);
  if (single.ok) t.same(single.value.key.enum, ['only'], 'a one-value enum is a bare atom');
});

t.test('malformed schemas are rejected with the path of the fault', async (t) => {
  const base = (columns: unknown) => ({ name: 'db', version: '1.0.0', tables: { T: { columns } } });
  const cases: [unknown, RegExp][] = [
    [42, /^schema: expected an object/],
    [{ name: 'db', version: 'one', tables: {} }, /schema.version/],
    [base({ c: { type: 'float' } }), /T\.c\.type: unknown atomic type/],
    [base({ c: { type: { key: 'string', min: 2 } } }), /T\.c\.type\.min/],
    [base({ c: { type: { key: 'string', max: 0 } } }), /T\.c\.type\.max/],
    [base({ c: { type: { key: 'string', min: 1, max: 'lots' } } }), /T\.c\.type\.max/],
    [base({ c: { type: { key: { type: 'integer', enum: ['set', ['a']] } } } }), /T\.c\.type\.key\.enum/],
    [base({ c: { type: { key: { type: 'string', refTable: 'T' } } } }), /refTable/],
    [base({ c: { type: { key: { type: 'uuid', refTable: 'Nope' } } } }), /T\.c: refTable Nope/],
    [base({ c: { type: { key: { type: 'uuid', refTable: 'T', refType: 'soft' } } } }), /refType/],
    ['{"name":"db","tables":{"T":{"columns":{"__proto__":{"type":"string"}}}}}', /T\.__proto__: invalid column name/],
    [base({ _mine: { type: 'string' } }), /invalid column name/],
    [{ name: 'db', version: '1.0.0', tables: { T: { columns: {}, indexes: [['missing']] } } }, /T\.indexes/],
  ];
  for (const [json, re] of cases) {
    const r = parseSchema(JSON.parse(typeof json === 'string' ? json : JSON.stringify(json)));
    t.notOk(r.ok, re.source);
    if (!r.ok) t.match(r.error.message, re);
  }
});
