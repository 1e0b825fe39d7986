// The reconciler on hand-built replicas: what one transaction contains for
// each kind of drift, and properties over random databases: operator rows are
// never a target, every write is guarded, the output is deterministic.
import t from 'tap';
import fc from 'fast-check';
import type { Operation } from '../../../protocols/ovsdb/index.js';
import { Host } from '../../../src/model/host.js';
import { reconcile, tunnelName, isOwned, missingColumns, ReconcileInputError, type ReconcileInput } from '../../../src/ovsdb/reconcile.js';
import { Db, OWNED, schema } from './db.js';

const CTL = 'tcp:198.19.1.254:6653';
const host = (name: string, ip?: string, extra: Partial<Host> = {}): Host =>
  Host.parse({ name, state: 'admitted', ...(ip ? { encapIp: ip } : {}), ...extra });
const hv1 = host('hv1', '198.18.0.1');
const hv2 = host('hv2', '198.18.0.2');
const hv3 = host('hv3', '198.18.0.3');
const run = (db: Db, over: Partial<ReconcileInput> = {}) =>
  reconcile({ host: hv1, peers: [hv2, hv3], controllers: [CTL], replica: db.replica(), schema, ...over });

const TUNNEL_OPTIONS = (remote: string): [string, string][] => [
  ['key', 'flow'],
  ['local_ip', '198.18.0.1'],
  ['remote_ip', remote],
];

/** A host as weft leaves it: converged for hv1 with peers hv2, hv3. */
function converged(): { db: Db; br: string } {
  const db = new Db();
  const br = db.bridge('br-int', {
    fail_mode: ['secure'],
    protocols: ['OpenFlow13'],
    other_config: new Map([['disable-in-band', 'true']]),
    external_ids: new Map(OWNED),
  });
  db.controller(br, CTL, true);
  db.tunnel(br, tunnelName('hv2'), 'hv2', 'vxlan', TUNNEL_OPTIONS('198.18.0.2'));
  db.tunnel(br, tunnelName('hv3'), 'hv3', 'vxlan', TUNNEL_OPTIONS('198.18.0.3'));
  return { db, br };
}

const writes = (ops: Operation[]) => ops.filter((o) => o.op !== 'wait');
const target = (o: Operation): string | undefined =>
  'where' in o ? (o.where.find((c) => Array.isArray(c) && c[0] === '_uuid') as [string, string, [string, string]] | undefined)?.[2][1] : undefined;

t.test('tunnel names are stable, distinct per peer and fit an interface name', async (t) => {
  t.equal(tunnelName('hv2'), tunnelName('hv2'));
  t.not(tunnelName('hv2'), tunnelName('hv3'));
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), (name) => /^wft-[0-9a-f]{10}$/.test(tunnelName(name))));
});

t.test('a converged host gets no transaction at all', async (t) => {
  const r = run(converged().db);
  t.same(r.operations, []);
  t.same(r.changes, []);
});

t.test('a host that is not admitted is never touched', async (t) => {
  const r = run(new Db(), { host: { ...hv1, state: 'pending' } });
  t.same(r.operations, []);
  t.match(r.warnings, [/pending/]);
});

t.test('an empty database gets the bridge, its internal port, controllers and tunnels in one transaction', async (t) => {
  const r = run(new Db());
  const ops = writes(r.operations);
  const bridge = ops.find((o) => o.op === 'insert' && o.table === 'Bridge') as Extract<Operation, { op: 'insert' }>;
  t.equal(bridge.row.name, 'br-int');
  t.equal(bridge.row.fail_mode, 'secure');
  t.equal(bridge.row.protocols, 'OpenFlow13');
  t.same(bridge.row.other_config, ['map', [['disable-in-band', 'true']]]);
  t.same(bridge.row.external_ids, ['map', [['weft', 'owned']]]);
  t.notOk('datapath_type' in bridge.row, "no datapath type: the host's default stays");
  t.match(ops.at(-1), { op: 'mutate', table: 'Open_vSwitch', mutations: [['bridges', 'insert', ['named-uuid', bridge.uuidName]]] });
  t.equal(ops.filter((o) => o.op === 'insert' && o.table === 'Controller').length, 1);
  t.equal(ops.filter((o) => o.op === 'insert' && o.table === 'Port').length, 3, 'internal port and two tunnels');
  t.match(r.operations.slice(0, 1), [{ op: 'wait', until: '==', rows: [], timeout: 0 }], 'guarded by the absence of the names it takes');
  t.match(r.changes, [/^create bridge br-int/, /^add tunnel wft-\w+ to hv2 198\.18\.0\.2 \(vxlan\)$/, /to hv3/]);
  const netdev = writes(run(new Db(), { host: { ...hv1, datapathType: 'netdev' } }).operations).find((o) => o.op === 'insert' && o.table === 'Bridge');
  t.match(netdev, { row: { datapath_type: 'netdev' } });
});

t.test('no Open_vSwitch row: nothing to hang a bridge on', async (t) => {
  const db = new Db();
  db.rows.get('Open_vSwitch')!.clear();
  const r = run(db);
  t.same(r.operations, []);
  t.match(r.warnings, [/ovs-vsctl init/]);
});

t.test("an existing bridge is configured by update and mutate, the operator's protocols and in-band choice kept", async (t) => {
  const db = new Db();
  const br = db.bridge('br-int', { fail_mode: ['standalone'], protocols: ['OpenFlow10'], datapath_type: 'system' });
  const r = run(db, { peers: [], host: { ...hv1, datapathType: 'netdev' } });
  const ops = writes(r.operations);
  t.match(ops[0], { op: 'update', table: 'Bridge', row: { fail_mode: 'secure', datapath_type: 'netdev' } });
  t.match(ops[1], { op: 'mutate', mutations: [['protocols', 'insert', 'OpenFlow13'], ['other_config', 'insert', ['map', [['disable-in-band', 'true']]]]] });
  t.same(target(ops[0]!), br);
  const explicit = new Db();
  explicit.bridge('br-int', { fail_mode: ['secure'], protocols: ['OpenFlow13'], other_config: new Map([['disable-in-band', 'false']]) });
  t.same(writes(run(explicit, { peers: [], controllers: [] }).operations), [], 'disable-in-band=false set by the operator stays');
});

t.test('the bridge guard names every column the decision read, as read', async (t) => {
  const { db, br } = converged();
  db.get('Bridge', br).fail_mode = ['standalone'];
  const r = run(db);
  const wait = r.operations.find((o) => o.op === 'wait' && o.table === 'Bridge') as Extract<Operation, { op: 'wait' }>;
  t.same(target(wait), br);
  t.same(wait.columns, ['controller', 'datapath_type', 'external_ids', 'fail_mode', 'name', 'other_config', 'ports', 'protocols']);
  t.equal(wait.rows[0]!.fail_mode, 'standalone');
  t.equal(wait.timeout, 0);
  t.equal(wait.until, '==');
});

t.test('controllers: retarget in place first, add the rest, remove only weft rows, never all', async (t) => {
  const { db, br } = converged();
  const mine = db.get('Bridge', br).controller as string[];
  const theirs = db.controller(br, 'tcp:198.19.9.9:6653', false);
  const r = run(db, { controllers: ['tcp:198.19.2.254:6653', 'tcp:198.19.3.254:6653'] });
  const ops = writes(r.operations);
  t.match(ops[0], { op: 'update', table: 'Controller', row: { target: 'tcp:198.19.2.254:6653' } });
  t.same(target(ops[0]!), mine[0]);
  t.match(ops[1], { op: 'insert', table: 'Controller', row: { target: 'tcp:198.19.3.254:6653', external_ids: ['map', [['weft', 'owned']]] } });
  t.match(ops[2], { op: 'mutate', table: 'Bridge', mutations: [['controller', 'insert', ['named-uuid', String]]] });
  t.notOk(JSON.stringify(r.operations.filter((o) => o.op !== 'wait')).includes(theirs), "the operator's controller is not in any write");

  const fewer = new Db();
  const b = fewer.bridge('br-int', { fail_mode: ['secure'], protocols: ['OpenFlow13'], other_config: new Map([['disable-in-band', 'true']]) });
  const a = fewer.controller(b, 'tcp:198.19.1.1:6653', true);
  const c = fewer.controller(b, 'tcp:198.19.1.2:6653', true);
  const r2 = run(fewer, { peers: [], controllers: ['tcp:198.19.1.2:6653'] });
  t.match(writes(r2.operations), [{ op: 'mutate', mutations: [['controller', 'delete', ['uuid', a]]] }]);
  t.notOk(JSON.stringify(r2.operations.filter((o) => o.op !== 'wait')).includes(c));
  t.same(run(fewer, { peers: [], controllers: [] }).operations, [], 'no targets: the controllers stay (going to none flushes flows)');
});

t.test('a controller row shared with another bridge is not retargeted', async (t) => {
  const { db, br } = converged();
  const shared = (db.get('Bridge', br).controller as string[])[0]!;
  const other = db.bridge('br-x');
  db.get('Bridge', other).controller = [shared];
  const ops = writes(run(db, { controllers: ['tcp:198.19.7.7:6653'] }).operations);
  t.notOk(ops.some((o) => o.op === 'update' && o.table === 'Controller'));
  t.match(ops, [{ op: 'insert', table: 'Controller' }, { op: 'mutate', mutations: [['controller', 'insert', Array], ['controller', 'delete', ['uuid', shared]]] }]);
});

t.test('tunnels: stale ones go, drifted ones are updated in place, broken ones replaced', async (t) => {
  const { db, br } = converged();
  const ports = db.get('Bridge', br).ports as string[];
  const hv3port = ports[2]!;
  const hv3iface = (db.get('Port', hv3port).interfaces as string[])[0]!;
  db.get('Interface', hv3iface).options = new Map(TUNNEL_OPTIONS('198.18.0.33'));
  const r = run(db, { peers: [hv3, host('hv4', '198.18.0.4')] });
  const ops = writes(r.operations);
  t.match(ops, [
    { op: 'update', table: 'Interface', row: { options: ['map', [['key', 'flow'], ['local_ip', '198.18.0.1'], ['remote_ip', '198.18.0.3']]] } },
    { op: 'insert', table: 'Interface', row: { name: tunnelName('hv4'), type: 'vxlan' } },
    { op: 'insert', table: 'Port', row: { name: tunnelName('hv4') } },
    { op: 'mutate', table: 'Bridge', mutations: [['ports', 'delete', ['uuid', ports[1]]], ['ports', 'insert', ['named-uuid', String]]] },
  ]);
  t.same(target(ops[0]!), hv3iface);
  t.match(r.changes, [/update tunnel .* to hv3: options .*remote_ip=198\.18\.0\.33 -> .*remote_ip=198\.18\.0\.3$/, /add tunnel .* to hv4/, /remove tunnel .* to hv2 \(no longer a peer\)/]);

  const broken = converged();
  const p = (broken.db.get('Bridge', broken.br).ports as string[])[1]!;
  const i = (broken.db.get('Port', p).interfaces as string[])[0]!;
  broken.db.get('Interface', i).external_ids = new Map();
  const r2 = run(broken.db);
  t.match(writes(r2.operations), [
    { op: 'insert', table: 'Interface', row: { name: tunnelName('hv2') } },
    { op: 'insert', table: 'Port' },
    { op: 'mutate', mutations: [['ports', 'delete', ['uuid', p]], ['ports', 'insert', Array]] },
  ], 'a port whose interface lost the marker is replaced, in the same transaction, under the same name');
  t.notOk(r2.operations.some((o) => o.op === 'update' && target(o) === i), 'its unmarked interface is not updated');
});

t.test('local_ip is optional, and tunnels need endpoints on both sides', async (t) => {
  const noLocal = writes(run(new Db(), { localIp: false }).operations).find((o) => o.op === 'insert' && o.table === 'Interface' && o.row.type === 'vxlan');
  t.same((noLocal as Extract<Operation, { op: 'insert' }>).row.options, ['map', [['key', 'flow'], ['remote_ip', '198.18.0.2']]]);
  const r = run(new Db(), { peers: [hv2, host('hv9')] });
  t.equal(writes(r.operations).filter((o) => o.op === 'insert' && o.table === 'Port').length, 2, 'internal port and one tunnel');
  t.match(r.warnings, [/peer hv9 has no encapIp/]);
  const none = run(new Db(), { host: host('hv1') });
  t.equal(writes(none.operations).filter((o) => o.op === 'insert' && o.table === 'Port').length, 1);
  t.match(none.warnings, [/host hv1 has no encapIp/]);
  t.equal(writes(run(new Db(), { peers: [hv1, hv2] }).operations).filter((o) => o.op === 'insert' && o.table === 'Port').length, 2, 'the host is not its own peer');
});

t.test("a tunnel name held by an operator's port is left alone, with a warning", async (t) => {
  const { db } = converged();
  const user = db.bridge('br-user');
  db.port(user, tunnelName('hv4'));
  const r = run(db, { peers: [hv2, hv3, host('hv4', '198.18.0.4')] });
  t.same(r.operations, []);
  t.match(r.warnings, [/name is taken by an operator's port/]);
});

t.test("a bridge name held by an operator's port blocks the bridge, and everything else", async (t) => {
  const db = new Db();
  db.port(db.bridge('br-user'), 'br-int');
  const r = run(db);
  t.same(r.operations, []);
  t.match(r.warnings, [/cannot create bridge br-int/]);
});

t.test("weft tunnels on another bridge (the host's bridge was renamed) are removed from it", async (t) => {
  const { db, br } = converged();
  const r = run(db, { host: { ...hv1, bridge: 'vmbr2' } });
  const ops = writes(r.operations);
  t.match(ops[0], { op: 'mutate', table: 'Bridge', mutations: [['ports', 'delete', ['set', Array]]] });
  t.same(target(ops[0]!), br);
  t.ok(ops.some((o) => o.op === 'insert' && o.table === 'Bridge' && o.row.name === 'vmbr2'));
  t.equal(ops.filter((o) => o.op === 'insert' && o.table === 'Port' && String(o.row.name).startsWith('wft-')).length, 2, 'the tunnels move to the new bridge');
});

t.test('a schema or replica without the needed columns is refused by a typed error', async (t) => {
  t.same(missingColumns(schema), []);
  const db = new Db();
  const replica = db.replica();
  const tables = new Map(replica.tables);
  tables.set('Interface', { ...tables.get('Interface')!, columns: ['name'] });
  t.throws(() => reconcile({ host: hv1, peers: [], controllers: [], replica: { tables }, schema }), ReconcileInputError);
});

// Random databases -----------------------------------------------------------

const PEERS = ['hv2', 'hv3', 'hv4', 'hv5'];
const TARGETS = ['tcp:198.19.1.254:6653', 'tcp:198.19.2.254:6653', 'tcp:198.19.3.254:6653'];

interface Scenario {
  brInt: null | { owned: boolean; failMode: string[]; protocols: string[] };
  userBridges: number;
  userPortsOnBrInt: number;
  controllers: { target: string; owned: boolean }[];
  tunnels: { peer: string; remote: string; brokenIface: boolean; onUserBridge: boolean; rightName: boolean }[];
  peers: { name: string; ip: string | null }[];
  wanted: string[];
  localIp: boolean;
  encap: 'vxlan' | 'geneve' | 'gre';
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  brInt: fc.option(
    fc.record({
      owned: fc.boolean(),
      failMode: fc.constantFrom([], ['secure'], ['standalone']),
      protocols: fc.subarray(['OpenFlow10', 'OpenFlow13', 'OpenFlow15']),
    }),
    { nil: null },
  ),
  userBridges: fc.integer({ min: 0, max: 2 }),
  userPortsOnBrInt: fc.integer({ min: 0, max: 2 }),
  controllers: fc.array(fc.record({ target: fc.constantFrom(...TARGETS, 'tcp:198.19.9.9:6653'), owned: fc.boolean() }), { maxLength: 3 }),
  tunnels: fc.array(
    fc.record({
      peer: fc.constantFrom(...PEERS),
      remote: fc.constantFrom('198.18.0.2', '198.18.0.3', '198.18.0.9'),
      brokenIface: fc.boolean(),
      onUserBridge: fc.boolean(),
      rightName: fc.boolean(),
    }),
    { maxLength: 4 },
  ),
  peers: fc.uniqueArray(fc.record({ name: fc.constantFrom(...PEERS), ip: fc.option(fc.constantFrom('198.18.0.2', '198.18.0.3', '198.18.0.4'), { nil: null }) }), {
    selector: (p) => p.name,
    maxLength: 4,
  }),
  wanted: fc.subarray(TARGETS),
  localIp: fc.boolean(),
  encap: fc.constantFrom('vxlan' as const, 'geneve' as const, 'gre' as const),
});

function build(s: Scenario): { db: Db; input: ReconcileInput; brInt?: string } {
  const db = new Db();
  let brInt: string | undefined;
  const users: string[] = [];
  for (let i = 0; i < s.userBridges; i++) {
    const u = db.bridge(`br-user${i}`);
    db.port(u, `eth${i}`);
    users.push(u);
  }
  if (s.brInt) {
    brInt = db.bridge('br-int', {
      fail_mode: s.brInt.failMode,
      protocols: s.brInt.protocols,
      ...(s.brInt.owned ? { external_ids: new Map(OWNED) } : {}),
    });
    for (let i = 0; i < s.userPortsOnBrInt; i++) db.port(brInt, `vm${i}`, {}, { tag: [11 * (i + 1)] });
    for (const c of s.controllers) db.controller(brInt, c.target, c.owned);
  }
  if (users[0]) db.controller(users[0], 'tcp:198.19.8.8:6653', false);
  s.tunnels.forEach((tn, i) => {
    const on = tn.onUserBridge ? users[0] : brInt;
    if (!on) return;
    const name = tn.rightName ? tunnelName(tn.peer) : `wft-old${i}`;
    if ([...db.rows.get('Port')!.values()].some((r) => r.name === name)) return;
    const p = db.tunnel(on, name, tn.peer, 'vxlan', TUNNEL_OPTIONS(tn.remote));
    if (tn.brokenIface) db.get('Interface', (db.get('Port', p).interfaces as string[])[0]!).external_ids = new Map();
  });
  const input: ReconcileInput = {
    host: host('hv1', '198.18.0.1', { encap: s.encap }),
    peers: s.peers.map((p) => host(p.name, p.ip ?? undefined)),
    controllers: s.wanted,
    replica: db.replica(),
    schema,
    localIp: s.localIp,
  };
  return { db, input, ...(brInt ? { brInt } : {}) };
}

t.test('property: operator rows are never updated or deleted, and only weft rows leave a set', async (t) => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const { input, brInt } = build(s);
      const { operations } = reconcile(input);
      const row = (table: string, uuid: string) => input.replica.tables.get(table)!.rows.get(uuid);
      for (const o of operations) {
        if (o.op === 'delete') return false;
        if (o.op === 'update') {
          const u = target(o)!;
          if (o.table === 'Bridge') {
            if (u !== brInt || !Object.keys(o.row).every((c) => c === 'fail_mode' || c === 'datapath_type')) return false;
          } else if (!isOwned(row(o.table, u))) return false;
        }
        if (o.op === 'mutate') {
          for (const [column, mutator, value] of o.mutations) {
            if (o.table === 'Open_vSwitch' && mutator !== 'insert') return false;
            if (o.table !== 'Bridge' && o.table !== 'Open_vSwitch') return false;
            if (o.table === 'Bridge' && target(o) !== brInt && column !== 'ports') return false;
            if (mutator === 'delete') {
              const gone = Array.isArray(value) && value[0] === 'set' ? (value[1] as [string, string][]) : [value as [string, string]];
              const table = column === 'ports' ? 'Port' : column === 'controller' ? 'Controller' : undefined;
              if (!table || !gone.every(([, u]) => isOwned(row(table, u)))) return false;
            }
          }
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
});

t.test('property: every write is guarded, guards come first and never block', async (t) => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const { operations } = reconcile(build(s).input);
      if (operations.length === 0) return true;
      const firstWrite = operations.findIndex((o) => o.op !== 'wait');
      return (
        firstWrite > 0 &&
        operations.slice(0, firstWrite).every((o) => o.op === 'wait' && o.timeout === 0 && o.until === '==') &&
        operations.slice(firstWrite).every((o) => o.op !== 'wait')
      );
    }),
    { numRuns: 300 },
  );
});

t.test('property: a bridge with controllers keeps at least one when targets are given', async (t) => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const { input, brInt } = build(s);
      if (!brInt) return true;
      const before = input.replica.tables.get('Bridge')!.rows.get(brInt)!.controller as string[];
      let after = before.length;
      for (const o of reconcile(input).operations) {
        if (o.op !== 'mutate' || target(o) !== brInt) continue;
        for (const [column, mutator, value] of o.mutations) {
          if (column !== 'controller') continue;
          const n = Array.isArray(value) && value[0] === 'set' ? (value[1] as unknown[]).length : 1;
          after += mutator === 'insert' ? n : -n;
        }
      }
      return before.length === 0 || after > 0;
    }),
    { numRuns: 300 },
  );
});

t.test('property: the same input gives the same transaction', async (t) => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const { input } = build(s);
      return JSON.stringify(reconcile(input)) === JSON.stringify(reconcile({ ...input, peers: [...input.peers].reverse() }));
    }),
    { numRuns: 200 },
  );
});
