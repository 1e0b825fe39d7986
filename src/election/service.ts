// The election service: the imperative shell around the per-network machines
// of machine.ts. It sends this replica's adverts every interval to its peers,
// authenticates and replay-checks theirs, feeds the entries to the machines,
// arms one timer for their earliest deadline, claims terms in the store,
// confirms the terms it holds with a store read every interval (and probes
// the store once an interval when it leads nothing), runs the notify script
// and reports leadership changes. It is the Leadership the DHCP plane asks
// before answering and fencing a write.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  acceptAdvert, ADVERT_VERSION, AdvertDecodeError, DEFAULT_ADVERT_BYTES, DEFAULT_MAX_SKEW_MS, encodeAdvert, MIN_KEY_BYTES,
  openAdvert, splitEntries, type AdvertEntry, type ReplayState,
} from '../../protocols/advert/index.js';
import type { Host } from '../model/index.js';
import { FencedError, type Change, type Fence, type Store } from '../store/store.js';
import { SYSTEM_CLOCK, type Clock } from './clock.js';
import {
  answering, confirmEveryMs, currentLeader, entryOf, initialElection, isLive, masterDownMs, nextDeadline, step,
  type ElectionAction, type ElectionEvent, type MachineConfig, type NetworkElection, type Role, type StepDownReason,
} from './machine.js';
import type { Transport } from './transport.js';

/** The store as the election uses it: terms, and the networks to elect leaders for. */
export type ElectionStore = Pick<Store, 'claimTerm' | 'term' | 'list' | 'watch'>;

export interface ElectionLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Runs the notify script; returns when it has exited (resolves with its exit code, or rejects). */
export type NotifyRunner = (script: string, args: string[]) => Promise<number | null>;

export interface ElectionOptions {
  replicaId: string;
  /** The shared advert key, at least 16 bytes. */
  key: Uint8Array;
  transport: Transport;
  store: ElectionStore;
  log: ElectionLog;
  /** Default 200 ms. */
  intervalMs?: number;
  /** This replica's priority for every network without an override; default 100. */
  priority?: number;
  /** Per-network priorities (`TENANT/NAME` → 1..255), so that leadership spreads across replicas. */
  networkPriorities?: Record<string, number>;
  /** Default true. */
  preempt?: boolean;
  preemptDelayMs?: number;
  /** How much each failed tracked check lowers the priority of the networks it covers; default 50. */
  trackWeight?: number;
  maxSkewMs?: number;
  /** Split adverts to at most this many bytes; default 1400. */
  maxAdvertBytes?: number;
  /** Run as `SCRIPT leader|backup NETWORK TERM` on each change of this replica's role. */
  notifyScript?: string;
  runNotify?: NotifyRunner;
  clock?: Clock;
  /** This process's boot epoch; default the clock's now at construction. */
  boot?: number;
  onEvent?: (event: LeadershipEvent) => void;
}

export type LeadershipEvent =
  | { type: 'leader'; network: string; term: number; replicaId: string }
  | { type: 'backup'; network: string; term: number; replicaId: string; reason: StepDownReason };

export type RejectReason = 'malformed' | 'forged' | 'replayed' | 'skew' | 'self';

export interface ElectionStats {
  advertsSent: number;
  advertsReceived: number;
  rejected: Record<RejectReason, number>;
  claims: number;
  claimsFenced: number;
  claimErrors: number;
  /** Term reads sent to confirm a term we hold or to probe the store. */
  confirms: number;
  confirmErrors: number;
  /** Times a leader went quiet (stopped answering) because the store had not confirmed its term in time. */
  quiet: number;
  /** Times a leader stepped down because the store had not confirmed its term for the quiet grace as well. */
  unconfirmed: number;
  notifyFailures: number;
}

/** A peer as this replica hears it, over every network. */
export interface PeerSummary {
  replicaId: string;
  /** Where its latest accepted advert came from. */
  address: string | undefined;
  /** Epoch ms of its latest accepted advert. */
  lastSeen: number;
  live: boolean;
  intervalMs: number;
  /** Networks it leads, as far as we know. */
  leads: number;
}

/** Whether this replica reaches the store, from its term reads. */
export interface StoreView {
  reachable: boolean;
  /** Epoch ms the latest successful term read was sent. */
  lastReadAt: number | undefined;
  /** How long that read took. */
  latencyMs: number | undefined;
  /** Term reads in flight. */
  pending: number;
}

export interface ReplicaView {
  replicaId: string;
  address: string | undefined;
  intervalMs: number;
  leads: number;
  peers: PeerSummary[];
  store: StoreView;
  stats: ElectionStats;
}

export interface PeerInfo {
  replicaId: string;
  priority: number;
  term: number;
  leader: boolean;
  live: boolean;
}

/** One network as this replica sees it, for `leader.list` and status. */
export interface LeaderInfo {
  network: string;
  role: Role;
  /** We answer for the network now: leading, the term confirmed in time (see machine.ts `answering`). */
  answering: boolean;
  /** Who leads as far as we know: us, a live peer, or nobody. */
  leader: string | undefined;
  term: number;
  priority: number;
  since: number;
  peers: PeerInfo[];
}

export interface ElectionService {
  start(): Promise<void>;
  /**
   * Gives up every network at once: advertises priority 0, so backups take
   * over after their skew time, and stops leading; adverts go on (at
   * priority 0) until stop. The daemon calls it first on a graceful stop,
   * before its other planes wind down.
   */
  resign(): void;
  /** Graceful: resigns if it has not, then closes. */
  stop(): Promise<void>;
  isLeader(network: string): boolean;
  /** The fence every write of a network we lead carries: `{scope: network:TENANT/NAME, term}`. */
  fence(network: string): Fence | undefined;
  /** A write of ours was fenced at `term`: step down at once. */
  fenced(network: string, term: number): void;
  /**
   * A tracked check changed: `ovsdb:HOST`, `openflow:HOST`, `store`, ... While
   * it fails, the priority of the networks it covers (`all`, or a list) is
   * lowered by the track weight.
   */
  track(check: string, ok: boolean, networks: readonly string[] | 'all'): void;
  leaders(): LeaderInfo[];
  /** This replica's view of its peers and of the store, for status. */
  view(): ReplicaView;
  stats(): ElectionStats;
  /** Resolves when no term claim or term read is in flight. */
  idle(): Promise<void>;
  address(): string | undefined;
}

export const DEFAULT_INTERVAL_MS = 200;
export const DEFAULT_PRIORITY = 100;
export const DEFAULT_TRACK_WEIGHT = 50;
/** The tracked check the service sets itself while its term reads do not come back. */
export const STORE_CHECK = 'store';

/**
 * The group that elects who writes a host's flows: its leader holds the
 * OpenFlow MASTER role on the host's switch, with its term as generation id.
 * Network names (`TENANT/NAME`) have no colon, so the two never collide.
 */
export function flowsGroup(host: string): string {
  return `flows:${host}`;
}

/** The host of a flows group; undefined for a network. */
export function hostOfGroup(group: string): string | undefined {
  return group.startsWith('flows:') ? group.slice('flows:'.length) : undefined;
}

/** The store's term scope of a group: `network:TENANT/NAME`, or the flows group itself. */
export function scopeOf(group: string): string {
  return hostOfGroup(group) === undefined ? `network:${group}` : group;
}

/** Reads a key file: its bytes less trailing whitespace, at least 16 of them. */
export function readAdvertKey(path: string): Uint8Array {
  const text = readFileSync(path);
  let end = text.length;
  while (end > 0 && (text[end - 1] === 0x0a || text[end - 1] === 0x0d || text[end - 1] === 0x20 || text[end - 1] === 0x09)) end--;
  if (end < MIN_KEY_BYTES) throw new Error(`the advert key in ${path} is shorter than ${MIN_KEY_BYTES} bytes`);
  return new Uint8Array(text.subarray(0, end));
}

/** Spawns the script without a shell, output ignored; the event loop never waits for it. */
export const spawnNotify: NotifyRunner = (script, args) =>
  new Promise((resolve, reject) => {
    const child = spawn(script, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });

export function createElectionService(options: ElectionOptions): ElectionService {
  return new Service(options);
}

interface Check {
  ok: boolean;
  networks: ReadonlySet<string> | 'all';
}

class Service implements ElectionService {
  private readonly config: MachineConfig;
  private readonly clock: Clock;
  private readonly log: ElectionLog;
  private readonly boot: number;
  private readonly machines = new Map<string, NetworkElection>();
  private readonly checks = new Map<string, Check>();
  private readonly pending = new Set<Promise<void>>();
  /** Term reads in flight: idle() waits for them, stop() does not (a store that is cut off may never answer). */
  private readonly reads = new Set<Promise<void>>();
  private readonly notifyChains = new Map<string, Promise<void>>();
  private replay: ReplayState = new Map();
  private seq = 0;
  private advertTimer: unknown;
  private confirmTimer: unknown;
  private electionTimer: unknown;
  private electionAt: number | undefined;
  private advertPending = false;
  private depth = 0;
  private running = false;
  private stopping = false;
  private unwatch: (() => void) | undefined;
  /** Networks (or the probe, as '') with a term read in flight. */
  private readonly reading = new Set<string>();
  private readonly peerSeen = new Map<string, { address: string; at: number; intervalMs: number }>();
  private storeReadAt: number | undefined;
  private storeLatency: number | undefined;
  private storeSince = 0;
  private readonly counters: ElectionStats = {
    advertsSent: 0, advertsReceived: 0, rejected: { malformed: 0, forged: 0, replayed: 0, skew: 0, self: 0 },
    claims: 0, claimsFenced: 0, claimErrors: 0, confirms: 0, confirmErrors: 0, quiet: 0, unconfirmed: 0, notifyFailures: 0,
  };

  constructor(private readonly options: ElectionOptions) {
    if (options.key.length < MIN_KEY_BYTES) throw new Error(`the advert key must have at least ${MIN_KEY_BYTES} bytes`);
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.log = options.log;
    this.boot = options.boot ?? this.clock.now();
    this.config = {
      replicaId: options.replicaId,
      intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
      preempt: options.preempt ?? true,
      preemptDelayMs: options.preemptDelayMs ?? 0,
    };
  }

  async start(): Promise<void> {
    await this.options.transport.start((bytes, from) => this.receive(bytes, from));
    this.running = true;
    this.storeSince = this.clock.now();
    this.unwatch = this.options.store.watch((changes) => this.onChanges(changes));
    const networks = await this.options.store.list('network');
    const hosts = await this.options.store.list('host');
    this.batch(() => {
      for (const n of networks) this.addNetwork(n.key);
      for (const h of hosts) if (h.value.state === 'admitted') this.addNetwork(flowsGroup(h.key));
      this.advertPending = true;
    });
    this.scheduleConfirm();
    this.log.info({ replicaId: this.config.replicaId, networks: this.machines.size, intervalMs: this.config.intervalMs, address: this.address() }, 'election: started');
  }

  /** Term reads on their own timer, not the advert's: a leader confirms twice per interval. */
  private scheduleConfirm(): void {
    this.confirmTimer = this.clock.setTimeout(() => {
      if (!this.running || this.stopping) return;
      this.confirmTerms();
      this.scheduleConfirm();
    }, confirmEveryMs(this.config.intervalMs));
  }

  resign(): void {
    if (!this.running || this.stopping) return;
    this.stopping = true;
    this.clock.clearTimeout(this.confirmTimer);
    this.batch(() => {
      for (const network of [...this.machines.keys()]) this.dispatch(network, { type: 'shutdown' });
    });
    // The priority-0 advert goes twice: a single lost datagram would cost the full master-down interval.
    this.sendAdverts();
    this.log.info({ replicaId: this.config.replicaId }, 'election: resigned');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.resign();
    this.running = false;
    this.unwatch?.();
    this.clock.clearTimeout(this.advertTimer);
    this.clock.clearTimeout(this.electionTimer);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.options.transport.close();
    this.log.info({ replicaId: this.config.replicaId }, 'election: stopped');
  }

  isLeader(network: string): boolean {
    const m = this.machines.get(network);
    // The lease is checked here too: a timer that fires late (a busy event loop) must not extend it.
    return m !== undefined && answering(m, this.clock.now());
  }

  fence(network: string): Fence | undefined {
    const m = this.machines.get(network);
    return m?.role === 'leader' ? { scope: scopeOf(network), term: m.leaderTerm! } : undefined;
  }

  fenced(network: string, term: number): void {
    this.batch(() => this.dispatch(network, { type: 'fenced', term }));
  }

  track(check: string, ok: boolean, networks: readonly string[] | 'all'): void {
    const before = this.checks.get(check);
    if (ok && !before) return;
    if (ok) this.checks.delete(check);
    else this.checks.set(check, { ok, networks: networks === 'all' ? 'all' : new Set(networks) });
    this.log.info({ check, ok }, `election: tracked check ${ok ? 'recovered' : 'failed'}`);
    this.batch(() => {
      for (const [network, m] of this.machines) {
        const priority = this.priorityOf(network);
        if (priority !== m.priority) this.dispatch(network, { type: 'priority', priority });
      }
    });
  }

  leaders(): LeaderInfo[] {
    const now = this.clock.now();
    return [...this.machines.values()].map((m) => {
      const leader = m.role === 'leader' ? this.config.replicaId : currentLeader(m, now)?.id;
      return {
        network: m.network, role: m.role, answering: answering(m, now), leader, term: m.leaderTerm ?? m.term, priority: m.priority, since: m.since,
        peers: [...m.peers].map(([replicaId, p]) => ({ replicaId, priority: p.priority, term: p.term, leader: p.leader, live: isLive(m, p, now) })),
      };
    });
  }

  view(): ReplicaView {
    const now = this.clock.now();
    const leads = new Map<string, number>();
    let ours = 0;
    for (const m of this.machines.values()) {
      if (hostOfGroup(m.network) !== undefined) continue;
      if (m.role === 'leader') ours++;
      const l = currentLeader(m, now);
      if (l) leads.set(l.id, (leads.get(l.id) ?? 0) + 1);
    }
    const peers = [...this.peerSeen].map(([replicaId, p]) => ({
      replicaId, address: p.address, lastSeen: p.at, intervalMs: p.intervalMs, leads: leads.get(replicaId) ?? 0,
      live: now - p.at < masterDownMs(1, p.intervalMs),
    }));
    return {
      replicaId: this.config.replicaId, address: this.address(), intervalMs: this.config.intervalMs, leads: ours,
      peers: peers.sort((a, b) => (a.replicaId < b.replicaId ? -1 : 1)),
      store: { reachable: !this.checks.has(STORE_CHECK), lastReadAt: this.storeReadAt, latencyMs: this.storeLatency, pending: this.reading.size },
      stats: this.stats(),
    };
  }

  stats(): ElectionStats {
    return { ...this.counters, rejected: { ...this.counters.rejected } };
  }

  async idle(): Promise<void> {
    while (this.pending.size > 0 || this.reads.size > 0) await Promise.allSettled([...this.pending, ...this.reads]);
  }

  address(): string | undefined {
    return this.options.transport.address();
  }

  private priorityOf(network: string): number {
    const base = this.options.networkPriorities?.[network] ?? this.options.priority ?? DEFAULT_PRIORITY;
    let failed = 0;
    for (const c of this.checks.values()) if (c.networks === 'all' || c.networks.has(network)) failed++;
    return Math.max(1, Math.min(255, base - failed * (this.options.trackWeight ?? DEFAULT_TRACK_WEIGHT)));
  }

  private addNetwork(network: string): void {
    if (this.machines.has(network)) return;
    const { state, actions } = initialElection(network, this.priorityOf(network), this.clock.now(), this.config);
    this.machines.set(network, state);
    this.apply(actions);
  }

  private onChanges(changes: Change[]): void {
    if (!this.running) return;
    this.batch(() => {
      for (const c of changes) {
        if (c.kind === 'network') {
          if (c.op === 'put') this.addNetwork(c.key);
          else if (this.machines.delete(c.key)) this.log.info({ network: c.key }, 'election: network deleted');
        } else if (c.kind === 'host') {
          // Only an admitted host's switch gets weft's flows, so only it needs a writer.
          const group = flowsGroup(c.key);
          if (c.op === 'put' && (c.value as Host).state === 'admitted') this.addNetwork(group);
          else if (this.machines.delete(group)) this.log.info({ network: group }, 'election: host gone');
        }
      }
    });
  }

  /** Runs fn, then sends the adverts it asked for and arms the timer, once. */
  private batch(fn: () => void): void {
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
    if (this.depth > 0 || !this.running) return;
    if (this.advertPending) this.sendAdverts();
    this.armElection();
  }

  private dispatch(network: string, event: ElectionEvent): void {
    const m = this.machines.get(network);
    if (!m) return;
    const { state, actions } = step(m, event, this.clock.now(), this.config);
    this.machines.set(network, state);
    this.apply(actions);
  }

  private apply(actions: ElectionAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'advertNow':
          this.advertPending = true;
          break;
        case 'claim':
          this.claim(a.network, a.seen);
          break;
        case 'leader':
          this.log.info({ network: a.network, term: a.term }, 'election: leader');
          this.announce({ type: 'leader', network: a.network, term: a.term, replicaId: this.config.replicaId });
          break;
        case 'quiet':
          if (a.quiet) {
            this.counters.quiet++;
            this.log.warn({ network: a.network, term: a.term }, 'election: term not confirmed in time; leading but not answering');
          } else {
            this.log.info({ network: a.network, term: a.term }, 'election: term confirmed again; answering');
          }
          break;
        case 'backup':
          if (a.reason === 'start') break;
          if (a.reason === 'unconfirmed') this.counters.unconfirmed++;
          this.log.info({ network: a.network, term: a.term, reason: a.reason }, 'election: backup');
          this.announce({ type: 'backup', network: a.network, term: a.term, replicaId: this.config.replicaId, reason: a.reason });
          break;
      }
    }
  }

  private claim(network: string, seen: number): void {
    this.counters.claims++;
    const at = this.clock.now();
    const work = this.options.store.claimTerm(scopeOf(network), seen).then(
      (term) => this.batch(() => this.dispatch(network, { type: 'claimed', term, at })),
      (error: unknown) => {
        if (error instanceof FencedError) {
          this.counters.claimsFenced++;
          this.log.debug({ network, seen, term: error.actual }, 'election: another replica claimed first');
          this.batch(() => this.dispatch(network, { type: 'claimFailed', term: error.actual, reason: 'fenced' }));
        } else {
          this.counters.claimErrors++;
          this.log.warn({ err: error, network }, 'election: cannot claim a term; not leading');
          this.batch(() => this.dispatch(network, { type: 'claimFailed', reason: 'store' }));
        }
      },
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /**
   * Once an interval: a term read for every network we lead (at most one in
   * flight each), or one probe read when we lead none, so the store's health
   * is known before we need it. A store that answers none of them for a
   * master-down interval is a failed tracked check.
   */
  private confirmTerms(): void {
    const now = this.clock.now();
    const leading = [...this.machines.values()].filter((m) => m.role === 'leader').map((m) => m.network);
    const reads = leading.length > 0 ? leading : [''];
    for (const network of reads) {
      if (this.reading.has(network)) continue;
      this.reading.add(network);
      this.counters.confirms++;
      const scope = network === '' ? `replica:${this.config.replicaId}` : scopeOf(network);
      const work = this.options.store.term(scope).then(
        (term) => {
          this.storeOk(now);
          if (network !== '') this.batch(() => this.dispatch(network, { type: 'confirmed', term, at: now }));
        },
        (error: unknown) => {
          this.counters.confirmErrors++;
          this.log.debug({ err: error, network }, 'election: term read failed');
        },
      );
      const tracked = work.finally(() => this.reading.delete(network));
      this.reads.add(tracked);
      void tracked.finally(() => this.reads.delete(tracked));
    }
    const last = this.storeReadAt ?? this.storeSince;
    if (now - last >= masterDownMs(255, this.config.intervalMs) && !this.checks.has(STORE_CHECK)) {
      this.log.warn({ lastReadAt: this.storeReadAt }, 'election: the store has not answered a term read for a master-down interval');
      this.track(STORE_CHECK, false, 'all');
    }
  }

  private storeOk(sentAt: number): void {
    const now = this.clock.now();
    if (this.storeReadAt === undefined || sentAt >= this.storeReadAt) {
      this.storeReadAt = sentAt;
      this.storeLatency = now - sentAt;
    }
    if (this.running && this.checks.has(STORE_CHECK)) this.track(STORE_CHECK, true, 'all');
  }

  private announce(event: LeadershipEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.log.error({ err: error }, 'election: event listener failed');
    }
    const script = this.options.notifyScript;
    // The script is keepalived's notify_master for networks; who writes a switch's flows is weft's own business.
    if (!script || hostOfGroup(event.network) !== undefined) return;
    // One script at a time per network, so `leader` and `backup` arrive in order; never awaited by the caller.
    const run = this.options.runNotify ?? spawnNotify;
    const args = [event.type, event.network, String(event.term)];
    const previous = this.notifyChains.get(event.network) ?? Promise.resolve();
    const next = previous.then(() =>
      run(script, args).then(
        (code) => {
          if (code !== 0) {
            this.counters.notifyFailures++;
            this.log.warn({ script, args, code }, 'election: notify script failed');
          }
        },
        (error: unknown) => {
          this.counters.notifyFailures++;
          this.log.warn({ err: error, script, args }, 'election: notify script could not run');
        },
      ),
    );
    this.notifyChains.set(event.network, next);
    void next.finally(() => {
      if (this.notifyChains.get(event.network) === next) this.notifyChains.delete(event.network);
    });
  }

  private receive(bytes: Uint8Array, from: string): void {
    if (!this.running) return;
    let advert;
    try {
      advert = openAdvert(bytes, this.options.key);
    } catch (error) {
      if (!(error instanceof AdvertDecodeError)) throw error;
      this.counters.rejected[error.kind]++;
      this.log.debug({ reason: error.kind, detail: error.message }, 'election: advert rejected');
      return;
    }
    const verdict = acceptAdvert(this.replay, advert, this.clock.now(), { maxSkewMs: this.options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS, self: this.config.replicaId });
    if (!verdict.accepted) {
      this.counters.rejected[verdict.reason]++;
      this.log.debug({ reason: verdict.reason, from: advert.replicaId, detail: verdict.detail }, 'election: advert rejected');
      return;
    }
    this.replay = verdict.state;
    this.counters.advertsReceived++;
    this.peerSeen.set(advert.replicaId, { address: from, at: this.clock.now(), intervalMs: advert.intervalMs });
    const a = advert;
    this.batch(() => {
      for (const e of a.entries) {
        this.dispatch(e.network, { type: 'advert', from: a.replicaId, intervalMs: a.intervalMs, entry: { priority: e.priority, term: e.term, leader: e.leader } });
      }
    });
  }

  private sendAdverts(): void {
    this.advertPending = false;
    const entries: AdvertEntry[] = [...this.machines.values()].map((m) => ({ network: m.network, ...entryOf(m) }));
    const now = this.clock.now();
    for (const group of splitEntries(this.config.replicaId, entries, this.options.maxAdvertBytes ?? DEFAULT_ADVERT_BYTES)) {
      const bytes = encodeAdvert(
        { version: ADVERT_VERSION, replicaId: this.config.replicaId, intervalMs: this.config.intervalMs, boot: this.boot, seq: this.seq++, timestamp: Math.floor(now), entries: group },
        this.options.key,
      );
      this.options.transport.send(bytes);
      this.counters.advertsSent++;
    }
    if (this.running) {
      // The next periodic advert is one interval after the latest one, whatever sent it.
      this.clock.clearTimeout(this.advertTimer);
      this.advertTimer = this.clock.setTimeout(() => this.batch(() => (this.advertPending = true)), this.config.intervalMs);
    }
  }

  private armElection(): void {
    const now = this.clock.now();
    let at: number | undefined;
    for (const m of this.machines.values()) {
      const d = nextDeadline(m, now, this.config);
      if (d !== undefined && (at === undefined || d < at)) at = d;
    }
    if (at === this.electionAt) return;
    this.clock.clearTimeout(this.electionTimer);
    this.electionAt = at;
    if (at === undefined) return;
    this.electionTimer = this.clock.setTimeout(() => {
      this.electionAt = undefined;
      this.batch(() => {
        const t = this.clock.now();
        for (const [network, m] of this.machines) {
          const d = nextDeadline(m, t, this.config);
          if (d !== undefined && d <= t) this.dispatch(network, { type: 'tick' });
        }
      });
    }, Math.max(0, at - now));
  }
}
