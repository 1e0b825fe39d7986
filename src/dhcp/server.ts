// The DHCP service: the imperative shell around the pure state machine. It
// takes a packet-in (the network from the pipeline's metadata, the ingress
// host and port, the frame), keeps each network's leases in memory from the
// store and its change feed, commits the lease write the machine decided,
// conditional on what it read and fenced by the leader's term, and returns
// the reply frames for a packet-out on the ingress port only once that write
// is durable. Offers are the exception: they are held in memory, never
// written (an offer promises nothing, and only the leader answers a network),
// so a DORA costs one durable write, the ACK's.
import { BOOTREQUEST, DHCP_SERVER_PORT, decodeDhcpMessage, type DhcpMessage } from '../../protocols/dhcp/index.js';
import { BROADCAST_IPV4, ipv4ToNumber, parseUdpFrame, PacketDecodeError, type ParsedUdpFrame } from '../../protocols/packet/index.js';
import { keyOf, NetworkRef, type Lease, type Network, type Reservation } from '../model/index.js';
import {
  ConflictError, FencedError, del, put, type Change, type Fence, type Op, type Store,
} from '../store/store.js';
import { buildReplyFrame, defaultServerMac } from './addressing.js';
import { LeaseTable, NetworkLeases, OfferTable, isLive, ownedBy } from './leases.js';
import { LatencyHistogram, type LatencySnapshot } from './latency.js';
import { DEFAULT_TIMERS, decide, type DhcpEvent, type DhcpPath, type DhcpTimers, type Decision } from './machine.js';
import type { PortFacts } from './ports.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimit } from './rate.js';
import { buildView, type NetworkView } from './view.js';

/**
 * Who may answer a network's DHCP. The election supplies the real one; the
 * default is a single replica: always the leader, writes unfenced.
 */
export interface Leadership {
  /** The fence every lease write of the network carries, or none. */
  fence(network: string): Fence | undefined;
  isLeader(network: string): boolean;
}

export const SOLE_LEADER: Leadership = { fence: () => undefined, isLeader: () => true };

export interface PacketIn {
  /** `tenant/name`, from the pipeline's metadata: never taken from the packet. */
  network: string;
  host: string;
  port: string;
  frame: Uint8Array;
}

/** The subset of a pino logger the service uses. */
export interface DhcpLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DhcpServiceOptions {
  store: Store;
  log: DhcpLog;
  /** Epoch milliseconds; default Date.now. */
  now?: () => number;
  leadership?: Leadership;
  onEvent?: (event: DhcpEvent) => void;
  rateLimit?: Partial<RateLimit>;
  timers?: Partial<DhcpTimers>;
  /** How often expired leases and offers are swept; 0 turns the timer off (call sweep()). Default 5 s. */
  sweepIntervalMs?: number;
  /** The source MAC of replies for a server identifier; default defaultServerMac. */
  serverMac?: (serverId: string) => string;
  /** Tries per request when a conditional write meets a concurrent one. Default 8. */
  maxAttempts?: number;
  /**
   * Whether ports are on their hosts' bridges (the fabric): a client's
   * lease moves to another port only once its port is gone. Without it,
   * every recorded port is taken to be there.
   */
  ports?: PortFacts;
}

export interface DhcpStats {
  received: number;
  /** Undecodable frames or messages: counted and dropped. */
  malformed: number;
  /** Decodable but not for the server (not UDP to port 67, not a BOOTREQUEST). */
  ignored: number;
  /** Not relayed, and chaddr is not the frame's source MAC: a VM speaking for another. Dropped. */
  spoofed: number;
  rateLimited: number;
  notLeader: number;
  fenced: number;
  unknownNetwork: number;
  offers: number;
  acks: number;
  naks: number;
  /** Requests decided without a reply (RELEASE, DECLINE, the RFC's silences). */
  silent: number;
  writes: number;
  conflicts: number;
  storeErrors: number;
  /** Failures of weft itself, logged; the packet is dropped. */
  errors: number;
  paths: Partial<Record<DhcpPath, number>>;
  /** Epoch ms the counters started from: the service's start. */
  since: number;
  latency: {
    /** Each lease write's commit, from the call to the store's answer, whatever the answer. */
    leaseWrite: LatencySnapshot;
    /** Each answered request, from handle() to the reply frames, the lease write included. */
    answer: LatencySnapshot;
  };
}

type Counters = Omit<DhcpStats, 'paths' | 'since' | 'latency'> & Pick<DhcpStats, 'paths'>;

export interface DhcpService {
  /** The reply frames for a packet-out on the ingress port, or undefined. Never rejects. */
  handle(packetIn: PacketIn): Promise<Buffer[] | undefined>;
  /** Expires lapsed offers and bindings and ends quarantines now; resolves with the number of writes. */
  sweep(): Promise<number>;
  stats(): Readonly<DhcpStats>;
  /** Stops the sweeper and the change feed and waits for requests in flight. */
  close(): Promise<void>;
}

interface Stored<T> {
  value: T;
  revision: number;
}

class NetworkState {
  network: Stored<Network> | undefined;
  readonly reservations = new Map<string, Stored<Reservation>>();
  readonly leases = new LeaseTable();
  readonly offers = new OfferTable();
  /** What the machine reads: the stored leases with this replica's offers over them. */
  readonly lookup = new NetworkLeases(this.leases, this.offers);
  private cached: NetworkView | undefined;
  /** Set when a write was fenced: the term that was refused. */
  fencedTerm: number | undefined;
  lastExhaustedLog = 0;

  constructor(readonly ref: string) {}

  view(onBuild: (v: NetworkView) => void): NetworkView | undefined {
    if (!this.network) return undefined;
    if (!this.cached) {
      this.cached = buildView(this.network.value, [...this.reservations.values()].map((r) => r.value));
      onBuild(this.cached);
    }
    return this.cached;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}

export function createDhcpService(options: DhcpServiceOptions): DhcpService {
  return new Service(options);
}

class Service implements DhcpService {
  private readonly store: Store;
  private readonly log: DhcpLog;
  private readonly now: () => number;
  private readonly leadership: Leadership;
  private readonly timers: DhcpTimers;
  private readonly rate: RateLimiter;
  private readonly serverMac: (serverId: string) => string;
  private readonly maxAttempts: number;
  private readonly states = new Map<string, { state: NetworkState; ready: Promise<void> }>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly unwatch: () => void;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private sweeping = false;
  private closed = false;
  private readonly counters: Counters = {
    received: 0, malformed: 0, ignored: 0, spoofed: 0, rateLimited: 0, notLeader: 0, fenced: 0, unknownNetwork: 0,
    offers: 0, acks: 0, naks: 0, silent: 0, writes: 0, conflicts: 0, storeErrors: 0, errors: 0, paths: {},
  };
  private readonly since: number;
  // Durations on the monotonic clock: `now` is wall time, and tests replace it.
  private readonly leaseWrites = new LatencyHistogram();
  private readonly answers = new LatencyHistogram();

  constructor(private readonly options: DhcpServiceOptions) {
    this.store = options.store;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.leadership = options.leadership ?? SOLE_LEADER;
    this.timers = { ...DEFAULT_TIMERS, ...options.timers };
    this.rate = new RateLimiter({ ...DEFAULT_RATE_LIMIT, ...options.rateLimit });
    this.serverMac = options.serverMac ?? defaultServerMac;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.since = this.now();
    // Watching starts before any network is listed, so no change falls between a list and the feed.
    this.unwatch = this.store.watch((changes) => this.onChanges(changes));
    const every = options.sweepIntervalMs ?? 5_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.sweep(), every);
      this.timer.unref();
    }
  }

  stats(): Readonly<DhcpStats> {
    return {
      ...this.counters,
      paths: { ...this.counters.paths },
      since: this.since,
      latency: { leaseWrite: this.leaseWrites.snapshot(), answer: this.answers.snapshot() },
    };
  }

  handle(packetIn: PacketIn): Promise<Buffer[] | undefined> {
    this.counters.received++;
    const started = performance.now();
    const work = this.process(packetIn).then((replies) => {
      if (replies) this.answers.record(performance.now() - started);
      return replies;
    }, (error: unknown) => {
      this.counters.errors++;
      this.log.error({ err: error, network: packetIn.network }, 'dhcp: request failed');
      return undefined;
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.unwatch();
    await Promise.allSettled([...this.inFlight]);
  }

  private async process(p: PacketIn): Promise<Buffer[] | undefined> {
    if (this.closed) return undefined;
    // Every replica gets every packet-in; only the leader spends a decode on it.
    if (!this.leadership.isLeader(p.network)) {
      this.counters.notLeader++;
      return undefined;
    }
    let frame: ParsedUdpFrame;
    let request: DhcpMessage;
    try {
      frame = parseUdpFrame(p.frame);
      if (frame.udp.dstPort !== DHCP_SERVER_PORT) {
        this.counters.ignored++;
        return undefined;
      }
      request = decodeDhcpMessage(frame.udp.payload);
    } catch (error) {
      if (!(error instanceof PacketDecodeError)) throw error;
      this.counters.malformed++;
      this.log.debug({ network: p.network, host: p.host, port: p.port, reason: error.message }, 'dhcp: malformed packet dropped');
      return undefined;
    }
    if (request.op !== BOOTREQUEST) {
      this.counters.ignored++;
      return undefined;
    }
    // A client speaks for itself: its chaddr is the source MAC the switch saw
    // (port security holds a port to its MACs). Only a relay (giaddr set)
    // sends for others, and what it may do is bounded by the port rule.
    if (request.giaddr === '0.0.0.0' && request.chaddr !== frame.ethernet.src) {
      this.counters.spoofed++;
      this.log.debug({ network: p.network, host: p.host, port: p.port, chaddr: request.chaddr, src: frame.ethernet.src }, 'dhcp: chaddr is not the source MAC; dropped');
      return undefined;
    }
    const fence = this.leadership.fence(p.network);
    const state = await this.stateOf(p.network);
    if (!state) {
      this.counters.unknownNetwork++;
      return undefined;
    }
    if (state.fencedTerm !== undefined) {
      if (!fence || fence.term <= state.fencedTerm) {
        this.counters.fenced++;
        return undefined;
      }
      state.fencedTerm = undefined;
    }
    if (!this.rate.take(`${p.network}|${request.chaddr}`, this.now())) {
      this.counters.rateLimited++;
      return undefined;
    }
    // One request per client at a time: a retransmission waits for the first to be durable.
    return this.serial(`${p.network}|${request.chaddr}`, () => this.answer(state, p, frame, request, fence));
  }

  private async answer(
    state: NetworkState, p: PacketIn, frame: ParsedUdpFrame, request: DhcpMessage, fence: Fence | undefined,
  ): Promise<Buffer[] | undefined> {
    const avoid = new Set<number>();
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const view = state.view((v) => this.reportView(v));
      if (!view) {
        this.counters.unknownNetwork++;
        return undefined;
      }
      const decision = decide({
        view,
        leases: state.lookup,
        request,
        ipBroadcast: frame.ipv4.dst === BROADCAST_IPV4,
        ingress: { host: p.host, port: p.port },
        ...(this.options.ports ? { ports: this.options.ports } : {}),
        now: this.now(),
        timers: this.timers,
        avoid,
      });
      if (decision.event) this.emit(decision.event, state);
      const write = decision.write;
      if (write) {
        const ip = ipv4ToNumber(write.lease.ip)!;
        if (write.lease.state === 'offered') {
          // Held, not stored: the ACK's write is conditional on the revision the offer saw.
          state.offers.hold(ip, write.lease, write.ifRevision);
        } else if (state.offers.at(ip) && (write.lease.state === 'expired' || write.lease.state === 'released')) {
          // An offer taken back (the client chose another server, or released it): nothing was stored.
          state.offers.drop(ip);
        } else {
          const outcome = await this.write(state, write.lease, write.ifRevision, fence);
          if (outcome === 'conflict') continue;
          if (outcome === 'failed') return undefined;
          state.offers.drop(ip);
        }
      }
      return this.reply(decision, frame, request);
    }
    this.log.warn({ network: p.network, mac: request.chaddr }, 'dhcp: gave up after repeated write conflicts');
    return undefined;
  }

  private reply(decision: Decision, frame: ParsedUdpFrame, request: DhcpMessage): Buffer[] | undefined {
    const paths = this.counters.paths;
    paths[decision.path] = (paths[decision.path] ?? 0) + 1;
    if (!decision.reply) {
      this.counters.silent++;
      return undefined;
    }
    const { type, message, serverId } = decision.reply;
    const bytes = buildReplyFrame({
      request,
      reply: message,
      type,
      serverId,
      serverMac: this.serverMac(serverId),
      requestEthSrc: frame.ethernet.src,
      ...(frame.ethernet.vlan ? { vlan: frame.ethernet.vlan } : {}),
    });
    if (type === 'offer') this.counters.offers++;
    else if (type === 'ack') this.counters.acks++;
    else this.counters.naks++;
    return [Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)];
  }

  /** Commits one lease write; on a conflict the table is refreshed from the store. */
  private async write(
    state: NetworkState, lease: Lease, ifRevision: number | null, fence: Fence | undefined,
  ): Promise<'ok' | 'conflict' | 'failed'> {
    return this.commit(state, put('lease', keyOf('lease', lease), lease, ifRevision), lease.ip, fence);
  }

  private async commit(state: NetworkState, op: Op, ip: string, fence: Fence | undefined): Promise<'ok' | 'conflict' | 'failed'> {
    const n = ipv4ToNumber(ip)!;
    state.leases.markPending(n);
    try {
      const started = performance.now();
      const result = await this.store.commit([op], fence ? { fence } : {}).finally(() => this.leaseWrites.record(performance.now() - started));
      this.counters.writes++;
      if (op.op === 'put') state.leases.apply(op.value as Lease, result.revision);
      else state.leases.remove(ip, result.revision);
      return 'ok';
    } catch (error) {
      if (error instanceof ConflictError) {
        this.counters.conflicts++;
        // An offer held over the address saw a revision that is gone: the next decision reads the store.
        state.offers.drop(n);
        const current = await this.store.get('lease', op.key);
        state.leases.reset(ip, current && { lease: current.value, revision: current.revision });
        return 'conflict';
      }
      if (error instanceof FencedError) {
        state.fencedTerm = fence?.term ?? error.expected;
        this.emit({ type: 'fenced', network: state.ref, term: state.fencedTerm }, state);
        return 'failed';
      }
      this.counters.storeErrors++;
      this.log.error({ err: error, network: state.ref, ip }, 'dhcp: lease write failed');
      return 'failed';
    } finally {
      state.leases.clearPending(n);
    }
  }

  async sweep(): Promise<number> {
    if (this.sweeping || this.closed) return 0;
    this.sweeping = true;
    try {
      const now = this.now();
      const writes: Promise<'ok' | 'conflict' | 'failed'>[] = [];
      for (const [ref, { state }] of this.states) {
        state.offers.expire(now);
        if (!this.leadership.isLeader(ref) || state.fencedTerm !== undefined) continue;
        const fence = this.leadership.fence(ref);
        for (const { lease, revision } of [...state.leases.entries()]) {
          if (lease.expiresAt > now || state.leases.isPending(ipv4ToNumber(lease.ip)!)) continue;
          const key = keyOf('lease', lease);
          if (lease.state === 'offered' || lease.state === 'bound') {
            // Kept as expired, not deleted: the client gets the same address back if it is still free.
            writes.push(this.commit(state, put('lease', key, { ...lease, state: 'expired' }, revision), lease.ip, fence));
          } else if (lease.state === 'declined') {
            writes.push(this.commit(state, del('lease', key, revision), lease.ip, fence));
          }
        }
      }
      const outcomes = await Promise.all(writes);
      return outcomes.filter((o) => o === 'ok').length;
    } finally {
      this.sweeping = false;
    }
  }

  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(fn);
    const tail = next.then(() => undefined, () => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }

  private async stateOf(ref: string): Promise<NetworkState | undefined> {
    let entry = this.states.get(ref);
    if (!entry) {
      if (!NetworkRef.safeParse(ref).success) return undefined;
      const state = new NetworkState(ref);
      entry = { state, ready: this.load(state) };
      this.states.set(ref, entry);
      entry.ready.catch(() => this.states.delete(ref));
    }
    await entry.ready;
    if (!entry.state.network) {
      // Not kept: a network that does not exist costs a lookup, never memory.
      if (this.states.get(ref) === entry) this.states.delete(ref);
      return undefined;
    }
    return entry.state;
  }

  private async load(state: NetworkState): Promise<void> {
    const prefix = `${state.ref}/`;
    const network = await this.store.get('network', state.ref);
    if (network && (!state.network || state.network.revision <= network.revision)) {
      state.network = { value: network.value, revision: network.revision };
    }
    for (const r of await this.store.list('reservation', { prefix })) this.setReservation(state, r.value, r.revision);
    for (const l of await this.store.list('lease', { prefix })) state.leases.apply(l.value, l.revision);
    state.invalidate();
  }

  private setReservation(state: NetworkState, r: Reservation, revision: number): void {
    const old = state.reservations.get(r.mac);
    if (old && old.revision > revision) return;
    state.reservations.set(r.mac, { value: r, revision });
    state.invalidate();
  }

  private onChanges(changes: Change[]): void {
    for (const c of changes) {
      if (c.kind === 'lease') {
        const l = c.value as Lease;
        const entry = this.states.get(`${l.tenant}/${l.network}`);
        if (!entry) continue;
        if (c.op === 'put') {
          entry.state.leases.apply(l, c.revision);
          // Someone else's binding stored at an offered address wins over the offer.
          const ip = ipv4ToNumber(l.ip);
          const offer = ip === undefined ? undefined : entry.state.offers.at(ip);
          if (offer && offer.revision !== c.revision && isLive(l, this.now()) && !ownedBy(l, offer.lease)) entry.state.offers.drop(ip!);
        } else entry.state.leases.remove(l.ip, c.revision);
      } else if (c.kind === 'network') {
        const state = this.states.get(c.key)?.state;
        if (!state || (state.network && state.network.revision > c.revision)) continue;
        state.network = c.op === 'put' ? { value: c.value as Network, revision: c.revision } : undefined;
        state.invalidate();
      } else if (c.kind === 'reservation') {
        const r = c.value as Reservation;
        const state = this.states.get(`${r.tenant}/${r.network}`)?.state;
        if (!state) continue;
        if (c.op === 'put') this.setReservation(state, r, c.revision);
        else {
          const old = state.reservations.get(r.mac);
          if (old && old.revision <= c.revision) state.reservations.delete(r.mac);
          state.invalidate();
        }
      }
    }
  }

  private reportView(view: NetworkView): void {
    for (const u of view.unservable) {
      if (u.reason === 'no-server-id') {
        this.emit({ type: 'subnet-unservable', network: view.ref, cidr: u.cidr, reason: u.reason }, undefined);
      }
    }
  }

  private emit(event: DhcpEvent, state: NetworkState | undefined): void {
    if (event.type === 'pool-exhausted' && state) {
      // Every DISCOVER of a full pool is an event; the log says it at most every 10 s.
      const now = this.now();
      if (now - state.lastExhaustedLog >= 10_000) {
        state.lastExhaustedLog = now;
        this.log.warn({ ...event }, 'dhcp: pool exhausted, no offer');
      }
    } else if (event.type === 'subnet-unservable') {
      this.log.warn({ ...event }, 'dhcp: subnet has no gateway and no server id; it is not served');
    } else if (event.type === 'fenced') {
      this.counters.fenced++;
      this.log.warn({ ...event }, 'dhcp: lease write fenced; no longer answering this network');
    } else {
      this.log.info({ ...event }, `dhcp: ${event.type}`);
    }
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.log.error({ err: error }, 'dhcp: event listener failed');
    }
  }
}
