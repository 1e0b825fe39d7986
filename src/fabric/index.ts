// The fabric: the cluster as the forwarding plane needs it, joining the
// store (networks, explicit port bindings, bound leases, admitted hosts) and
// each host's OVSDB replica (its datapath id, VM ports and weft tunnels) into
// one PipelineInput per host and the flows that follow from it. It
// recomputes on any change of either side, debounced, and asks the OpenFlow
// side to sync exactly the switches whose desired flows changed; it also
// answers the lookups the packet-in path needs (datapath → host, VNI →
// network, ofport → port name) and waits for switches to confirm a change.
import { ipv4, mac } from '../../protocols/openflow/index.js';
import { bindPort, clusterInputs, desiredFlows, SimulatedCluster, formatTrace, renderFlows, type ClusterHost, type Frame, type Flow, type FlowNetwork, type FlowPort, type FlowTunnel, type PipelineInput, type PortBinding } from '../../flows/index.js';
import type { Host, Lease, Network, Port } from '../model/index.js';
import type { Change, Store } from '../store/store.js';

/** A VM port as the host's OVSDB replica reports it. */
export interface ReportedPort {
  name: string;
  ofport?: number;
  tag?: number;
  /** `external_ids:attached-mac`: the MAC the hypervisor declares. */
  mac?: string;
  /** `external_ids:iface-id`: libvirt's interface UUID, OVN's logical port, or a `tenant/network` of weft's. */
  ifaceId?: string;
  /** The Interface's and Port's `external_ids` (the Port's win), where `weft-network` is read. */
  externalIds?: Readonly<Record<string, string>>;
}

/** What the fabric reads of a host's integration bridge. */
export interface ReportedBridge {
  datapathId?: bigint;
  ports: ReportedPort[];
  tunnels: { name: string; peer: string; ofport?: number }[];
}

/** The OVSDB side, as the fabric uses it. */
export interface FabricOvsdb {
  /** Undefined while the host is not connected or its replica is not in. */
  bridgeView(host: string, bridge: string): ReportedBridge | undefined;
  onPortsChanged(fn: (host: string) => void): void;
}

/** The OpenFlow side: brings a switch to `desiredFor(dpid)` and resolves once it confirmed with a barrier. */
export interface FabricSwitches {
  sync(dpid: bigint): Promise<unknown>;
}

export interface FabricLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface FabricOptions {
  store: Store;
  ovsdb: FabricOvsdb;
  log: FabricLog;
  /** Quiet time before a recompute after a change, ms. Default 20. */
  debounce?: number;
  /**
   * How long after start a host's flows wait for every admitted peer to be
   * known, ms. Default 5 s. Until then a restarted weft would see a peer
   * with no networks and withdraw the tunnel flows to it, dropping traffic.
   */
  settle?: number;
}

/** A port as `port.list` shows it: what OVSDB reports, the store's binding, and what the pipeline made of them. */
export interface FabricPort {
  host: string;
  name: string;
  ofport?: number;
  tag?: number;
  /** The network the port is in (`tenant/network`), if bound. */
  network?: string;
  /** `binding`: by `port.bind` or the port's `external_ids` (see `hostBinding`); `tag`: the network whose VLAN is the port's tag. */
  boundBy?: 'binding' | 'tag';
  /** Why the port is in no network. */
  unbound?: 'no-ofport' | 'unknown-network' | 'unknown-tag' | 'no-tag';
  /** The explicit binding stored by `port.bind`, even when it names no existing network. */
  binding?: string;
  /** MACs port security admits: declared and leased. None: any (and learned). */
  macs: string[];
  /** IPv4 addresses port security admits: declared and leased. None: any. */
  ips: string[];
}

export interface ConvergeResult {
  host: string;
  ok: boolean;
  /** Milliseconds from the call until the switch confirmed. */
  ms: number;
  error?: string;
}

interface HostState {
  view?: ReportedBridge;
  input?: PipelineInput;
  flows?: Flow[];
  /** renderFlows of `flows`: cheap equality for "did this host's flows change". */
  text?: string;
  dpid?: bigint;
}

const DEFAULT_SETTLE = 5_000;

export class Fabric {
  private readonly networks = new Map<string, Network>();
  private readonly byVni = new Map<number, string>();
  /** Explicit bindings and declared addresses, by `host/port`. */
  private readonly bindings = new Map<string, Port>();
  /** Bound leases by `host/port`, then by lease key. */
  private readonly leases = new Map<string, Map<string, Lease>>();
  private readonly leaseAt = new Map<string, string>();
  private readonly hosts = new Map<string, Host>();
  private readonly state = new Map<string, HostState>();
  private readonly byDpid = new Map<bigint, string>();
  private switches: FabricSwitches | undefined;
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private settled = false;
  private loaded = false;
  private stopped = false;
  private pending: Change[] = [];
  private revisionSeen = 0;
  private readonly revisionWaiters: { revision: number; resolve: () => void }[] = [];
  private readonly recomputeWatchers = new Set<() => void>();

  constructor(private readonly options: FabricOptions) {
    options.ovsdb.onPortsChanged((host) => this.onReplica(host));
  }

  /** The OpenFlow side, once it exists (it needs `desiredFor` from here first). */
  attach(switches: FabricSwitches): void {
    this.switches = switches;
  }

  async start(): Promise<void> {
    const { store } = this.options;
    this.stopped = false;
    // Changes that land while the initial lists are read are replayed after them.
    this.unwatch = store.watch((changes) => {
      if (this.loaded) this.onStore(changes);
      else this.pending.push(...changes);
    });
    const revision = await store.revision();
    const [networks, ports, leases, hosts] = await Promise.all([store.list('network'), store.list('port'), store.list('lease'), store.list('host')]);
    for (const n of networks) this.putNetwork(n.key, n.value);
    for (const p of ports) this.bindings.set(p.key, p.value);
    for (const l of leases) this.putLease(l.key, l.value);
    for (const h of hosts) this.hosts.set(h.key, h.value);
    this.loaded = true;
    this.revisionSeen = Math.max(this.revisionSeen, revision);
    const early = this.pending.filter((c) => c.revision > revision);
    this.pending = [];
    if (early.length > 0) this.onStore(early);
    this.settleTimer = setTimeout(() => {
      this.settled = true;
      this.schedule();
    }, this.options.settle ?? DEFAULT_SETTLE);
    this.settleTimer.unref();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = undefined;
    clearTimeout(this.timer);
    clearTimeout(this.settleTimer);
    for (const w of this.revisionWaiters.splice(0)) w.resolve();
  }

  // Lookups -------------------------------------------------------------------

  /** What a switch should hold; undefined while its host is not fully known (the switch is then left alone). */
  desiredFor(dpid: bigint): Flow[] | undefined {
    const host = this.byDpid.get(dpid);
    return host === undefined ? undefined : this.state.get(host)?.flows;
  }

  hostOf(dpid: bigint): string | undefined {
    return this.byDpid.get(dpid);
  }

  dpidOf(host: string): bigint | undefined {
    return this.state.get(host)?.dpid;
  }

  /** Called after every recompute (a host's ports, networks or datapath id may have changed); returns the unsubscribe. */
  onRecomputed(fn: () => void): () => void {
    this.recomputeWatchers.add(fn);
    return () => this.recomputeWatchers.delete(fn);
  }

  /** The network (`tenant/name`) whose VNI the pipeline wrote into metadata. */
  networkOfVni(vni: number): string | undefined {
    return this.byVni.get(vni);
  }

  /** The OVS port name behind an ofport of a host's bridge. */
  portName(host: string, ofport: number): string | undefined {
    return this.state.get(host)?.view?.ports.find((p) => p.ofport === ofport)?.name;
  }

  ofportOf(host: string, port: string): number | undefined {
    return this.state.get(host)?.view?.ports.find((p) => p.name === port)?.ofport;
  }

  /**
   * Whether a VM port is on its host's bridge, for the DHCP service's port
   * rule: false once the host's replica no longer lists it or the host is
   * no longer a host of ours; undefined while the host's bridge has not been
   * seen (after a restart, before its replica is in).
   */
  present(host: string, port: string): boolean | undefined {
    if (!this.hosts.has(host)) return false;
    const view = this.state.get(host)?.view;
    if (!view) return undefined;
    return view.ports.some((p) => p.name === port);
  }

  /** The MAC declared for a port: a port.bind's, else the hypervisor's attached-mac; lower-case. */
  declaredMac(host: string, port: string): string | undefined {
    const vm = this.state.get(host)?.view?.ports.find((p) => p.name === port);
    return (this.bindings.get(`${host}/${port}`)?.mac ?? vm?.mac)?.toLowerCase();
  }

  /** A host's pipeline input and flows, as last computed. */
  pipeline(host: string): { input: PipelineInput; flows: Flow[] } | undefined {
    const s = this.state.get(host);
    return s?.input && s.flows ? { input: s.input, flows: s.flows } : undefined;
  }

  /** Every flow list known, by host: the simulator joins them by their tunnels. */
  allPipelines(): Map<string, { input: PipelineInput; flows: Flow[] }> {
    const out = new Map<string, { input: PipelineInput; flows: Flow[] }>();
    for (const host of this.state.keys()) {
      const p = this.pipeline(host);
      if (p) out.set(host, p);
    }
    return out;
  }

  /** Every VM port of every known host, with the network it is in. */
  ports(): FabricPort[] {
    const networks = this.flowNetworks();
    const out: FabricPort[] = [];
    for (const [host, s] of [...this.state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!s.view) continue;
      const declaredOn = this.declaredOn(host, s.view);
      for (const vm of s.view.ports) {
        const { port, binding } = this.flowPort(host, vm, networks, declaredOn);
        const stored = this.bindings.get(`${host}/${vm.name}`);
        const p: FabricPort = { host, name: vm.name, macs: [...(port.macs ?? [])], ips: [...(port.ips ?? [])] };
        if (vm.ofport !== undefined) p.ofport = vm.ofport;
        if (vm.tag !== undefined) p.tag = vm.tag;
        if (stored?.network) p.binding = stored.network;
        if (binding.bound) {
          p.network = `${binding.network.tenant}/${binding.network.name}`;
          p.boundBy = binding.by;
        } else p.unbound = binding.reason;
        out.push(p);
      }
    }
    return out;
  }

  /**
   * Resolves once the fabric has seen the store up to `revision` and every
   * switch whose flows that changed has confirmed them with a barrier, or
   * `timeoutMs` passed; one result per switch that had to change.
   */
  async converge(revision: number, timeoutMs: number, onHost?: (r: ConvergeResult) => void): Promise<ConvergeResult[]> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    if (this.revisionSeen < revision) {
      await new Promise<void>((resolve) => {
        this.revisionWaiters.push({ revision, resolve });
        setTimeout(resolve, Math.max(0, deadline - Date.now())).unref();
      });
    }
    this.flush();
    const hosts = [...this.state].filter(([, s]) => s.flows !== undefined && s.text !== this.confirmed.get(s.dpid!)).map(([h]) => h);
    return Promise.all(
      hosts.map(async (host) => {
        let error = 'no switch connected';
        for (;;) {
          const s = this.state.get(host);
          if (!s?.flows || s.dpid === undefined) {
            error = 'host left the fabric';
            break;
          }
          if (s.text === this.confirmed.get(s.dpid)) {
            const r = { host, ok: true, ms: Date.now() - started };
            onHost?.(r);
            return r;
          }
          const left = deadline - Date.now();
          if (left <= 0) break;
          try {
            await withTimeout(this.syncNow(host, s.dpid), left);
          } catch (err) {
            error = err instanceof Error ? err.message : String(err);
            await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
          }
        }
        const r = { host, ok: false, ms: Date.now() - started, error };
        onHost?.(r);
        return r;
      }),
    );
  }

  // Changes -------------------------------------------------------------------

  /** The flow text each switch last confirmed, by datapath id. */
  private readonly confirmed = new Map<bigint, string>();

  private async syncNow(host: string, dpid: bigint): Promise<void> {
    if (!this.switches) throw new Error('the OpenFlow plane is not running');
    const text = this.state.get(host)?.text;
    await this.switches.sync(dpid);
    // The sync read the desired flows at or after this call: at least this text is on the switch.
    if (text !== undefined && this.state.get(host)?.text === text) this.confirmed.set(dpid, text);
  }

  private onReplica(host: string): void {
    if (this.stopped) return;
    const h = this.hosts.get(host);
    const view = this.options.ovsdb.bridgeView(host, h?.bridge ?? 'br-int');
    if (!view) return;
    const s = this.stateOf(host);
    s.view = view;
    this.schedule();
  }

  private onStore(changes: Change[]): void {
    let relevant = false;
    for (const c of changes) {
      this.revisionSeen = Math.max(this.revisionSeen, c.revision);
      switch (c.kind) {
        case 'network':
          if (c.op === 'put') this.putNetwork(c.key, c.value as Network);
          else this.dropNetwork(c.key);
          relevant = true;
          break;
        case 'port':
          if (c.op === 'put') this.bindings.set(c.key, c.value as Port);
          else this.bindings.delete(c.key);
          relevant = true;
          break;
        case 'lease':
          relevant = (c.op === 'put' ? this.putLease(c.key, c.value as Lease) : this.dropLease(c.key)) || relevant;
          break;
        case 'host':
          if (c.op === 'put') {
            const before = this.hosts.get(c.key);
            const host = c.value as Host;
            this.hosts.set(c.key, host);
            // The bridge name may have changed, or the host was just admitted.
            const s = this.state.get(c.key);
            const view = this.options.ovsdb.bridgeView(c.key, host.bridge);
            if (view) this.stateOf(c.key).view = view;
            // While the host is unreachable its last ports stand, as they do for every other change:
            // host tracking reads its networks from them, and an edit of the record must not make them vanish.
            else if (s && before?.bridge !== host.bridge) delete s.view;
          } else {
            this.hosts.delete(c.key);
            this.forget(c.key);
          }
          relevant = true;
          break;
        default:
          break;
      }
    }
    if (relevant) this.schedule();
    if (this.revisionWaiters.length > 0) {
      // Recompute before waking waiters, so they see flows of the revision they waited for.
      this.flush();
      for (let i = this.revisionWaiters.length - 1; i >= 0; i--) {
        const w = this.revisionWaiters[i]!;
        if (w.revision <= this.revisionSeen) {
          this.revisionWaiters.splice(i, 1);
          w.resolve();
        }
      }
    }
  }

  private putNetwork(key: string, n: Network): void {
    this.dropNetwork(key);
    this.networks.set(key, n);
    this.byVni.set(n.vni, key);
  }

  private dropNetwork(key: string): void {
    const old = this.networks.get(key);
    if (old && this.byVni.get(old.vni) === key) this.byVni.delete(old.vni);
    this.networks.delete(key);
  }

  /** Keeps bound leases by the port they were seen on; returns whether port security may change. */
  private putLease(key: string, l: Lease): boolean {
    const had = this.dropLease(key);
    if (l.state !== 'bound' || !l.host || !l.port) return had;
    const at = `${l.host}/${l.port}`;
    let m = this.leases.get(at);
    if (!m) this.leases.set(at, (m = new Map()));
    m.set(key, l);
    this.leaseAt.set(key, at);
    return true;
  }

  private dropLease(key: string): boolean {
    const at = this.leaseAt.get(key);
    if (at === undefined) return false;
    this.leaseAt.delete(key);
    const m = this.leases.get(at);
    m?.delete(key);
    if (m && m.size === 0) this.leases.delete(at);
    return true;
  }

  private forget(host: string): void {
    const s = this.state.get(host);
    if (s?.dpid !== undefined && this.byDpid.get(s.dpid) === host) this.byDpid.delete(s.dpid);
    this.state.delete(host);
  }

  private stateOf(host: string): HostState {
    let s = this.state.get(host);
    if (!s) this.state.set(host, (s = {}));
    return s;
  }

  private schedule(): void {
    if (this.stopped || !this.loaded || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.recompute();
    }, this.options.debounce ?? 20);
  }

  /** Runs a scheduled recompute now. */
  private flush(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.recompute();
  }

  private flowNetworks(): FlowNetwork[] {
    return [...this.networks.values()].map((n) => ({
      tenant: n.tenant,
      name: n.name,
      vlan: n.vlan,
      vni: n.vni,
      // weft answers unless every subnet turned DHCP off: then it is the tenant's own.
      dhcp: n.subnets.length === 0 || n.subnets.some((s) => s.dhcp),
    }));
  }

  /** MAC → the port that declares it, over a host's ports. */
  private declaredOn(host: string, view: ReportedBridge): Map<string, string> {
    const out = new Map<string, string>();
    for (const vm of view.ports) {
      const m = (this.bindings.get(`${host}/${vm.name}`)?.mac ?? vm.mac)?.toLowerCase();
      if (m !== undefined && !out.has(m)) out.set(m, vm.name);
    }
    return out;
  }

  /**
   * A reported port with its binding and the addresses port security holds
   * it to. A lease grants its MAC and address to the port it was bound on
   * only, and never against a declaration: not on a port that declares
   * another MAC (the lease is then someone else's, e.g. relayed, or of a
   * NIC that had the port's name before), nor when its MAC is declared on
   * another port of the host (the hypervisor says that NIC is there).
   */
  private flowPort(host: string, vm: ReportedPort, networks: readonly FlowNetwork[], declaredOn: ReadonlyMap<string, string>): { port: FlowPort; binding: PortBinding } {
    const stored = this.bindings.get(`${host}/${vm.name}`);
    const explicit = stored?.network ?? hostBinding(vm);
    const base: FlowPort = { name: vm.name, ofport: vm.ofport, tag: vm.tag, ...(explicit !== undefined ? { network: explicit } : {}) };
    const binding = bindPort(networks, base);
    if (!binding.bound) return { port: base, binding };
    const ref = `${binding.network.tenant}/${binding.network.name}`;
    const macs = new Set<string>();
    const ips = new Set<string>();
    const declared = (stored?.mac ?? vm.mac)?.toLowerCase();
    if (declared) macs.add(declared);
    for (const ip of stored?.ips ?? []) ips.add(ip);
    for (const l of this.leases.get(`${host}/${vm.name}`)?.values() ?? []) {
      if (`${l.tenant}/${l.network}` !== ref) continue;
      const m = l.mac.toLowerCase();
      if (declared !== undefined && m !== declared) continue;
      const owner = declaredOn.get(m);
      if (owner !== undefined && owner !== vm.name) continue;
      macs.add(m);
      ips.add(l.ip);
    }
    return { port: { ...base, macs: [...macs].sort(), ips: [...ips].sort() }, binding };
  }

  private recompute(): void {
    if (this.stopped) return;
    const networks = this.flowNetworks();
    const cluster: ClusterHost[] = [];
    const admitted = [...this.hosts.values()].filter((h) => h.state === 'admitted').map((h) => h.name);
    for (const host of admitted) {
      const s = this.state.get(host);
      if (!s?.view) continue;
      const declaredOn = this.declaredOn(host, s.view);
      const ports = s.view.ports.map((vm) => this.flowPort(host, vm, networks, declaredOn).port);
      const tunnels: FlowTunnel[] = s.view.tunnels.filter((t) => t.ofport !== undefined).map((t) => ({ ofport: t.ofport!, peer: t.peer }));
      cluster.push({ name: host, ports, tunnels });
    }
    const known = new Set(cluster.map((h) => h.name));
    const everyPeerKnown = admitted.every((h) => known.has(h));
    const inputs = clusterInputs(networks, cluster);
    for (const [host, s] of this.state) {
      const input = inputs.get(host);
      const dpid = s.view?.datapathId;
      if (s.dpid !== undefined && s.dpid !== dpid && this.byDpid.get(s.dpid) === host) this.byDpid.delete(s.dpid);
      if (dpid === undefined) delete s.dpid;
      else {
        s.dpid = dpid;
        this.byDpid.set(dpid, host);
      }
      if (!input || dpid === undefined || (!this.settled && !everyPeerKnown)) {
        // Not admitted, not created yet, or peers still unknown: leave its switch as it is.
        delete s.input;
        delete s.flows;
        delete s.text;
        continue;
      }
      let flows: Flow[];
      try {
        flows = desiredFlows(input);
      } catch (err) {
        this.options.log.warn({ host, err: err instanceof Error ? err.message : String(err) }, 'pipeline not computed');
        continue;
      }
      const text = renderFlows(flows);
      s.input = input;
      if (text === s.text) continue;
      s.flows = flows;
      s.text = text;
      this.options.log.debug({ host, flows: flows.length }, 'desired flows changed');
      this.switches?.sync(dpid).then(
        () => {
          if (this.state.get(host)?.text === text) this.confirmed.set(dpid, text);
        },
        (err: unknown) => this.options.log.debug({ host, err: err instanceof Error ? err.message : String(err) }, 'sync not done'),
      );
    }
    for (const w of this.recomputeWatchers) w();
  }
}

/** The external_ids key an operator or a hook script sets to put a port in a network. */
export const NETWORK_KEY = 'weft-network';

const NETWORK_REF = /^[^/\s]+\/[^/\s]+$/;

/**
 * The binding a host declares on a port, below `port.bind` and above the
 * tag: `external_ids:weft-network` (any non-empty value: one that names no
 * network leaves the port unbound, as a stale `port.bind` does), else
 * `external_ids:iface-id` when it has the `tenant/network` form. Other
 * iface-ids are ignored: libvirt sets a UUID there and OVN a logical port
 * name, neither of them a network, and a port carrying one still joins by
 * its tag.
 */
export function hostBinding(vm: Pick<ReportedPort, 'ifaceId' | 'externalIds'>): string | undefined {
  const declared = vm.externalIds?.[NETWORK_KEY];
  if (declared) return declared;
  const ifaceId = vm.ifaceId ?? vm.externalIds?.['iface-id'];
  return ifaceId !== undefined && NETWORK_REF.test(ifaceId) ? ifaceId : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no barrier within the timeout`)), ms)))]).finally(() => clearTimeout(timer));
}

export function createFabric(options: FabricOptions): Fabric {
  return new Fabric(options);
}

const PACKET_FIELDS = new Set(['eth_src', 'eth_dst', 'eth_type', 'vlan_vid', 'ipv4_src', 'ipv4_dst', 'ip_proto', 'udp_src', 'udp_dst', 'tcp_src', 'tcp_dst', 'arp_op', 'arp_spa', 'arp_tpa', 'arp_sha', 'arp_tha']);

/** `field=value,...` as `weft trace` takes it; throws SyntaxError naming the bad part. */
export function parsePacket(text: string): Frame {
  const frame: Record<string, bigint> = { eth_type: 0x88b5n, vlan_vid: 0n };
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = part.split('=', 2).map((s) => s?.trim());
    if (!k || v === undefined || !PACKET_FIELDS.has(k)) throw new SyntaxError(`"${part}": expected FIELD=VALUE with FIELD one of ${[...PACKET_FIELDS].join(', ')}`);
    try {
      frame[k] = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v) ? mac(v) : /^\d+\.\d+\.\d+\.\d+$/.test(v) ? ipv4(v) : BigInt(v);
    } catch {
      throw new SyntaxError(`"${part}": not a MAC, an IPv4 address or a number`);
    }
  }
  if (frame.eth_src === undefined || frame.eth_dst === undefined) throw new SyntaxError('eth_src and eth_dst are needed');
  return frame;
}

/** A packet entering `port` (name or ofport) of `host`, walked through every known host's flows by the simulator. */
export function tracePacket(fabric: Fabric, host: string, port: string, packet: string): { lines: string[]; delivered: { host: string; port: number }[]; controller: boolean } {
  const pipelines = fabric.allPipelines();
  if (!pipelines.has(host)) throw new RangeError(`host ${host} has no pipeline (not admitted, not connected, or its switch not created)`);
  const inPort = /^\d+$/.test(port) ? Number(port) : fabric.ofportOf(host, port);
  if (inPort === undefined) throw new RangeError(`port ${host}/${port} has no ofport`);
  const sim = new SimulatedCluster([...pipelines].map(([name, p]) => ({ name, flows: p.flows, tunnels: p.input.tunnels })));
  const walk = sim.send(host, inPort, parsePacket(packet));
  return { lines: formatTrace(walk.trace), delivered: walk.delivered.map((d) => ({ host: d.host, port: d.port })), controller: walk.controller.length > 0 };
}
