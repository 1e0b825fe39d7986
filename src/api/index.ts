// The admin API plane: builds the registry with the built-in method groups,
// makes sure an admin token exists, and serves JSON-RPC over HTTP and
// WebSocket. Other planes add their methods to `registry` before start.
import type { Store } from '../store/store.js';
import { TokenAuth, ensureAdminToken } from './auth.js';
import type { ApiInfo, Listener, MethodDeps, PlaneEvents } from './deps.js';
import { WriteGuard } from './guard.js';
import { applyMethods } from './methods/apply.js';
import { dhcpMethods, type DhcpDeps, type DhcpRuntime } from './methods/dhcp.js';
import { eventMethods } from './methods/events.js';
import { hostMethods, type HostDeps, type HostRuntime } from './methods/host.js';
import { leaseMethods } from './methods/lease.js';
import { leaderMethods, type LeaderDeps, type LeaderRuntime } from './methods/leader.js';
import { networkMethods } from './methods/network.js';
import { portMethods, type PortDeps, type PortRuntime } from './methods/port.js';
import { reservationMethods } from './methods/reservation.js';
import { statusMethods } from './methods/status.js';
import { tenantMethods } from './methods/tenant.js';
import { tokenMethods } from './methods/token.js';
import { Registry, type AnyMethod, type RegistryOptions } from './registry.js';
import { RpcEndpoint, type RpcLimits } from './rpc.js';
import { ApiServer, type ServerLimits, type ServerLog } from './server.js';
import { DEFAULT_LIMITS } from './limits.js';
import { waitable, type DataPlane } from './wait.js';

export { DEFAULT_LIMITS } from './limits.js';

export { ApiError, ErrorCode } from './errors.js';
export { Registry, defineMethod, type AnyMethod, type CallContext, type MethodSpec, type Principal, type Scope } from './registry.js';
export type { Listener, MethodDeps } from './deps.js';
export type { HostRuntime } from './methods/host.js';
export type { LeaderRuntime, LeaderRow, ReplicaStatus } from './methods/leader.js';
export type { DhcpRuntime } from './methods/dhcp.js';
export { createPlaneEvents, type PlaneEvent, type PlaneEvents } from './deps.js';


export interface ApiOptions {
  store: Store;
  dataDir: string;
  listen: { host: string; port: number };
  tls?: { cert: string; key: string };
  version: string;
  startedAt?: Date;
  log: ServerLog;
  /** Every listener of the daemon, for `status`; defaults to the API's own. */
  listeners?: () => Listener[];
  limits?: Partial<RpcLimits & ServerLimits>;
  registry?: RegistryOptions;
  /** The live side of hosts (the OVSDB plane), for host.*. */
  hosts?: HostRuntime;
  /** The switches' side (the fabric), for `wait: true`. */
  dataPlane?: DataPlane;
  /** Ports, flows and traces of the data plane, for port.*, flows.dump and trace. */
  ports?: PortRuntime;
  /** The election's view, for leader.list and status. */
  leaders?: LeaderRuntime;
  /** The DHCP server's counters, for dhcp.stats and status. */
  dhcp?: DhcpRuntime;
  /** Plane events (leadership changes) for events.subscribe. */
  planeEvents?: PlaneEvents;
}

/** Calls whose change reaches the switches: they take `wait: true`. */
const WAITABLE = new Set(['network.create', 'network.update', 'network.delete', 'apply', 'host.admit', 'port.bind', 'port.unbind']);

/** The built-in method groups, in docs order. */
export function builtinMethods(deps: MethodDeps & HostDeps & PortDeps & LeaderDeps & DhcpDeps & { dataPlane?: DataPlane | undefined }): AnyMethod[] {
  return [
    ...tenantMethods(deps),
    ...networkMethods(deps),
    ...reservationMethods(deps),
    ...leaseMethods(deps),
    ...hostMethods(deps),
    ...portMethods(deps),
    ...leaderMethods(deps),
    ...dhcpMethods(deps),
    ...tokenMethods(deps),
    ...applyMethods(deps),
    ...statusMethods(deps),
    ...eventMethods(deps),
  ].map((m) => (WAITABLE.has(m.name) ? waitable(m, deps) : m));
}

export class ApiPlane {
  readonly name = 'api';
  readonly registry: Registry;
  readonly auth: TokenAuth;
  private readonly server: ApiServer;
  private readonly limits: RpcLimits & ServerLimits;

  constructor(private readonly options: ApiOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.registry = new Registry(options.registry);
    this.auth = new TokenAuth(options.store);
    const info: ApiInfo = {
      version: options.version,
      startedAt: (options.startedAt ?? new Date()).getTime(),
      listeners: options.listeners ?? (() => this.listeners()),
    };
    const deps: MethodDeps & HostDeps & PortDeps & LeaderDeps & DhcpDeps & { dataPlane?: DataPlane } = {
      store: options.store,
      guard: new WriteGuard(options.store),
      info,
      now: () => new Date(),
      ...(options.hosts ? { hosts: options.hosts } : {}),
      ...(options.dataPlane ? { dataPlane: options.dataPlane } : {}),
      ...(options.ports ? { ports: options.ports } : {}),
      ...(options.leaders ? { leaders: options.leaders } : {}),
      ...(options.dhcp ? { dhcp: options.dhcp } : {}),
      ...(options.planeEvents ? { planeEvents: options.planeEvents } : {}),
    };
    this.registry.add(...builtinMethods(deps));
    const endpoint = new RpcEndpoint(this.registry, this.limits, options.log);
    this.server = new ApiServer(endpoint, this.auth, this.limits, options.log);
  }

  async start(): Promise<void> {
    const file = await ensureAdminToken(this.options.store, this.options.dataDir);
    if (file) this.options.log.info({ file }, 'wrote a new admin token');
    await this.auth.start();
    try {
      await this.server.listen({ ...this.options.listen, ...(this.options.tls ? { tls: this.options.tls } : {}) });
    } catch (err) {
      this.auth.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.server.close();
    this.auth.stop();
  }

  /** `http://HOST:PORT` (or https) once started. */
  url(): string {
    const url = this.server.url();
    if (!url) throw new Error('the API is not listening');
    return url;
  }

  listeners(): Listener[] {
    const url = this.server.url();
    return url ? [{ name: 'api', address: `${url}/rpc` }] : [];
  }
}

export function createApiPlane(options: ApiOptions): ApiPlane {
  return new ApiPlane(options);
}

