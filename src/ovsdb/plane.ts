// The OVSDB management plane: listens where hypervisors connect and dials
// where it is told to, keeps one session and one replica per host, admits
// hosts, and reconciles every admitted host whenever its replica or the model
// changes: debounced, one transaction in flight per host, rerun after a
// `wait` guard failure. A host's session failing never affects another's.
import type { Socket } from 'node:net';
import { decodeTransactResult, transact, type RowChange } from '../../protocols/ovsdb/index.js';
import { formatTarget, isPassive, type Target } from '../config/target.js';
import { HostName } from '../model/fields.js';
import type { Host } from '../model/host.js';
import { ConflictError, put, type Change, type Store } from '../store/store.js';
import { admittedBy, formatAdmitRule, type AdmitRule } from './admission.js';
import { Dialer } from './dialer.js';
import { Listener, type PeerInfo, type TlsFiles } from './listener.js';
import { PEER_KEY, isOwned, reconcile, type ReconcileResult } from './reconcile.js';
import { DATABASE, HostReplica, mapOf, type BridgeView, type HostFacts, type ResumePoint, type VmPort } from './replica.js';
import { Session, type SessionOptions } from './session.js';

/** How long a first-seen host waits for others to be stored with it, ms. */
const CREATE_BATCH_MS = 10;

export interface PlaneLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OvsdbPlaneOptions {
  store: Store;
  log: PlaneLog;
  /** Passive and active OVSDB targets. */
  targets: Target[];
  admit?: AdmitRule[];
  /** Controller targets for every bridge; empty: the session's local address with `openflowPort`. */
  controllerTargets?: Target[];
  /** The OpenFlow listener's port and scheme, for the default controller target. */
  openflow?: { port: number; scheme: 'tcp' | 'ssl' };
  tls?: TlsFiles;
  session?: SessionOptions;
  /** Quiet time before a reconcile runs after a change, ms. */
  debounce?: number;
  /** Set `options:local_ip` on tunnels (false on the dummy datapath, LAB.md pitfall 15). */
  localIp?: boolean;
  /** Dialer backoff bounds, ms (tests shorten them). */
  backoff?: { min: number; max: number };
}

/** A host's live state, as the API shows it. */
export interface HostStatus {
  connected: boolean;
  connectedSince?: string;
  peer?: string;
  /** The host's own view: system-id, encap IP it reports, OVS version. */
  reported?: { encapIp?: string; hostname?: string; ovsVersion?: string; datapathTypes: string[] };
  /** weft tunnels present on the host now, by peer name. */
  tunnels: string[];
  /** `converged`: the last reconcile sent nothing; `pending`: work queued or in flight. */
  reconcile: 'converged' | 'pending' | 'failed' | 'idle';
  lastError?: string;
  warnings: string[];
}

interface HostSession {
  session: Session;
  replica: HostReplica;
  info: PeerInfo;
  name: string;
  /** Whether the session has been bound to a host record (identified and stored). */
  bound: boolean;
}

interface ReconcileState {
  timer?: NodeJS.Timeout;
  running: boolean;
  dirty: boolean;
  status: HostStatus['reconcile'];
  lastError?: string;
  warnings: string[];
  failures: number;
}

export interface PlaneStats {
  /** Transactions sent to hosts since start (writes only: weft sends no read-only transact). */
  transactions: number;
  /** Failed transactions (a wait guard or an error) since start. */
  failedTransactions: number;
  sessions: number;
  /** TLS clients refused at the handshake (no certificate, or one the CA did not sign) since start. */
  refusedHandshakes: number;
}

export class OvsdbPlane {
  readonly name = 'ovsdb';
  private readonly listenersList: Listener[] = [];
  private readonly dialers: Dialer[] = [];
  /** Sessions not yet identified, and all sessions for shutdown. */
  private readonly all = new Set<HostSession>();
  private readonly byHost = new Map<string, HostSession>();
  private readonly reconciles = new Map<string, ReconcileState>();
  /** Last facts of hosts, kept after their session ends so peers keep their tunnels. */
  private readonly lastFacts = new Map<string, HostFacts>();
  /** Where a session through the same peer key may resume its monitor. */
  private readonly resume = new Map<string, ResumePoint>();
  private unwatch: (() => void) | undefined;
  /** First-seen hosts waiting for their batched commit. */
  private readonly creating = new Map<string, { host: Host; promise: Promise<void>; resolve(): void; reject(err: unknown): void }>();
  private createTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly portWatchers: ((host: string) => void)[] = [];
  private readonly sessionWatchers = new Set<(host: string, up: boolean) => void>();
  readonly stats: PlaneStats = { transactions: 0, failedTransactions: 0, sessions: 0, refusedHandshakes: 0 };

  constructor(private readonly options: OvsdbPlaneOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.unwatch = this.options.store.watch((changes) => this.onModel(changes));
    try {
      for (const target of this.options.targets) {
        const onSocket = (socket: Socket, info: PeerInfo) => this.accept(socket, info);
        if (isPassive(target)) {
          const l = new Listener(target, onSocket, {
            ...(this.options.tls ? { tls: this.options.tls } : {}),
            onRefused: (peer, reason) => {
              this.stats.refusedHandshakes++;
              this.options.log.warn({ peer, via: formatTarget(target), reason }, 'TLS handshake refused (a host without a certificate from ovsdbTlsCa?)');
            },
          });
          await l.start();
          this.listenersList.push(l);
        } else {
          const d = new Dialer(target, onSocket, {
            ...(this.options.tls ? { tls: this.options.tls } : {}),
            ...(this.options.backoff ? { minBackoff: this.options.backoff.min, maxBackoff: this.options.backoff.max } : {}),
            onFailure: (reason, retryIn) => this.options.log.debug({ target: formatTarget(target), reason, retryIn }, 'ovsdb dial failed'),
          });
          d.start();
          this.dialers.push(d);
        }
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    const admit = (this.options.admit ?? []).map(formatAdmitRule);
    if (admit.length > 0) this.options.log.info({ admit }, 'hosts matching these rules are admitted on first contact');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = undefined;
    for (const d of this.dialers.splice(0)) d.stop();
    for (const hs of this.all) hs.session.close('weft is stopping');
    for (const r of this.reconciles.values()) if (r.timer) clearTimeout(r.timer);
    if (this.createTimer) clearTimeout(this.createTimer);
    this.createTimer = undefined;
    for (const c of this.creating.values()) c.reject(new Error('weft is stopping'));
    this.creating.clear();
    await Promise.all(this.listenersList.splice(0).map((l) => l.close()));
  }

  listeners(): { name: string; address: string }[] {
    return this.listenersList.map((l) => ({ name: 'ovsdb', address: l.address() }));
  }

  /** The port a passive tcp/ssl listener actually bound (tests listen on port 0). */
  listenPort(): number | undefined {
    return this.listenersList.map((l) => l.port()).find((p) => p !== undefined);
  }

  /** The live state of a host; undefined fields when it is not connected. */
  status(name: string): HostStatus {
    const hs = this.byHost.get(name);
    const r = this.reconciles.get(name);
    const base: HostStatus = { connected: false, tunnels: [], reconcile: r?.status ?? 'idle', warnings: r?.warnings ?? [] };
    if (r?.lastError) base.lastError = r.lastError;
    if (!hs || !hs.replica.ready) return base;
    const facts = hs.replica.facts()!;
    const reported: NonNullable<HostStatus['reported']> = { datapathTypes: facts.datapathTypes };
    if (facts.encapIp) reported.encapIp = facts.encapIp;
    if (facts.hostname) reported.hostname = facts.hostname;
    if (facts.ovsVersion) reported.ovsVersion = facts.ovsVersion;
    return { ...base, connected: true, connectedSince: hs.session.connectedAt.toISOString(), peer: hs.info.peer, reported, tunnels: this.tunnelsOf(hs) };
  }

  /** VM ports on a connected host's integration bridge, for the OpenFlow plane. */
  async vmPorts(name: string): Promise<VmPort[]> {
    const hs = this.byHost.get(name);
    if (!hs || !hs.replica.ready) return [];
    const host = await this.options.store.get('host', name);
    return hs.replica.vmPorts(host?.value.bridge ?? 'br-int');
  }

  /**
   * The host's integration bridge now: datapath id, VM ports, weft tunnels.
   * Undefined while the host is not connected or its replica is not in yet.
   */
  bridgeView(name: string, bridge: string): BridgeView | undefined {
    const hs = this.byHost.get(name);
    if (!hs || !hs.replica.ready) return undefined;
    return hs.replica.bridgeView(bridge);
  }

  /** Called with a host's name when its session is bound and whenever its replica changes (ports may have come or gone). */
  onPortsChanged(fn: (host: string) => void): void {
    this.portWatchers.push(fn);
  }

  /** Called with a host's name when its session is bound (up) and when that session ends (down); returns the unsubscribe. */
  onHostSession(fn: (host: string, up: boolean) => void): () => void {
    this.sessionWatchers.add(fn);
    return () => this.sessionWatchers.delete(fn);
  }

  // Sessions ------------------------------------------------------------------

  private accept(socket: Socket, info: PeerInfo): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const log = this.options.log;
    const session = new Session(socket, info.peer, { probeInterval: 5_000, ...this.options.session });
    const resumeKey = this.resumeKey(info);
    const replica = new HostReplica(session, resumeKey ? this.resume.get(resumeKey) : undefined);
    const hs: HostSession = { session, replica, info, name: '', bound: false };
    this.all.add(hs);
    this.stats.sessions = this.all.size;
    log.debug({ peer: info.peer, via: info.target }, 'ovsdb session opened');
    session.onClose((reason) => {
      this.all.delete(hs);
      this.stats.sessions = this.all.size;
      const point = replica.resumePoint();
      if (resumeKey && point) this.resume.set(resumeKey, point);
      if (hs.name && this.byHost.get(hs.name) === hs) {
        this.byHost.delete(hs.name);
        log.info({ host: hs.name, peer: info.peer, reason }, 'host disconnected');
        for (const w of this.sessionWatchers) w(hs.name, false);
      } else log.debug({ peer: info.peer, reason }, 'ovsdb session closed');
    });
    replica.onChange((changes) => this.onReplica(hs, changes));
    replica.start().then(
      () => {
        log.debug({ peer: info.peer, strategy: replica.strategy, resumed: replica.resumed }, 'replica ready');
        this.identify(hs);
      },
      (err: unknown) => session.close(`monitor failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /** The same peer (dialled target, or source address) may resume its last monitor. */
  private resumeKey(info: PeerInfo): string | undefined {
    return info.address ?? (info.peer.startsWith('unix:') ? info.peer : undefined);
  }

  private onReplica(hs: HostSession, changes: RowChange[]): void {
    if (!hs.replica.ready) return;
    if (!hs.bound) return this.identify(hs);
    // The root row carries the identity and the encap IP, which peers' tunnels
    // depend on; it also changes with every bridge weft adds, which concerns
    // this host alone. Rescheduling every host on each of those made a mesh
    // of N hosts cost N reconciles per host (measured: test/bench/ovsdb.ts).
    if (changes.some((c) => c.table === 'Open_vSwitch')) {
      const before = this.lastFacts.get(hs.name);
      const facts = hs.replica.facts();
      if (facts) this.lastFacts.set(hs.name, facts);
      if (facts?.name !== undefined && facts.name !== hs.name) {
        hs.session.close(`host identity changed from ${hs.name} to ${facts.name}`);
        return;
      }
      if (before?.encapIp !== facts?.encapIp) this.scheduleAll();
      else this.schedule(hs.name);
    } else this.schedule(hs.name);
    for (const w of this.portWatchers) w(hs.name);
  }

  /** Binds a session to its host once the replica names it, storing a first-seen host. */
  private identify(hs: HostSession): void {
    if (hs.bound || hs.name || hs.session.closed) return;
    const facts = hs.replica.facts();
    if (!facts?.name) {
      this.options.log.warn({ peer: hs.info.peer }, 'host has no external_ids:system-id or hostname yet; waiting for one');
      return;
    }
    const name = facts.name;
    hs.name = name;
    void this.bind(hs, facts).catch((err: unknown) => hs.session.close(`cannot store host ${name}: ${err instanceof Error ? err.message : String(err)}`));
  }

  private async bind(hs: HostSession, facts: HostFacts): Promise<void> {
    const { store, log } = this.options;
    const name = hs.name;
    if (!HostName.safeParse(name).success) {
      hs.session.close(`host name ${JSON.stringify(name.slice(0, 64))} is not a valid host name`);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const existing = await store.get('host', name);
      if (existing) break;
      const rule = admittedBy(this.options.admit ?? [], { ...(hs.info.address ? { address: hs.info.address } : {}), ...(hs.info.cn ? { cn: hs.info.cn } : {}) });
      const host: Host = {
        name,
        state: rule ? 'admitted' : 'pending',
        encap: 'vxlan',
        bridge: 'br-int',
        firstSeen: new Date().toISOString(),
        ...(facts.hostname ? { hostname: facts.hostname } : {}),
      };
      try {
        await this.create(host);
        log.info({ host: name, peer: hs.info.peer, state: host.state, ...(rule ? { rule: formatAdmitRule(rule) } : {}) }, rule ? 'new host admitted by rule' : 'new host pending admission');
        break;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt > 3) throw err;
      }
    }
    if (hs.session.closed) return;
    const previous = this.byHost.get(name);
    if (previous && previous !== hs) previous.session.close('replaced by a newer session of the same host');
    this.byHost.set(name, hs);
    hs.bound = true;
    this.lastFacts.set(name, facts);
    log.info({ host: name, peer: hs.info.peer, via: hs.info.target }, 'host connected');
    for (const w of this.sessionWatchers) w(name, true);
    // A host already converged (weft restarted) sends no update: its ports are news all the same.
    for (const w of this.portWatchers) w(name);
    // A newly connected host can be a peer whose encap IP the others did not know.
    this.scheduleAll();
  }

  /**
   * Stores a first-seen host, in one commit with the others first seen
   * within a few ms: a commit is a synchronous fsync on the event loop, and
   * one per host made a hundred hosts connecting at once queue behind each
   * other's (measured: test/bench/ovsdb.ts). Rejects with ConflictError when
   * the host exists by now.
   */
  private create(host: Host): Promise<void> {
    const queued = this.creating.get(host.name);
    if (queued) return queued.promise;
    let settle!: { resolve(): void; reject(err: unknown): void };
    const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.creating.set(host.name, { host, promise, ...settle });
    this.createTimer ??= setTimeout(() => void this.flushCreates(), CREATE_BATCH_MS);
    return promise;
  }

  private async flushCreates(): Promise<void> {
    this.createTimer = undefined;
    const batch = [...this.creating.values()];
    this.creating.clear();
    try {
      await this.options.store.commit(batch.map((c) => put('host', c.host.name, c.host, null)));
      for (const c of batch) c.resolve();
    } catch (err) {
      if (!(err instanceof ConflictError) || batch.length === 1) {
        for (const c of batch) c.reject(err);
        return;
      }
      // Someone else created one of them meanwhile: the others go on their own.
      await Promise.all(batch.map((c) => this.options.store.commit([put('host', c.host.name, c.host, null)]).then(c.resolve, c.reject)));
    }
  }

  private onModel(changes: Change[]): void {
    if (!changes.some((c) => c.kind === 'host')) return;
    for (const c of changes) {
      if (c.kind === 'host' && c.op === 'delete') {
        this.lastFacts.delete(c.key);
        this.reconciles.delete(c.key);
        this.byHost.get(c.key)?.session.close('host removed');
      }
    }
    this.scheduleAll();
  }

  // Reconcile -----------------------------------------------------------------

  private stateOf(name: string): ReconcileState {
    let r = this.reconciles.get(name);
    if (!r) {
      r = { running: false, dirty: false, status: 'idle', warnings: [], failures: 0 };
      this.reconciles.set(name, r);
    }
    return r;
  }

  private scheduleAll(): void {
    for (const name of this.byHost.keys()) this.schedule(name);
  }

  private schedule(name: string, delay = this.options.debounce ?? 20): void {
    if (this.stopped || !this.byHost.has(name)) return;
    const r = this.stateOf(name);
    r.status = 'pending';
    if (r.running) {
      r.dirty = true;
      return;
    }
    // Every call restarts the wait: while hosts keep connecting (each one
    // reschedules every host) the reconciles wait for the last, so a mesh of
    // N built at once costs about one transaction per host, not one per host
    // per arrival (measured: test/bench/ovsdb.ts).
    if (r.timer) clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      void this.run(name, r);
    }, delay);
  }

  private async run(name: string, r: ReconcileState): Promise<void> {
    r.running = true;
    r.dirty = false;
    let retryIn: number | undefined;
    try {
      retryIn = await this.reconcileOnce(name, r);
    } catch (err) {
      r.status = 'failed';
      r.lastError = err instanceof Error ? err.message : String(err);
      r.failures++;
      retryIn = Math.min(8_000, 100 * 2 ** Math.min(r.failures, 7));
      this.options.log.warn({ host: name, err: r.lastError, retryIn }, 'reconcile failed');
    } finally {
      r.running = false;
    }
    if (r.dirty) this.schedule(name);
    else if (retryIn !== undefined) this.schedule(name, retryIn);
  }

  /** One reconcile of one host; returns a delay when it must run again. */
  private async reconcileOnce(name: string, r: ReconcileState): Promise<number | undefined> {
    const hs = this.byHost.get(name);
    if (!hs || !hs.replica.ready || hs.session.closed) return undefined;
    const stored = await this.options.store.get('host', name);
    if (!stored || stored.value.state !== 'admitted') {
      r.status = 'idle';
      r.warnings = [];
      return undefined;
    }
    const all = await this.options.store.list('host');
    const started = performance.now();
    const host = this.resolved(stored.value);
    const peers = all.filter((h) => h.key !== name && h.value.state === 'admitted').map((h) => this.resolved(h.value));
    const result: ReconcileResult = reconcile({
      host,
      peers,
      controllers: this.controllersFor(hs),
      replica: hs.replica.replica,
      schema: hs.replica.schema,
      ...(this.options.localIp === false ? { localIp: false } : {}),
    });
    if (result.warnings.join('\n') !== r.warnings.join('\n')) for (const w of result.warnings) this.options.log.warn({ host: name }, w);
    r.warnings = result.warnings;
    if (result.operations.length === 0) {
      r.status = 'converged';
      r.failures = 0;
      delete r.lastError;
      return undefined;
    }
    this.stats.transactions++;
    const computed = performance.now();
    const raw = await hs.session.request(transact(DATABASE, result.operations));
    const answered = performance.now();
    const outcome = decodeTransactResult(raw, result.operations.length);
    if (!outcome.ok) throw new Error(`transact reply: ${outcome.error.message}`);
    if (!outcome.value.ok) {
      this.stats.failedTransactions++;
      const failed = result.operations[outcome.value.index];
      const guard = failed?.op === 'wait' && outcome.value.error.error === 'timed out';
      r.failures++;
      r.lastError = `${guard ? 'guard' : 'transaction'} failed at operation ${outcome.value.index}: ${outcome.value.error.error}${outcome.value.error.details ? ` (${outcome.value.error.details})` : ''}`;
      // A guard failure means the host changed under us: the monitor brings the change, then we rerun.
      this.options.log[guard ? 'debug' : 'warn']({ host: name, err: r.lastError }, 'reconcile transaction refused');
      return Math.min(8_000, 50 * 2 ** Math.min(r.failures, 8));
    }
    r.failures = 0;
    delete r.lastError;
    this.options.log.info({ host: name, changes: result.changes, computeMs: Math.round(computed - started), transactMs: Math.round(answered - computed) }, 'host reconciled');
    // Verify by rerunning on the updated replica: the next run must send nothing.
    return this.options.debounce ?? 20;
  }

  /** The host with its encap IP resolved: the API's, else what the host reports, else what its tunnels say. */
  private resolved(host: Host): Host {
    if (host.encapIp) return host;
    const encapIp = this.lastFacts.get(host.name)?.encapIp ?? this.byHost.get(host.name)?.replica.facts()?.encapIp ?? this.encapSeenByPeers(host.name);
    return encapIp ? { ...host, encapIp } : host;
  }

  /**
   * A peer that is not connected (weft just restarted, or its session is
   * down) keeps its tunnels: the other hosts' weft tunnels to it still say
   * its address.
   */
  private encapSeenByPeers(name: string): string | undefined {
    for (const hs of this.byHost.values()) {
      if (!hs.replica.ready) continue;
      const ifaces = hs.replica.replica.tables.get('Interface')?.rows;
      if (!ifaces) continue;
      for (const row of ifaces.values()) {
        if (!isOwned(row) || mapOf(row.external_ids)[PEER_KEY] !== name) continue;
        const ip = mapOf(row.options).remote_ip;
        if (ip) return ip;
      }
    }
    return undefined;
  }

  private controllersFor(hs: HostSession): string[] {
    const configured = this.options.controllerTargets ?? [];
    if (configured.length > 0) return configured.map(formatTarget);
    const of = this.options.openflow;
    const local = hs.info.localAddress;
    if (!of || !local) return [];
    return [`${of.scheme}:${local.includes(':') ? `[${local}]` : local}:${of.port}`];
  }

  private tunnelsOf(hs: HostSession): string[] {
    const replica = hs.replica.replica;
    const ports = replica.tables.get('Port')?.rows;
    const out: string[] = [];
    if (!ports) return out;
    for (const row of ports.values()) {
      if (!isOwned(row)) continue;
      const peer = mapOf(row.external_ids)[PEER_KEY];
      if (peer) out.push(peer);
    }
    return out.sort();
  }
}

export function createOvsdbPlane(options: OvsdbPlaneOptions): OvsdbPlane {
  return new OvsdbPlane(options);
}

export type { BridgeView, VmPort };
