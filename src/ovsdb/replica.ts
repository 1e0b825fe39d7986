// A live replica of one host's Open_vSwitch database, kept by a monitor on a
// session: get_schema, then monitor_cond_since (falling back to monitor_cond,
// then monitor on old servers), folding every update into the replica. Only
// the columns weft needs are monitored, so a host with thousands of ports
// costs little. A reconnect may resume from the last transaction id: when the
// server still knows it (found=true, clustered databases) it sends only what
// changed; otherwise (every standalone Open_vSwitch database) it sends the
// whole initial state again.
import {
  ZERO_UUID,
  applyUpdate,
  applyUpdate2,
  createReplica,
  decodeMonitorCondSinceResult,
  decodeTableUpdates,
  decodeTableUpdates2,
  decodeUpdate,
  decodeUpdate2,
  decodeUpdate3,
  getSchema,
  monitor,
  monitorCond,
  monitorCondSince,
  parseSchema,
  type Atom,
  type DatabaseSchema,
  type MonitorCondRequests,
  type Replica,
  type Result,
  type Row,
  type RowChange,
  type TableUpdates,
  type TableUpdates2,
  type Value,
} from '../../protocols/ovsdb/index.js';
import { isOwned, PEER_KEY, RECONCILE_MONITOR } from './reconcile.js';
import { RpcError, type Session } from './session.js';

export const DATABASE = 'Open_vSwitch';
const MONITOR_ID = 'weft';

const READ: Record<string, string[]> = {
  Open_vSwitch: ['bridges', 'external_ids', 'datapath_types', 'iface_types', 'ovs_version', 'manager_options'],
  Bridge: ['name', 'ports', 'controller', 'fail_mode', 'protocols', 'datapath_type', 'datapath_id', 'external_ids', 'other_config'],
  Port: ['name', 'interfaces', 'tag', 'trunks', 'vlan_mode', 'external_ids'],
  Interface: ['name', 'type', 'options', 'ofport', 'ofport_request', 'external_ids', 'error'],
  Controller: ['target', 'external_ids', 'is_connected'],
  Manager: ['target', 'external_ids', 'is_connected'],
};

/** The columns weft reads (its own and the reconciler's); columns an older schema lacks are left out. */
export const MONITORED: Record<string, string[]> = Object.fromEntries(
  Object.entries(READ).map(([table, cols]) => [table, [...new Set([...cols, ...((RECONCILE_MONITOR as Record<string, string[]>)[table] ?? [])])]]),
);

/** Interface types that are tunnels, not VM ports. */
const TUNNEL_TYPES = new Set(['vxlan', 'geneve', 'gre', 'stt', 'erspan', 'ip6gre', 'ip6erspan', 'gtpu', 'bareudp', 'srv6']);

/** Where a later session on the same database may resume from. */
export interface ResumePoint {
  schema: DatabaseSchema;
  replica: Replica;
  lastTxnId: string;
}

/** A VM/container port on the integration bridge, for the OpenFlow plane. */
export interface VmPort {
  name: string;
  /** OpenFlow port number once ovs-vswitchd has assigned one. */
  ofport?: number;
  /** The access VLAN (Proxmox sets it on VM ports). */
  tag?: number;
  /** `external_ids:attached-mac` as libvirt sets it. */
  mac?: string;
  /** `external_ids:iface-id`. */
  ifaceId?: string;
  externalIds: Record<string, string>;
}

/** A weft tunnel port on the integration bridge. */
export interface TunnelPort {
  name: string;
  /** The host at the other end (`external_ids:weft-peer`). */
  peer: string;
  ofport?: number;
}

/** The integration bridge as the OpenFlow side needs it: which switch it is, its VM ports and weft's tunnels. */
export interface BridgeView {
  /** `Bridge.datapath_id`, once ovs-vswitchd has created the bridge. */
  datapathId?: bigint;
  ports: VmPort[];
  tunnels: TunnelPort[];
}

/** What weft knows about a host from its database. */
export interface HostFacts {
  /** `external_ids:system-id`, else `external_ids:hostname`. */
  name?: string;
  systemId?: string;
  hostname?: string;
  /** `external_ids:weft-encap-ip`. */
  encapIp?: string;
  datapathTypes: string[];
  ovsVersion?: string;
  bridges: string[];
}

export type Strategy = 'monitor_cond_since' | 'monitor_cond' | 'monitor';

export class ReplicaError extends Error {
  override name = 'ReplicaError';
}

// Friendly-value helpers: the replica holds decoded datums (maps as Map, optional scalars as arrays).
export function mapOf(v: Value | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (v instanceof Map) for (const [k, x] of v) out[String(k)] = String(x);
  return out;
}
export function optional(v: Value | undefined): Atom | undefined {
  if (Array.isArray(v)) return v[0];
  return v instanceof Map ? undefined : v;
}
export function setOf(v: Value | undefined): Atom[] {
  if (Array.isArray(v)) return v;
  if (v === undefined || v instanceof Map) return [];
  return [v];
}

export class HostReplica {
  private schemaValue: DatabaseSchema | undefined;
  private replicaValue: Replica | undefined;
  private txnId = ZERO_UUID;
  private strategyValue: Strategy | undefined;
  private resumedValue = false;
  private readonly changeHandlers: ((changes: RowChange[]) => void)[] = [];
  /** Notifications that arrive while the monitor request is in flight. */
  private early: { method: string; params: unknown[] }[] | undefined = [];

  constructor(
    private readonly session: Session,
    private readonly resume?: ResumePoint,
  ) {
    session.onNotification((method, params) => {
      if (this.early) this.early.push({ method, params });
      else this.onNotification(method, params);
    });
  }

  get schema(): DatabaseSchema {
    if (!this.schemaValue) throw new ReplicaError('replica not started');
    return this.schemaValue;
  }
  get replica(): Replica {
    if (!this.replicaValue) throw new ReplicaError('replica not started');
    return this.replicaValue;
  }
  get ready(): boolean {
    return this.replicaValue !== undefined && this.early === undefined;
  }
  get lastTxnId(): string {
    return this.txnId;
  }
  get strategy(): Strategy | undefined {
    return this.strategyValue;
  }
  /** True when this session resumed from an earlier one instead of a full resync. */
  get resumed(): boolean {
    return this.resumedValue;
  }

  resumePoint(): ResumePoint | undefined {
    return this.schemaValue && this.replicaValue ? { schema: this.schemaValue, replica: this.replicaValue, lastTxnId: this.txnId } : undefined;
  }

  onChange(handler: (changes: RowChange[]) => void): void {
    this.changeHandlers.push(handler);
  }

  /** Reads the schema and installs the monitor; rejects (and the caller closes the session) on any failure. */
  async start(): Promise<void> {
    const schema = schemaOf(await this.session.request(getSchema(DATABASE)));
    const columns: Record<string, string[]> = {};
    for (const [table, cols] of Object.entries(MONITORED)) {
      const t = schema.tables.get(table);
      if (!t) throw new ReplicaError(`schema has no table ${table}`);
      columns[table] = cols.filter((c) => t.columns.has(c));
    }
    const empty = createReplica(schema, columns);
    if (!empty.ok) throw new ReplicaError(empty.error.message);
    const requests: MonitorCondRequests = Object.fromEntries(Object.entries(columns).map(([t, c]) => [t, { columns: c }]));
    this.schemaValue = schema;

    // Resume only onto the same schema: another schema means other columns and types.
    const resume = this.resume && this.resume.schema.cksum === schema.cksum && this.resume.schema.version === schema.version ? this.resume : undefined;
    let base = empty.value;
    let applied: Result<{ replica: Replica; changes: RowChange[] }> | undefined;
    try {
      const raw = await this.session.request(monitorCondSince(DATABASE, MONITOR_ID, requests, resume?.lastTxnId ?? ZERO_UUID));
      const r = decodeMonitorCondSinceResult(raw);
      if (!r.ok) throw new ReplicaError(`monitor_cond_since reply: ${r.error.message}`);
      this.strategyValue = 'monitor_cond_since';
      this.txnId = r.value.lastTxnId;
      if (r.value.found && resume && resume.lastTxnId !== ZERO_UUID) {
        base = resume.replica;
        this.resumedValue = true;
      }
      applied = applyUpdate2(schema, base, r.value.updates);
    } catch (err) {
      if (!isUnknownMethod(err)) throw err;
    }
    if (!applied) {
      try {
        const raw = await this.session.request(monitorCond(DATABASE, MONITOR_ID, requests));
        const u = decodeTableUpdates2(raw, 'result');
        if (!u.ok) throw new ReplicaError(`monitor_cond reply: ${u.error.message}`);
        this.strategyValue = 'monitor_cond';
        applied = applyUpdate2(schema, base, u.value);
      } catch (err) {
        if (!isUnknownMethod(err)) throw err;
      }
    }
    if (!applied) {
      const raw = await this.session.request(monitor(DATABASE, MONITOR_ID, requests));
      const u = decodeTableUpdates(raw, 'result');
      if (!u.ok) throw new ReplicaError(`monitor reply: ${u.error.message}`);
      this.strategyValue = 'monitor';
      applied = applyUpdate(schema, base, u.value);
    }
    if (!applied.ok) throw new ReplicaError(`initial state: ${applied.error.message}`);
    this.replicaValue = applied.value.replica;
    const early = this.early ?? [];
    this.early = undefined;
    for (const n of early) this.onNotification(n.method, n.params);
    this.emit(applied.value.changes);
  }

  private onNotification(method: string, params: unknown[]): void {
    if (this.session.closed) return;
    let applied: Result<{ replica: Replica; changes: RowChange[] }>;
    if (method === 'update') {
      const u = decodeUpdate(params);
      if (!u.ok) return this.session.close(`bad update: ${u.error.message}`);
      applied = this.fold(u.value.updates, 1);
    } else if (method === 'update2') {
      const u = decodeUpdate2(params);
      if (!u.ok) return this.session.close(`bad update2: ${u.error.message}`);
      applied = this.fold(u.value.updates, 2);
    } else if (method === 'update3') {
      const u = decodeUpdate3(params);
      if (!u.ok) return this.session.close(`bad update3: ${u.error.message}`);
      applied = this.fold(u.value.updates, 2);
      if (applied.ok) this.txnId = u.value.lastTxnId;
    } else {
      return; // locked/stolen and the like: not ours
    }
    // An update that does not apply means our replica and the server disagree: start over.
    if (!applied.ok) return this.session.close(`replica out of step: ${applied.error.message}`);
    this.replicaValue = applied.value.replica;
    this.emit(applied.value.changes);
  }

  private fold(updates: TableUpdates | TableUpdates2, shape: 1 | 2): Result<{ replica: Replica; changes: RowChange[] }> {
    return shape === 1 ? applyUpdate(this.schema, this.replica, updates as TableUpdates) : applyUpdate2(this.schema, this.replica, updates as TableUpdates2);
  }

  private emit(changes: RowChange[]): void {
    if (changes.length === 0) return;
    for (const h of this.changeHandlers) h(changes);
  }

  /** The host's identity and facts; undefined until the initial state is in. */
  facts(): HostFacts | undefined {
    if (!this.replicaValue) return undefined;
    return hostFacts(this.replicaValue);
  }

  /** The bridge's datapath id, VM ports and weft tunnels; undefined until the initial state is in. */
  bridgeView(bridge: string): BridgeView | undefined {
    return this.replicaValue ? bridgeView(this.replicaValue, bridge) : undefined;
  }

  /** The VM ports on `bridge` (not its own internal port, not tunnels). */
  vmPorts(bridge: string): VmPort[] {
    return this.replicaValue ? vmPorts(this.replicaValue, bridge) : [];
  }
}

/**
 * Every host of a fleet sends the same schema: parse it once. Keyed by the
 * whole text, so a host with another schema (another OVS version, or one
 * that lies about its checksum) gets its own.
 */
const schemas = new Map<string, DatabaseSchema>();
function schemaOf(raw: unknown): DatabaseSchema {
  const text = JSON.stringify(raw);
  const known = schemas.get(text);
  if (known) return known;
  const s = parseSchema(raw);
  if (!s.ok) throw new ReplicaError(`schema: ${s.error.message}`);
  if (schemas.size >= 16) schemas.clear();
  schemas.set(text, s.value);
  return s.value;
}

function isUnknownMethod(err: unknown): boolean {
  return err instanceof RpcError && err.error.error === 'unknown method';
}

function rows(replica: Replica, table: string): ReadonlyMap<string, Readonly<Row>> {
  return replica.tables.get(table)?.rows ?? new Map();
}

export function hostFacts(replica: Replica): HostFacts {
  const root = [...rows(replica, 'Open_vSwitch').values()][0];
  const ext = mapOf(root?.external_ids);
  const bridges = setOf(root?.bridges).map((u) => rows(replica, 'Bridge').get(String(u))?.name).filter((n): n is string => typeof n === 'string');
  const facts: HostFacts = {
    datapathTypes: setOf(root?.datapath_types).map(String),
    bridges: bridges.sort(),
  };
  const systemId = ext['system-id']?.trim();
  const hostname = ext.hostname?.trim();
  if (systemId) facts.systemId = systemId;
  if (hostname) facts.hostname = hostname;
  const name = systemId || hostname;
  if (name) facts.name = name;
  if (ext['weft-encap-ip']) facts.encapIp = ext['weft-encap-ip'];
  const version = optional(root?.ovs_version);
  if (typeof version === 'string') facts.ovsVersion = version;
  return facts;
}

export function vmPorts(replica: Replica, bridgeName: string): VmPort[] {
  const bridge = [...rows(replica, 'Bridge').values()].find((b) => b.name === bridgeName);
  if (!bridge) return [];
  const ports = rows(replica, 'Port');
  const ifaces = rows(replica, 'Interface');
  const out: VmPort[] = [];
  for (const pu of setOf(bridge.ports)) {
    const port = ports.get(String(pu));
    if (!port || port.name === bridgeName) continue;
    const members = setOf(port.interfaces).map((u) => ifaces.get(String(u))).filter((i): i is Readonly<Row> => i !== undefined);
    if (members.some((i) => TUNNEL_TYPES.has(String(i.type ?? '')) || i.type === 'patch')) continue;
    const iface = members[0];
    const externalIds = { ...mapOf(iface?.external_ids), ...mapOf(port.external_ids) };
    const vm: VmPort = { name: String(port.name), externalIds };
    const ofport = optional(iface?.ofport);
    if (typeof ofport === 'number' && ofport > 0) vm.ofport = ofport;
    const tag = optional(port.tag);
    if (typeof tag === 'number') vm.tag = tag;
    if (externalIds['attached-mac']) vm.mac = externalIds['attached-mac'];
    if (externalIds['iface-id']) vm.ifaceId = externalIds['iface-id'];
    out.push(vm);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function bridgeView(replica: Replica, bridgeName: string): BridgeView {
  const bridge = [...rows(replica, 'Bridge').values()].find((b) => b.name === bridgeName);
  const view: BridgeView = { ports: vmPorts(replica, bridgeName), tunnels: [] };
  if (!bridge) return view;
  const id = optional(bridge.datapath_id);
  if (typeof id === 'string' && /^[0-9a-fA-F]{1,16}$/.test(id)) view.datapathId = BigInt(`0x${id}`);
  const ports = rows(replica, 'Port');
  const ifaces = rows(replica, 'Interface');
  for (const pu of setOf(bridge.ports)) {
    const port = ports.get(String(pu));
    if (!port || !isOwned(port)) continue;
    const peer = mapOf(port.external_ids)[PEER_KEY];
    if (!peer) continue;
    const iface = ifaces.get(String(setOf(port.interfaces)[0]));
    const t: TunnelPort = { name: String(port.name), peer };
    const ofport = optional(iface?.ofport);
    if (typeof ofport === 'number' && ofport > 0) t.ofport = ofport;
    view.tunnels.push(t);
  }
  view.tunnels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return view;
}
