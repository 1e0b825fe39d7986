// The host reconciler: a pure function from the model (a host, its peers,
// the controller targets) and the host's OVSDB replica to the one
// transaction that converges the host, or to nothing when it has converged.
//
// Ownership: rows weft creates carry `external_ids:weft=owned`. A row without
// the marker is the operator's and is never updated or deleted; the only
// thing weft does to an operator's row is the integration bridge's
// configuration (fail mode, protocols, controllers, datapath type,
// disable-in-band) and inserting/removing weft's own rows in its `ports` and
// `controller` sets, always by `mutate`, never by rewriting the set.
//
// Guards: every transaction starts with `wait` operations (timeout 0) on the
// rows and columns its decisions were made from, and on the absence of the
// names it is about to take, so a concurrent edit makes it fail with
// "timed out" instead of being clobbered; the caller re-reads and reruns.
//
// Decisions worth knowing (see also docs/architecture.md once the plane lands):
// - protocols: OpenFlow13 is added when missing; other versions the operator
//   enabled stay (OVS negotiates the highest common version, and weft offers
//   only 1.3), so `ovs-ofctl` without `-O` keeps working for them.
// - other_config:disable-in-band=true is set only when the key is absent: an
//   operator's explicit value wins.
// - controllers: the weft-owned Controller rows of the bridge end up with
//   exactly the given targets. A row whose target is no longer wanted is
//   retargeted in place before any is added or removed (ovs-vswitchd keeps
//   the flows then), and an empty `controllers` list leaves weft's
//   controllers alone: going to no controller flushes every flow (LAB.md
//   pitfall 3), so weft never does it on its own.
// - tunnels need the host's own encapIp (a tunnel the other side has no
//   tunnel back for is useless); a host without one gets none, and a peer
//   without one is skipped, each with a warning.
// - local_ip is set unless `localIp: false` (LAB.md pitfall 15: on the dummy
//   datapath a VXLAN port with local_ip fails routing).
// - a weft tunnel is a weft Port with `external_ids:weft-peer` and exactly
//   one weft Interface; anything else carrying the port marker is replaced.
//   Weft tunnels on bridges other than the integration bridge (the host's
//   bridge was renamed) are removed from those bridges.
import { createHash } from 'node:crypto';
import {
  type DatabaseSchema,
  type Mutation,
  type Operation,
  type Replica,
  type Result,
  type Row,
  type RowJson,
  type Condition,
  type Value,
  NamedUuid,
  condition,
  encodeRow,
  mutation,
} from '../../protocols/ovsdb/index.js';
import type { Host } from '../model/host.js';

export interface ReconcileInput {
  host: Host;
  /** The other admitted hosts; those without encapIp get no tunnel. */
  peers: Host[];
  /** OpenFlow targets of every weft replica, e.g. `tcp:198.19.1.254:6653`. */
  controllers: string[];
  /** The host's Open_vSwitch database, monitored with at least RECONCILE_MONITOR. */
  replica: Replica;
  schema: DatabaseSchema;
  /** Set `options:local_ip` on tunnels (default true); false for the dummy datapath. */
  localIp?: boolean;
}

export interface ReconcileResult {
  /** One transaction, guards first; empty when the host has converged. */
  operations: Operation[];
  /** What the operations do, one line each, for logs. */
  changes: string[];
  /** What weft wanted but did not do (a name held by an operator's row, a missing encapIp). */
  warnings: string[];
}

/** The tables and columns reconcile reads; the plane monitors at least these. */
export const RECONCILE_MONITOR: Record<'Open_vSwitch' | 'Bridge' | 'Port' | 'Interface' | 'Controller', string[]> = {
  Open_vSwitch: ['bridges'],
  Bridge: ['name', 'ports', 'controller', 'fail_mode', 'protocols', 'datapath_type', 'other_config', 'external_ids'],
  Port: ['name', 'interfaces', 'external_ids'],
  Interface: ['name', 'type', 'options', 'external_ids'],
  Controller: ['target', 'external_ids'],
};

export const OWNER_KEY = 'weft';
export const OWNER_VALUE = 'owned';
export const PEER_KEY = 'weft-peer';
export const TUNNEL_PREFIX = 'wft-';

/** A schema or replica that lacks what reconcile needs: a programming or deployment error, not a state to converge. */
export class ReconcileInputError extends Error {
  override readonly name = 'ReconcileInputError';
}

/** The tunnel port name for a peer: stable, at most 15 characters (IFNAMSIZ - 1). */
export function tunnelName(peer: string): string {
  let name = tunnelNames.get(peer);
  if (name === undefined) {
    name = TUNNEL_PREFIX + createHash('sha256').update(peer, 'utf8').digest('hex').slice(0, 10);
    // Every reconcile of every host names every peer: N² hashes per round without this.
    if (tunnelNames.size >= 65_536) tunnelNames.clear();
    tunnelNames.set(peer, name);
  }
  return name;
}
const tunnelNames = new Map<string, string>();

/** What is missing from a schema or replica for reconcile, as `Table.column` names; empty when fine. */
export function missingColumns(schema: DatabaseSchema, replica?: Replica): string[] {
  const out: string[] = [];
  for (const [table, columns] of Object.entries(RECONCILE_MONITOR)) {
    const ts = schema.tables.get(table);
    const tr = replica?.tables.get(table);
    for (const c of columns) {
      if (!ts?.columns.has(c) || (replica && !tr?.columns.includes(c))) out.push(`${table}.${c}`);
    }
  }
  return out;
}

export const isOwned = (row: Readonly<Row> | undefined): boolean => strMap(row?.external_ids).get(OWNER_KEY) === OWNER_VALUE;

function strMap(v: Value | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (v instanceof Map) for (const [k, x] of v) if (typeof k === 'string' && typeof x === 'string') out.set(k, x);
  return out;
}
const uuids = (v: Value | undefined): string[] => (Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : []);
const strs = (v: Value | undefined): string[] => (Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : typeof v === 'string' ? [v] : []);
const sameMap = (a: Map<string, string>, b: Map<string, string>): boolean => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
const fmtMap = (m: Map<string, string>): string => [...m].map(([k, v]) => `${k}=${v}`).join(',');

interface TunnelSpec {
  name: string;
  peer: Host & { encapIp: string };
  type: string;
  options: Map<string, string>;
  externalIds: Map<string, string>;
}

interface Tunnel {
  bridge: string;
  port: string;
  portRow: Readonly<Row>;
  iface?: { uuid: string; row: Readonly<Row> };
  peer: string;
}

/** Accumulates one transaction: guards, operations, and their descriptions. */
class Txn {
  readonly ops: Operation[] = [];
  readonly changes: string[] = [];
  readonly warnings: string[] = [];
  private readonly guards = new Map<string, { table: string; uuid: string; row: Readonly<Row>; columns: Set<string> }>();
  private readonly absent = new Map<string, { table: string; name: string }>();
  private named = 0;

  constructor(private readonly schema: DatabaseSchema) {}

  private must<T>(r: Result<T>): T {
    if (!r.ok) throw new ReconcileInputError(r.error.message);
    return r.value;
  }
  private tableSchema(table: string) {
    const t = this.schema.tables.get(table);
    if (!t) throw new ReconcileInputError(`${table}: no such table`);
    return t;
  }
  row(table: string, row: Record<string, unknown>): RowJson {
    return this.must(encodeRow(row, this.tableSchema(table)));
  }
  where(table: string, column: string, value: unknown): Condition[] {
    return [this.must(condition(this.tableSchema(table), column, '==', value))];
  }
  mutation(table: string, column: string, mutator: 'insert' | 'delete', value: unknown): Mutation {
    return this.must(mutation(this.tableSchema(table), column, mutator, value));
  }
  /** A fresh uuid-name, valid as an OVSDB id. */
  newName(kind: string): NamedUuid {
    return new NamedUuid(`weft_${kind}_${this.named++}`);
  }

  /** The decision depended on these columns of this row as read. */
  guard(table: string, uuid: string, row: Readonly<Row>, columns: readonly string[]): void {
    const key = `${table}/${uuid}`;
    const g = this.guards.get(key) ?? { table, uuid, row, columns: new Set<string>() };
    for (const c of columns) g.columns.add(c);
    this.guards.set(key, g);
  }
  /** The decision depended on no row of `table` being named `name`. */
  guardAbsent(table: string, name: string): void {
    this.absent.set(`${table}/${name}`, { table, name });
  }

  insert(table: string, uuidName: NamedUuid, row: Record<string, unknown>): void {
    this.ops.push({ op: 'insert', table, row: this.row(table, row), uuidName: uuidName.name });
  }
  update(table: string, uuid: string, row: Record<string, unknown>): void {
    this.ops.push({ op: 'update', table, where: this.where(table, '_uuid', uuid), row: this.row(table, row) });
  }
  mutate(table: string, uuid: string, mutations: Mutation[]): void {
    this.ops.push({ op: 'mutate', table, where: this.where(table, '_uuid', uuid), mutations });
  }

  finish(): ReconcileResult {
    if (this.ops.length === 0) return { operations: [], changes: [], warnings: this.warnings };
    const waits: Operation[] = [];
    for (const g of this.guards.values()) {
      const columns = [...g.columns].sort();
      const picked: Record<string, unknown> = {};
      for (const c of columns) picked[c] = g.row[c];
      waits.push({ op: 'wait', table: g.table, where: this.where(g.table, '_uuid', g.uuid), columns, until: '==', rows: [this.row(g.table, picked)], timeout: 0 });
    }
    for (const a of this.absent.values()) {
      waits.push({ op: 'wait', table: a.table, where: this.where(a.table, 'name', a.name), columns: ['name'], until: '==', rows: [], timeout: 0 });
    }
    return { operations: [...waits, ...this.ops], changes: this.changes, warnings: this.warnings };
  }
}

/** The transaction that converges `input.host`; see the header for what it guarantees. */
export function reconcile(input: ReconcileInput): ReconcileResult {
  const { host, schema, replica } = input;
  const missing = missingColumns(schema, replica);
  if (missing.length > 0) throw new ReconcileInputError(`reconcile needs ${missing.join(', ')}`);
  const txn = new Txn(schema);
  if (host.state !== 'admitted') {
    txn.warnings.push(`host ${host.name} is ${host.state}: not touched`);
    return txn.finish();
  }
  const rows = (table: string) => replica.tables.get(table)!.rows;
  const root = [...rows('Open_vSwitch')].sort(([a], [b]) => (a < b ? -1 : 1))[0];
  if (!root) {
    txn.warnings.push('no Open_vSwitch row (ovs-vsctl init has not run): not touched');
    return txn.finish();
  }
  const [rootUuid, rootRow] = root;
  const bridges = uuids(rootRow.bridges)
    .map((u) => ({ uuid: u, row: rows('Bridge').get(u) }))
    .filter((b): b is { uuid: string; row: Readonly<Row> } => b.row !== undefined);
  const bridge = bridges.find((b) => b.row.name === host.bridge);

  const specs = desiredTunnels(input, txn);
  const tunnels = ownedTunnels(replica, bridges);

  // Tunnels that go: stale peer, wrong name, broken shape, or on the wrong bridge.
  const keep = new Map<string, Tunnel>();
  const removeFrom = new Map<string, Tunnel[]>();
  for (const t of tunnels) {
    const spec = specs.get(t.peer);
    const ok = t.bridge === bridge?.uuid && spec !== undefined && t.portRow.name === spec.name && t.iface !== undefined && !keep.has(t.peer);
    if (ok) keep.set(t.peer, t);
    else removeFrom.set(t.bridge, [...(removeFrom.get(t.bridge) ?? []), t]);
  }
  const removed = [...removeFrom.values()].flat();
  const removedPorts = new Set(removed.map((t) => t.port));
  const removedIfaces = new Set(removed.flatMap((t) => uuids(t.portRow.interfaces)));

  // Tunnels that come: a free name, or one held by a weft port going away now
  // (ovsdb-server collects the old rows before it checks the name indexes).
  const toAdd: TunnelSpec[] = [];
  for (const spec of specs.values()) {
    if (keep.has(spec.peer.name)) continue;
    const holders = [...namedRows(replica, 'Port', spec.name), ...namedRows(replica, 'Interface', spec.name)];
    const blocked = holders.find(({ table, uuid }) => !(table === 'Port' ? removedPorts : removedIfaces).has(uuid));
    if (blocked) {
      txn.warnings.push(`tunnel ${spec.name} to ${spec.peer.name}: the name is taken by ${isOwned(blocked.row) ? 'another weft' : "an operator's"} ${blocked.table.toLowerCase()}`);
      continue;
    }
    if (holders.length === 0) {
      txn.guardAbsent('Port', spec.name);
      txn.guardAbsent('Interface', spec.name);
    }
    toAdd.push(spec);
  }

  const addTunnel = (spec: TunnelSpec): NamedUuid => {
    const iface = txn.newName('iface');
    const port = txn.newName('port');
    txn.insert('Interface', iface, { name: spec.name, type: spec.type, options: spec.options, external_ids: spec.externalIds });
    txn.insert('Port', port, { name: spec.name, interfaces: [iface], external_ids: spec.externalIds });
    txn.changes.push(`add tunnel ${spec.name} to ${spec.peer.name} ${spec.peer.encapIp} (${spec.type})`);
    return port;
  };

  for (const [bridgeUuid, gone] of removeFrom) {
    if (bridgeUuid === bridge?.uuid) continue;
    const b = bridges.find((x) => x.uuid === bridgeUuid)!;
    txn.guard('Bridge', b.uuid, b.row, ['ports']);
    for (const t of gone) guardTunnel(txn, t);
    txn.mutate('Bridge', b.uuid, [txn.mutation('Bridge', 'ports', 'delete', gone.map((t) => t.port))]);
    for (const t of gone) txn.changes.push(`remove tunnel ${t.portRow.name} to ${t.peer} from bridge ${b.row.name}`);
  }

  if (!bridge) createBridge(input, txn, rootUuid, rootRow, toAdd.map(addTunnel));
  else {
    configureBridge(input, txn, bridge);
    reconcileControllers(input, txn, bridge);
    for (const t of keep.values()) updateTunnel(txn, t, specs.get(t.peer)!);
    const gone = removeFrom.get(bridge.uuid) ?? [];
    const added = toAdd.map(addTunnel);
    const mutations: Mutation[] = [];
    if (gone.length > 0) mutations.push(txn.mutation('Bridge', 'ports', 'delete', gone.map((t) => t.port)));
    if (added.length > 0) mutations.push(txn.mutation('Bridge', 'ports', 'insert', added));
    if (mutations.length > 0) txn.mutate('Bridge', bridge.uuid, mutations);
    for (const t of gone) {
      guardTunnel(txn, t);
      const why = specs.has(t.peer) ? 'replaced' : 'no longer a peer';
      txn.changes.push(`remove tunnel ${t.portRow.name} to ${t.peer} (${why})`);
    }
    // Tunnels kept as they are need no guard: nothing writes them, and a
    // concurrent edit of one brings a monitor update and a rerun. Guarding
    // them all made every tunnel added to a mesh of N carry 2N waits.
    if (txn.ops.length > 0) txn.guard('Bridge', bridge.uuid, bridge.row, RECONCILE_MONITOR.Bridge);
  }
  return txn.finish();
}

function desiredTunnels(input: ReconcileInput, txn: Txn): Map<string, TunnelSpec> {
  const { host } = input;
  const specs = new Map<string, TunnelSpec>();
  const peers = [...input.peers].filter((p) => p.name !== host.name).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!host.encapIp) {
    if (peers.length > 0) txn.warnings.push(`host ${host.name} has no encapIp: no tunnels`);
    return specs;
  }
  const byName = new Map<string, string>();
  for (const peer of peers) {
    if (specs.has(peer.name)) continue;
    if (!peer.encapIp) {
      txn.warnings.push(`peer ${peer.name} has no encapIp: no tunnel`);
      continue;
    }
    const name = tunnelName(peer.name);
    const clash = byName.get(name);
    if (clash !== undefined) {
      txn.warnings.push(`peers ${clash} and ${peer.name} hash to the same tunnel name ${name}: no tunnel to ${peer.name}`);
      continue;
    }
    byName.set(name, peer.name);
    const options = new Map([
      ['key', 'flow'],
      ['remote_ip', peer.encapIp],
    ]);
    if (input.localIp ?? true) options.set('local_ip', host.encapIp);
    specs.set(peer.name, {
      name,
      peer: peer as Host & { encapIp: string },
      type: host.encap,
      options: new Map([...options].sort()),
      externalIds: new Map([
        [OWNER_KEY, OWNER_VALUE],
        [PEER_KEY, peer.name],
      ]),
    });
  }
  return specs;
}

/** Every weft tunnel port on any bridge of the host, in a stable order. */
function ownedTunnels(replica: Replica, bridges: { uuid: string; row: Readonly<Row> }[]): Tunnel[] {
  const ports = replica.tables.get('Port')!.rows;
  const ifaces = replica.tables.get('Interface')!.rows;
  const out: Tunnel[] = [];
  for (const b of bridges) {
    for (const port of uuids(b.row.ports).sort()) {
      const portRow = ports.get(port);
      if (!portRow || !isOwned(portRow)) continue;
      const peer = strMap(portRow.external_ids).get(PEER_KEY);
      if (peer === undefined) continue;
      const members = uuids(portRow.interfaces);
      const ifaceRow = members.length === 1 ? ifaces.get(members[0]!) : undefined;
      const iface = ifaceRow && isOwned(ifaceRow) ? { uuid: members[0]!, row: ifaceRow } : undefined;
      out.push({ bridge: b.uuid, port, portRow, iface, peer });
    }
  }
  return out;
}

function namedRows(replica: Replica, table: 'Port' | 'Interface', name: string): { table: string; uuid: string; row: Readonly<Row> }[] {
  return [...replica.tables.get(table)!.rows].filter(([, r]) => r.name === name).map(([uuid, row]) => ({ table, uuid, row }));
}

function guardTunnel(txn: Txn, t: Tunnel): void {
  txn.guard('Port', t.port, t.portRow, RECONCILE_MONITOR.Port);
  if (t.iface) txn.guard('Interface', t.iface.uuid, t.iface.row, RECONCILE_MONITOR.Interface);
}

function updateTunnel(txn: Txn, t: Tunnel, spec: TunnelSpec): void {
  const row = t.iface!.row;
  const set: Record<string, unknown> = {};
  const what: string[] = [];
  if (row.type !== spec.type) {
    set.type = spec.type;
    what.push(`type ${String(row.type) || '(none)'} -> ${spec.type}`);
  }
  const options = strMap(row.options);
  if (!sameMap(options, spec.options)) {
    set.options = spec.options;
    what.push(`options ${fmtMap(options) || '(none)'} -> ${fmtMap(spec.options)}`);
  }
  if (!sameMap(strMap(row.external_ids), spec.externalIds)) set.external_ids = spec.externalIds;
  if (Object.keys(set).length > 0) {
    guardTunnel(txn, t);
    txn.update('Interface', t.iface!.uuid, set);
    txn.changes.push(`update tunnel ${spec.name} to ${spec.peer.name}: ${what.join('; ') || 'external_ids'}`);
  }
  if (!sameMap(strMap(t.portRow.external_ids), spec.externalIds)) {
    guardTunnel(txn, t);
    txn.update('Port', t.port, { external_ids: spec.externalIds });
    if (what.length === 0 && !set.external_ids) txn.changes.push(`update tunnel ${spec.name} to ${spec.peer.name}: external_ids`);
  }
}

function createBridge(input: ReconcileInput, txn: Txn, rootUuid: string, rootRow: Readonly<Row>, tunnelPorts: NamedUuid[]): void {
  const name = input.host.bridge;
  const replica = input.replica;
  const taken = [...namedRows(replica, 'Port', name), ...namedRows(replica, 'Interface', name)][0];
  if (taken) {
    // Nothing else is worth doing: the tunnels would have no bridge to live on.
    txn.ops.length = 0;
    txn.changes.length = 0;
    txn.warnings.push(`cannot create bridge ${name}: a ${taken.table.toLowerCase()} of that name exists`);
    return;
  }
  txn.guardAbsent('Bridge', name);
  txn.guardAbsent('Port', name);
  txn.guardAbsent('Interface', name);
  txn.guard('Open_vSwitch', rootUuid, rootRow, ['bridges']);
  const owned = new Map([[OWNER_KEY, OWNER_VALUE]]);
  const iface = txn.newName('iface');
  const port = txn.newName('port');
  txn.insert('Interface', iface, { name, type: 'internal', external_ids: owned });
  txn.insert('Port', port, { name, interfaces: [iface], external_ids: owned });
  const controllers = [...new Set(input.controllers)].map((target) => {
    const c = txn.newName('controller');
    txn.insert('Controller', c, { target, external_ids: owned });
    return c;
  });
  const br = txn.newName('bridge');
  const row: Record<string, unknown> = {
    name,
    ports: [port, ...tunnelPorts],
    controller: controllers,
    fail_mode: ['secure'],
    protocols: ['OpenFlow13'],
    other_config: new Map([['disable-in-band', 'true']]),
    external_ids: owned,
  };
  if (input.host.datapathType) row.datapath_type = input.host.datapathType;
  txn.insert('Bridge', br, row);
  txn.mutate('Open_vSwitch', rootUuid, [txn.mutation('Open_vSwitch', 'bridges', 'insert', [br])]);
  const dp = input.host.datapathType ? ` datapath ${input.host.datapathType}` : '';
  txn.changes.unshift(`create bridge ${name}${dp} fail_mode=secure protocols=OpenFlow13${controllers.length ? ` controllers ${[...new Set(input.controllers)].join(' ')}` : ''}`);
}

function configureBridge(input: ReconcileInput, txn: Txn, bridge: { uuid: string; row: Readonly<Row> }): void {
  const { row } = bridge;
  const name = input.host.bridge;
  const set: Record<string, unknown> = {};
  const failMode = strs(row.fail_mode);
  if (failMode.length !== 1 || failMode[0] !== 'secure') {
    set.fail_mode = ['secure'];
    txn.changes.push(`set ${name} fail_mode=secure (was ${failMode[0] ?? 'unset'})`);
  }
  const dp = input.host.datapathType;
  if (dp && row.datapath_type !== dp) {
    set.datapath_type = dp;
    txn.changes.push(`set ${name} datapath_type=${dp} (was ${String(row.datapath_type) || 'unset'})`);
  }
  if (Object.keys(set).length > 0) txn.update('Bridge', bridge.uuid, set);
  const mutations: Mutation[] = [];
  if (!strs(row.protocols).includes('OpenFlow13')) {
    mutations.push(txn.mutation('Bridge', 'protocols', 'insert', ['OpenFlow13']));
    txn.changes.push(`add OpenFlow13 to ${name} protocols`);
  }
  if (!strMap(row.other_config).has('disable-in-band')) {
    mutations.push(txn.mutation('Bridge', 'other_config', 'insert', new Map([['disable-in-band', 'true']])));
    txn.changes.push(`set ${name} other_config:disable-in-band=true`);
  }
  if (mutations.length > 0) txn.mutate('Bridge', bridge.uuid, mutations);
}

function reconcileControllers(input: ReconcileInput, txn: Txn, bridge: { uuid: string; row: Readonly<Row> }): void {
  const wanted = [...new Set(input.controllers)];
  if (wanted.length === 0) return;
  const name = input.host.bridge;
  const rows = input.replica.tables.get('Controller')!.rows;
  const refs = new Map<string, number>();
  for (const b of input.replica.tables.get('Bridge')!.rows.values()) for (const c of uuids(b.controller)) refs.set(c, (refs.get(c) ?? 0) + 1);
  const owned = uuids(bridge.row.controller)
    .sort()
    .map((uuid) => ({ uuid, row: rows.get(uuid) }))
    .filter((c): c is { uuid: string; row: Readonly<Row> } => isOwned(c.row));
  const kept = new Set<string>();
  const spare: { uuid: string; row: Readonly<Row> }[] = [];
  for (const c of owned) {
    const target = String(c.row.target);
    if (wanted.includes(target) && !kept.has(target)) kept.add(target);
    else spare.push(c);
  }
  const missing = wanted.filter((t) => !kept.has(t));
  const remove: { uuid: string; row: Readonly<Row> }[] = [];
  const added: NamedUuid[] = [];
  for (const c of spare) {
    // A row shared with another bridge would be retargeted there too.
    const target = (refs.get(c.uuid) ?? 0) <= 1 ? missing.shift() : undefined;
    if (target === undefined) {
      remove.push(c);
      continue;
    }
    txn.update('Controller', c.uuid, { target });
    txn.changes.push(`retarget ${name} controller ${String(c.row.target)} -> ${target}`);
  }
  for (const target of missing) {
    const c = txn.newName('controller');
    txn.insert('Controller', c, { target, external_ids: new Map([[OWNER_KEY, OWNER_VALUE]]) });
    added.push(c);
    txn.changes.push(`add ${name} controller ${target}`);
  }
  const mutations: Mutation[] = [];
  if (added.length > 0) mutations.push(txn.mutation('Bridge', 'controller', 'insert', added));
  if (remove.length > 0) mutations.push(txn.mutation('Bridge', 'controller', 'delete', remove.map((c) => c.uuid)));
  if (mutations.length > 0) txn.mutate('Bridge', bridge.uuid, mutations);
  for (const c of remove) txn.changes.push(`remove ${name} controller ${String(c.row.target)}`);
  for (const c of owned) txn.guard('Controller', c.uuid, c.row, RECONCILE_MONITOR.Controller);
}

