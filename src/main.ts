// The composition root: the only module that knows every part. It prepares
// the data directory, opens the store, starts the planes in order and stops
// them in reverse. A plane is anything with a name, start/stop and the
// listeners it serves; the admin API, OVSDB and OpenFlow planes (and later
// DHCP and the election) register in PLANES below.
import { existsSync, mkdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createApiPlane, createPlaneEvents, type LeaderRuntime, type PlaneEvents } from './api/index.js';
import { formatTarget, type Config, type Target } from './config/index.js';
import { createDhcpService, SOLE_LEADER, type DhcpService, type Leadership } from './dhcp/server.js';
import { createElectionService, flowsGroup, hostOfGroup, readAdvertKey, type ElectionService } from './election/service.js';
import { udpTransport } from './election/transport.js';
import type { Logger } from './log.js';
import { createFabric, tracePacket, type Fabric } from './fabric/index.js';
import type { PortRuntime } from './api/methods/port.js';
import { readOwnedFlows, WEFT_COOKIES } from './openflow/sync.js';
import { formatFlow } from '../protocols/openflow/index.js';
import { createOpenflowPlane, dpidText, type OpenflowPlane } from './openflow/plane.js';
import type { RoleClaim } from './openflow/role.js';
import { createOvsdbPlane, type OvsdbPlane } from './ovsdb/plane.js';
import { LEARNED_FLOWS, METADATA_NETWORK_MASK, parseCookie, TABLE } from '../flows/index.js';
import { openOvsdbClusterStore } from './store/ovsdb-cluster.js';
import { openSqliteStore } from './store/sqlite.js';
import { StoreError, type Store } from './store/store.js';

/** One address a plane serves, as status shows it (`127.0.0.1:8080`, `ptcp:6640:0.0.0.0`). */
export interface Listener {
  name: string;
  address: string;
}

export interface Plane {
  readonly name: string;
  /**
   * Opens the plane's listeners and sessions. A listen failure should reject
   * with Node's own error (code EADDRINUSE etc.): the daemon turns it into a
   * one-line message naming the plane and the address, and exits 2.
   */
  start(): Promise<void>;
  /** Stops accepting, closes sessions, finishes in-flight work. Never rejects for a clean stop. */
  stop(): Promise<void>;
  /**
   * On a graceful stop, before any plane stops: hands what this replica
   * does for others over at once (the election resigns every network), so
   * peers take over while the planes finish their in-flight work.
   */
  handOver?(): void;
  /** The listeners actually bound (real ports when the config said 0). */
  listeners(): Listener[];
}

/** What a plane is built from. */
export interface DaemonContext {
  config: Config;
  log: Logger;
  store: Store;
  /** Absolute data directory (the store is `weft.db` in it). */
  dataDir: string;
  version: string;
  startedAt: Date;
  /** Every started plane's listeners, for `status`. */
  listeners(): Listener[];
}

export type PlaneFactory = (ctx: DaemonContext) => Plane;

/** Planes that others use (the API shows the OVSDB plane's live host state), by daemon. */
const ovsdbPlanes = new WeakMap<DaemonContext, OvsdbPlane>();
const fabrics = new WeakMap<DaemonContext, Fabric>();
const openflowPlanes = new WeakMap<DaemonContext, OpenflowPlane>();
const dhcpServices = new WeakMap<DaemonContext, DhcpService>();

/** port.*, flows.dump and trace: the fabric's view and the switches' own tables. */
function portRuntime(fabric: Fabric, openflow: OpenflowPlane): PortRuntime {
  return {
    ports: () => fabric.ports(),
    async dumpFlows(host) {
      const dpid = fabric.dpidOf(host);
      const session = dpid === undefined ? undefined : openflow.session(dpid);
      if (!session) throw new Error('no switch connected');
      const flows = [...(await readOwnedFlows(session, WEFT_COOKIES)), ...(await readOwnedFlows(session, { value: LEARNED_FLOWS.cookie, mask: LEARNED_FLOWS.mask }))];
      return flows
        .map((f) => ({ table: f.tableId, priority: f.priority, cookie: `0x${f.cookie.toString(16)}`, learned: parseCookie(f.cookie)?.owner === 'learned', flow: formatFlow(f) }))
        .sort((a, b) => a.table - b.table || b.priority - a.priority || (a.flow < b.flow ? -1 : a.flow > b.flow ? 1 : 0));
    },
    trace: (host, port, packet) => tracePacket(fabric, host, port, packet),
  };
}

/** A part that is not a plane of its own (no listeners) but starts and stops with the daemon. */
function part(name: string, start: () => Promise<void>, stop: () => Promise<void>): Plane {
  return { name, start, stop, listeners: () => [] };
}

/** The election, only when peers are configured, and the hub of plane events, by daemon. */
const elections = new WeakMap<DaemonContext, ElectionService>();
const planeEventHubs = new WeakMap<DaemonContext, PlaneEvents>();

function planeEventsOf(ctx: DaemonContext): PlaneEvents {
  let hub = planeEventHubs.get(ctx);
  if (!hub) planeEventHubs.set(ctx, (hub = createPlaneEvents()));
  return hub;
}

/** Who may answer a network's DHCP: the election with peers; a single replica answers every network, unfenced. */
export function leadershipOf(ctx: DaemonContext): Leadership {
  return elections.get(ctx) ?? SOLE_LEADER;
}

/** A fenced lease write (the DHCP service's `fenced` event): the election steps down at once. */
export function leaseWriteFenced(ctx: DaemonContext, network: string, term: number): void {
  elections.get(ctx)?.fenced(network, term);
}

/** A session to a host came or went (`ovsdb`, `openflow`): with peers, its networks' priority follows. */
export function hostSession(ctx: DaemonContext, plane: 'ovsdb' | 'openflow', host: string, up: boolean, networks: readonly string[]): void {
  // The host's flows group goes with its networks: a replica that cannot reach the host should not write its flows.
  elections.get(ctx)?.track(`${plane}:${host}`, up, [...networks, flowsGroup(host)]);
}

/** What host tracking reads of the OVSDB plane, the OpenFlow plane and the fabric. */
export interface HostSessionSources {
  ovsdb: { connected(host: string): boolean; onHostSession(fn: (host: string, up: boolean) => void): () => void };
  openflow: { connected(dpid: bigint): boolean; on(event: 'connected' | 'disconnected', fn: (dpid: bigint) => void): void };
  fabric: { dpidOf(host: string): bigint | undefined; ports(): readonly { host: string; network?: string }[]; onRecomputed(fn: () => void): () => void };
}

export type HostSessionReport = (plane: 'ovsdb' | 'openflow', host: string, up: boolean, networks: readonly string[]) => void;

/**
 * Follows each host's OVSDB session and its switch's OpenFlow connection and
 * reports a session down with the networks the host has ports in, again
 * whenever those networks change while it is down (a network new on a host
 * this replica cannot reach is no better served than the old ones), and up
 * once it is back or the host has no network left. The fabric keeps a host's
 * last ports while its session is down, so its networks stay known. Returns
 * the stop.
 */
export function trackHostSessions(sources: HostSessionSources, report: HostSessionReport): () => void {
  /** The checks reported down, by `plane:host`, with the networks they were reported with. */
  const down = new Map<string, string>();
  let stopped = false;
  const check = (): void => {
    if (stopped) return;
    const networks = new Map<string, Set<string>>();
    for (const p of sources.fabric.ports()) {
      if (p.network === undefined) continue;
      let set = networks.get(p.host);
      if (!set) networks.set(p.host, (set = new Set()));
      set.add(p.network);
    }
    const hosts = new Set([...networks.keys(), ...[...down.keys()].map((k) => k.slice(k.indexOf(':') + 1))]);
    for (const host of hosts) {
      const list = [...(networks.get(host) ?? [])].sort();
      const dpid = sources.fabric.dpidOf(host);
      const sessions = { ovsdb: sources.ovsdb.connected(host), openflow: dpid !== undefined && sources.openflow.connected(dpid) };
      for (const plane of ['ovsdb', 'openflow'] as const) {
        const key = `${plane}:${host}`;
        const up = sessions[plane] || list.length === 0;
        const text = list.join(',');
        if (up ? !down.has(key) : down.get(key) === text) continue;
        if (up) down.delete(key);
        else down.set(key, text);
        report(plane, host, up, list);
      }
    }
  };
  const unsubscribe = [sources.ovsdb.onHostSession(check), sources.fabric.onRecomputed(check)];
  sources.openflow.on('connected', check);
  sources.openflow.on('disconnected', check);
  check();
  return () => {
    stopped = true;
    for (const u of unsubscribe) u();
  };
}

/** How long a starting replica waits for its sessions to the admitted hosts before it competes at full priority. */
export const STARTUP_HOLD_MS = 10_000;

/**
 * A replica that has just started has no session to any host yet, and the
 * fabric does not know the hosts' networks until their OVSDB replicas are
 * in, so host tracking cannot lower anything: it would lead (and preempt)
 * before the switches, which redial with a backoff of up to 8 s, reach it.
 * The `startup` check holds every priority down until each admitted host
 * has both sessions to this replica, or for STARTUP_HOLD_MS. Returns the stop.
 */
export function holdUntilConnected(
  sources: HostSessionSources,
  admitted: readonly string[],
  track: (ok: boolean) => void,
  holdMs = STARTUP_HOLD_MS,
): () => void {
  let held = true;
  const connected = (host: string): boolean => {
    const dpid = sources.fabric.dpidOf(host);
    return sources.ovsdb.connected(host) && dpid !== undefined && sources.openflow.connected(dpid);
  };
  const stop = (): void => {
    held = false;
    clearTimeout(timer);
    for (const u of unsubscribe) u();
  };
  const release = (): void => {
    if (!held) return;
    stop();
    track(true);
  };
  const check = (): void => {
    if (held && admitted.every(connected)) release();
  };
  track(false);
  const timer = setTimeout(release, holdMs);
  timer.unref();
  const unsubscribe = [sources.ovsdb.onHostSession(check), sources.fabric.onRecomputed(check)];
  sources.openflow.on('connected', check);
  check();
  return stop;
}

/**
 * The election plane: with peers, adverts on UDP and a leader per network;
 * without, nothing to run. On a graceful stop it resigns before any plane
 * stops (handOver), so the handover does not wait for the others' shutdown;
 * DHCP, asking it before each answer, falls silent at the same moment.
 */
function electionPlane(ctx: DaemonContext): Plane {
  const c = ctx.config;
  const replicaId = c.replicaId ?? hostname();
  if (c.peers.length === 0) return { name: 'election', start: async () => {}, stop: async () => {}, listeners: () => [] };
  let key: Uint8Array;
  try {
    key = c.advertKeyFile ? readAdvertKey(c.advertKeyFile) : new TextEncoder().encode(c.advertKey ?? '');
  } catch (err) {
    throw new StartupError(`election: ${err instanceof Error ? err.message : String(err)}`);
  }
  const log = ctx.log.child({ plane: 'election' });
  const events = planeEventsOf(ctx);
  const election = createElectionService({
    replicaId, key, store: ctx.store, log,
    transport: udpTransport({
      listen: c.advertListen, peers: c.peers,
      onError: (err, peer) => log.debug({ peer, err: err.message }, 'advert not sent'),
    }),
    intervalMs: c.advertInterval, priority: c.priority,
    networkPriorities: Object.fromEntries(c.networkPriority.map((p) => [p.network, p.priority])),
    preempt: c.preempt, preemptDelayMs: c.preemptDelay, trackWeight: c.trackWeight,
    ...(c.notifyScript ? { notifyScript: c.notifyScript } : {}),
    onEvent: (e) => {
      const host = hostOfGroup(e.network);
      if (host !== undefined) {
        const dpid = fabrics.get(ctx)?.dpidOf(host);
        if (dpid !== undefined) openflowPlanes.get(ctx)?.reclaim(dpid).catch((err: unknown) => log.warn({ host, err }, 'switch role claim failed'));
      }
      events.publish({
        kind: 'leader', key: e.network, action: e.type,
        value: { replicaId: e.replicaId, term: e.term, ...(e.type === 'backup' ? { reason: e.reason } : {}), at: Date.now() },
      });
    },
  });
  elections.set(ctx, election);
  const ovsdb = ovsdbPlanes.get(ctx);
  const openflow = openflowPlanes.get(ctx);
  const fabric = fabrics.get(ctx);
  let untrack: (() => void) | undefined;
  return {
    name: 'election',
    start: async () => {
      await election.start();
      if (ovsdb && openflow && fabric) {
        const sources: HostSessionSources = {
          ovsdb: { connected: (host) => ovsdb.status(host).connected, onHostSession: (fn) => ovsdb.onHostSession(fn) },
          openflow: { connected: (dpid) => openflow.session(dpid) !== undefined, on: (event, fn) => openflow.on(event, fn) },
          fabric,
        };
        // The election already holds a flows group for every admitted host: no second read of the store.
        const admitted = election.leaders().flatMap((l) => hostOfGroup(l.network) ?? []);
        const unhold = holdUntilConnected(sources, admitted, (ok) => election.track('startup', ok, 'all'));
        const unfollow = trackHostSessions(sources, (plane, host, up, networks) => hostSession(ctx, plane, host, up, networks));
        untrack = () => {
          unhold();
          unfollow();
        };
      }
    },
    handOver: () => election.resign(),
    stop: () => {
      untrack?.();
      return election.stop();
    },
    listeners: () => {
      const address = election.address();
      return address ? [{ name: 'advert', address: `udp:${address}` }] : [];
    },
  };
}

/** leader.list and status read the election, or a single replica that leads everything. */
function leaderRuntime(ctx: DaemonContext): LeaderRuntime {
  const replicaId = ctx.config.replicaId ?? hostname();
  return {
    async leaders() {
      const election = elections.get(ctx);
      if (election) return election.leaders().filter((l) => hostOfGroup(l.network) === undefined).map((l) => ({ ...l, leader: l.leader ?? null }));
      const since = ctx.startedAt.getTime();
      return (await ctx.store.list('network')).map((n) => ({ network: n.key, leader: replicaId, term: 0, role: 'leader' as const, answering: true, priority: ctx.config.priority, since, peers: [] }));
    },
    flowWriters() {
      return (elections.get(ctx)?.leaders() ?? []).flatMap(({ network, ...l }) => {
        const host = hostOfGroup(network);
        return host === undefined ? [] : [{ ...l, host, leader: l.leader ?? null }];
      });
    },
    replica() {
      const election = elections.get(ctx);
      if (!election) return { replicaId, election: false, leads: 0, peers: [] };
      const v = election.view();
      return {
        replicaId, election: true, ...(v.address ? { address: v.address } : {}), intervalMs: v.intervalMs, leads: v.leads,
        peers: v.peers.map((p) => ({ replicaId: p.replicaId, ...(p.address ? { address: p.address } : {}), lastSeen: p.lastSeen, live: p.live, intervalMs: p.intervalMs, leads: p.leads })),
        store: { reachable: v.store.reachable, ...(v.store.lastReadAt !== undefined ? { lastReadAt: v.store.lastReadAt } : {}), ...(v.store.latencyMs !== undefined ? { latencyMs: v.store.latencyMs } : {}) },
        adverts: { sent: v.stats.advertsSent, received: v.stats.advertsReceived, rejected: v.stats.rejected },
      };
    },
  };
}

/** The default controller target of a host uses the first OpenFlow listener's port (LAB.md: same address the host reached weft at). */
function openflowListener(config: Config): { port: number; scheme: 'tcp' | 'ssl' } | undefined {
  const t = config.openflow.find((x) => x.scheme === 'ptcp' || x.scheme === 'pssl');
  return t && (t.scheme === 'ptcp' || t.scheme === 'pssl') ? { port: t.port, scheme: t.scheme === 'pssl' ? 'ssl' : 'tcp' } : undefined;
}

/**
 * The planes, in start order (they stop in reverse). Sessions to switches come
 * first and the admin API last, so on shutdown the API stops accepting before
 * anything it drives goes away.
 */
export const PLANES: PlaneFactory[] = [
  (ctx) => {
    const c = ctx.config;
    const openflow = openflowListener(c);
    const plane = createOvsdbPlane({
      store: ctx.store,
      log: ctx.log.child({ plane: 'ovsdb' }),
      targets: c.ovsdb,
      admit: c.admit,
      controllerTargets: c.controllerTargets,
      ...(openflow ? { openflow } : {}),
      ...(c.ovsdbTlsCert && c.ovsdbTlsKey && c.ovsdbTlsCa ? { tls: { cert: c.ovsdbTlsCert, key: c.ovsdbTlsKey, ca: c.ovsdbTlsCa } } : {}),
      session: { probeInterval: c.ovsdbProbe },
      localIp: c.tunnelLocalIp,
    });
    ovsdbPlanes.set(ctx, plane);
    return plane;
  },
  // The fabric joins the store and the hosts' replicas into each switch's desired flows.
  (ctx) => {
    const ovsdb = ovsdbPlanes.get(ctx);
    const fabric = createFabric({
      store: ctx.store,
      log: ctx.log.child({ plane: 'fabric' }),
      ovsdb: ovsdb ?? { bridgeView: () => undefined, onPortsChanged: () => undefined },
    });
    fabrics.set(ctx, fabric);
    return part('fabric', () => fabric.start(), () => fabric.stop());
  },
  (ctx) => {
    const c = ctx.config;
    const fabric = fabrics.get(ctx);
    const plane = createOpenflowPlane({
      log: ctx.log.child({ plane: 'openflow' }),
      targets: c.openflow,
      // OVS has one SSL table for its manager and controller connections: the same PKI serves both planes.
      ...(c.ovsdbTlsCert && c.ovsdbTlsKey && c.ovsdbTlsCa ? { tls: { cert: c.ovsdbTlsCert, key: c.ovsdbTlsKey, ca: c.ovsdbTlsCa } } : {}),
      // A switch whose host is not fully known yet gets undefined: it is left as it is, never emptied.
      desiredFor: (dpid) => fabric?.desiredFor(dpid),
      hostOf: (dpid) => fabric?.hostOf(dpid),
      auditInterval: c.openflowAudit,
      packetIn: { queue: c.packetInQueue, rate: c.packetInRate },
      // With peers, a host's flows are written by the leader of its flows group alone, as MASTER at its term.
      ...(c.peers.length > 0 ? {
        writeRole: (dpid: bigint) => {
          const host = fabric?.hostOf(dpid);
          const fence = host === undefined ? undefined : elections.get(ctx)?.fence(flowsGroup(host));
          return fence ? { role: 'master' as const, generationId: BigInt(fence.term) } : undefined;
        },
        onRoleRefused: (dpid: bigint, claim: RoleClaim) => {
          const host = fabric?.hostOf(dpid);
          if (host !== undefined && claim.generationId !== undefined) elections.get(ctx)?.fenced(flowsGroup(host), Number(claim.generationId));
        },
      } : {}),
    });
    fabric?.attach(plane);
    // A switch whose host was not known when it connected gets its role once the fabric knows the host.
    if (c.peers.length > 0) fabric?.onRecomputed(() => plane.reclaimAll());
    openflowPlanes.set(ctx, plane);
    return plane;
  },
  electionPlane,
  // DHCP: the pipeline's services table sends client packets here with the network's VNI in metadata.
  (ctx) => {
    const log = ctx.log.child({ plane: 'dhcp' });
    const fabric = fabrics.get(ctx);
    const dhcp = createDhcpService({
      store: ctx.store, log, leadership: leadershipOf(ctx),
      // A client's lease moves to another port only once the fabric sees its port gone.
      ...(fabric ? { ports: fabric } : {}),
      onEvent: (e) => {
        if (e.type === 'fenced') leaseWriteFenced(ctx, e.network, e.term);
      },
    });
    dhcpServices.set(ctx, dhcp);
    const openflow = openflowPlanes.get(ctx);
    let unsubscribe: (() => void) | undefined;
    return part(
      'dhcp',
      async () => {
        if (!openflow || !fabric) return;
        unsubscribe = openflow.onPacketIn((ev) => {
          if (ev.tableId !== TABLE.SERVICES) return;
          const network = fabric.networkOfVni(Number(ev.metadata & METADATA_NETWORK_MASK));
          const host = ev.host ?? fabric.hostOf(ev.dpid);
          const port = host === undefined ? undefined : fabric.portName(host, ev.inPort);
          if (!network || !host || !port) {
            log.debug({ dpid: dpidText(ev.dpid), inPort: ev.inPort, metadata: `0x${ev.metadata.toString(16)}` }, 'DHCP packet-in from an unknown network or port: dropped');
            return;
          }
          void dhcp.handle({ network, host, port, frame: ev.frame }).then((replies) => {
            for (const frame of replies ?? []) {
              try {
                openflow.packetOut(ev.dpid, { outPort: ev.inPort, frame });
              } catch (err) {
                log.debug({ host, port, err: err instanceof Error ? err.message : String(err) }, 'DHCP reply not sent: the switch is gone');
              }
            }
          });
        });
      },
      async () => {
        unsubscribe?.();
        await dhcp.close();
      },
    );
  },
  (ctx) =>
    createApiPlane({
      store: ctx.store,
      dataDir: ctx.dataDir,
      listen: ctx.config.api,
      ...(ctx.config.apiTlsCert && ctx.config.apiTlsKey ? { tls: { cert: ctx.config.apiTlsCert, key: ctx.config.apiTlsKey } } : {}),
      version: ctx.version,
      startedAt: ctx.startedAt,
      log: ctx.log.child({ plane: 'api' }),
      listeners: ctx.listeners,
      ...(ovsdbPlanes.has(ctx) ? { hosts: ovsdbPlanes.get(ctx)! } : {}),
      ...(fabrics.has(ctx) ? { dataPlane: fabrics.get(ctx)! } : {}),
      ...(fabrics.has(ctx) && openflowPlanes.has(ctx) ? { ports: portRuntime(fabrics.get(ctx)!, openflowPlanes.get(ctx)!) } : {}),
      leaders: leaderRuntime(ctx),
      ...(dhcpServices.has(ctx) ? { dhcp: dhcpServices.get(ctx)! } : {}),
      planeEvents: planeEventsOf(ctx),
    }),
];

export type OpenStore = (file: string) => Promise<Store>;

export interface DaemonOptions {
  /** Defaults to the embedded SQLite store. */
  openStore?: OpenStore;
  /** Defaults to PLANES. */
  planes?: PlaneFactory[];
  version?: string;
}

export interface Daemon {
  readonly store: Store;
  readonly planes: readonly Plane[];
  readonly dataDir: string;
  listeners(): Listener[];
  /** Stops the planes in reverse order, then flushes and closes the store. Idempotent. */
  stop(): Promise<void>;
}

/** A start-up failure caused by input (config, data dir, port, store version): one line, exit 2. */
export class StartupError extends Error {
  override name = 'StartupError';
  readonly exitCode = 2;
}

export const STORE_FILE = 'weft.db';

/** Creates the data directory when missing and proves it writable; returns the directory it created, if any. */
function prepareDataDir(dir: string): string | undefined {
  let created: string | undefined;
  try {
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    created = mkdirSync(dir, { recursive: true, mode: 0o750 });
    // access(W_OK) says yes to root on a read-only mount; only a write proves it.
    const probe = join(dir, `.weft-probe-${process.pid}`);
    writeFileSync(probe, '', { flag: 'wx' });
    unlinkSync(probe);
    return created;
  } catch (err) {
    if (created) rmSync(created, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new StartupError(`data directory ${dir} is not writable: ${code}`);
  }
}

const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
};

/** A file named in the config (a TLS certificate, a key) that cannot be read is the operator's to fix. */
const FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR']);

/** Turns a plane's start failure into a one-line StartupError when it is the operator's to fix. */
function startFailure(plane: Plane, err: unknown): unknown {
  if (err instanceof StartupError) return err;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; exitCode?: number };
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.code in LISTEN_REASONS && (e.syscall === 'listen' || e.syscall === 'bind')) {
    const address = e.port === undefined ? String(e.address) : `${e.address?.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
    return new StartupError(`${plane.name} listener ${address}: ${LISTEN_REASONS[e.code]}`);
  }
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.path === 'string' && FILE_ERRORS.has(e.code)) {
    return new StartupError(`${plane.name}: cannot read ${e.path}: ${e.code}`);
  }
  if (e && typeof e === 'object' && e.exitCode === 2 && e instanceof Error) return new StartupError(`${plane.name}: ${e.message}`);
  return err;
}

function describeTargets(targets: Target[]): string[] {
  return targets.map(formatTarget);
}

/**
 * Starts weft: data directory, store, planes. On any failure it undoes what it
 * did (stops started planes, closes the store, removes a data directory it
 * created) and rejects, with StartupError when the cause is bad input.
 */
export async function startDaemon(config: Config, log: Logger, options: DaemonOptions = {}): Promise<Daemon> {
  const dataDir = resolve(config.data);
  const createdDir = prepareDataDir(dataDir);
  const undoDir = () => {
    if (createdDir) rmSync(createdDir, { recursive: true, force: true });
  };

  const storeFile = join(dataDir, STORE_FILE);
  let store: Store;
  try {
    const choice = config.store;
    store = await (options.openStore ?? (choice.backend === 'ovsdb' ? () => openOvsdbClusterStore({ remotes: choice.remotes, onEvent: (m) => log.info(m) }) : openSqliteStore))(storeFile);
  } catch (err) {
    undoDir();
    // A newer store version, a file locked by another weft, a file that is not a database.
    if (err instanceof StoreError) throw new StartupError(`store: ${err.message}`);
    throw err;
  }
  log.info({ data: dataDir, store: store.backend }, 'store open');

  const started: Plane[] = [];
  const listeners = () => started.flatMap((p) => p.listeners());
  const ctx: DaemonContext = {
    config,
    log,
    store,
    dataDir,
    version: options.version ?? '0.0.0',
    startedAt: new Date(),
    listeners,
  };

  const stopPlanes = async () => {
    for (const plane of [...started].reverse()) {
      try {
        await plane.stop();
        log.debug({ plane: plane.name }, 'plane stopped');
      } catch (err) {
        log.error({ plane: plane.name, err }, 'plane did not stop cleanly');
      }
    }
  };

  try {
    for (const factory of options.planes ?? PLANES) {
      const plane = factory(ctx);
      try {
        await plane.start();
      } catch (err) {
        throw startFailure(plane, err);
      }
      started.push(plane);
      log.info({ plane: plane.name, listeners: plane.listeners() }, 'plane started');
    }
  } catch (err) {
    await stopPlanes();
    await store.close().catch((closeErr: unknown) => log.error({ err: closeErr }, 'store did not close cleanly'));
    undoDir();
    throw err;
  }

  const served = new Set(started.map((p) => p.name));
  for (const [name, targets] of [['ovsdb', config.ovsdb], ['openflow', config.openflow]] as const) {
    if (!served.has(name) && targets.length > 0) log.info({ plane: name, targets: describeTargets(targets) }, 'targets configured; this plane is not served by this build yet');
  }

  let stopping: Promise<void> | undefined;
  const daemon: Daemon = {
    store,
    planes: started,
    dataDir,
    listeners,
    stop() {
      stopping ??= (async () => {
        for (const plane of started) plane.handOver?.();
        await stopPlanes();
        await store.close();
        log.info('stopped');
      })();
      return stopping;
    },
  };
  log.info({ data: dataDir, listeners: listeners(), version: ctx.version }, 'ready');
  return daemon;
}
