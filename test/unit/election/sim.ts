// A simulated cluster for the election: replicas in one process on a fake
// clock and a fake network (loss, delay, partitions, kills), sharing one real
// SQLite store for terms. Time only moves when the simulation advances it;
// between two instants every store operation in flight is allowed to finish.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createElectionService, scopeOf, type ElectionOptions, type ElectionService } from '../../../src/election/service.js';
import type { Clock } from '../../../src/election/clock.js';
import type { Transport } from '../../../src/election/transport.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { put, type Store } from '../../../src/store/store.js';
import { rng } from '../../harness/rng.js';

export const T0 = 1_700_000_000_000;
export const KEY = new TextEncoder().encode('simulated cluster shared key 32b');

interface Timer {
  at: number;
  seq: number;
  owner: string;
  fn: () => void;
}

export class FakeClock {
  t = T0;
  private seq = 0;
  private timers: Timer[] = [];

  view(owner: string): Clock {
    return {
      now: () => this.t,
      setTimeout: (fn, ms) => this.schedule(owner, this.t + Math.max(0, ms), fn),
      clearTimeout: (h) => {
        if (h) this.timers = this.timers.filter((x) => x !== h);
      },
    };
  }

  schedule(owner: string, at: number, fn: () => void): Timer {
    const timer = { at, seq: this.seq++, owner, fn };
    this.timers.push(timer);
    return timer;
  }

  kill(owner: string): void {
    this.timers = this.timers.filter((x) => x.owner !== owner);
  }

  /** Runs the earliest timer due by `until`; false when there is none. */
  runNext(until: number): boolean {
    let best: Timer | undefined;
    for (const x of this.timers) if (!best || x.at < best.at || (x.at === best.at && x.seq < best.seq)) best = x;
    if (!best || best.at > until) {
      this.t = Math.max(this.t, until);
      return false;
    }
    this.timers = this.timers.filter((x) => x !== best);
    this.t = Math.max(this.t, best.at);
    best.fn();
    return true;
  }
}

export class FakeNet {
  loss = 0;
  minDelay = 1;
  maxDelay = 5;
  private readonly handlers = new Map<string, (bytes: Uint8Array, from: string) => void>();
  private readonly cut = new Set<string>();
  /** Every datagram sent, for replay tests. */
  readonly sent: { from: string; bytes: Uint8Array }[] = [];

  constructor(private readonly clock: FakeClock, private readonly random: () => number) {}

  endpoint(id: string): Transport {
    return {
      start: async (on) => {
        this.handlers.set(id, on);
      },
      send: (bytes) => {
        this.sent.push({ from: id, bytes });
        for (const to of this.handlers.keys()) if (to !== id) this.deliverLater(id, to, bytes);
      },
      close: async () => {
        this.handlers.delete(id);
      },
      address: () => id,
    };
  }

  /** Hands bytes to one replica now, as if from `from`. */
  inject(to: string, bytes: Uint8Array, from = 'attacker'): void {
    this.handlers.get(to)?.(bytes, from);
  }

  detach(id: string): void {
    this.handlers.delete(id);
  }

  partition(a: string, b: string): void {
    this.cut.add(`${a}|${b}`).add(`${b}|${a}`);
  }

  isolate(id: string, others: string[]): void {
    for (const o of others) if (o !== id) this.partition(id, o);
  }

  heal(): void {
    this.cut.clear();
  }

  private deliverLater(from: string, to: string, bytes: Uint8Array): void {
    if (this.cut.has(`${from}|${to}`) || this.random() < this.loss) return;
    const delay = this.minDelay + this.random() * (this.maxDelay - this.minDelay);
    this.clock.schedule('net', this.clock.t + delay, () => {
      if (!this.cut.has(`${from}|${to}`)) this.handlers.get(to)?.(bytes, from);
    });
  }
}

export interface SimReplica {
  id: string;
  service: ElectionService;
  alive: boolean;
  events: { type: string; network: string; term: number; at: number; reason?: string }[];
  notified: string[][];
}

export type ReplicaOptions = Partial<Omit<ElectionOptions, 'replicaId' | 'key' | 'transport' | 'store' | 'log' | 'clock'>>;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export class Sim {
  readonly clock = new FakeClock();
  readonly net: FakeNet;
  readonly replicas = new Map<string, SimReplica>();
  /** Every term the store granted, by scope: a term granted twice is a bug. */
  readonly granted = new Map<string, number[]>();
  readonly violations: string[] = [];
  private storeDown = new Set<string>();

  private constructor(readonly store: Store, readonly random: () => number) {
    this.net = new FakeNet(this.clock, random);
  }

  static async create(networks: string[], seed = 1): Promise<Sim> {
    const dir = mkdtempSync(join(tmpdir(), 'weft-election-'));
    const store = await openSqliteStore(join(dir, 'weft.db'));
    await store.commit(networks.map((n) => {
      const [tenant, name] = n.split('/');
      return put('network', n, { tenant, name } as never);
    }));
    return new Sim(store, rng(seed));
  }

  /** The store as one replica reaches it: claims and term reads fail while that replica is cut off from it. */
  private storeFor(id: string): ElectionOptions['store'] {
    return {
      list: (kind, o) => this.store.list(kind, o),
      watch: (l) => this.store.watch(l),
      term: async (scope) => {
        if (this.storeDown.has(id)) throw new Error('store unreachable');
        return this.store.term(scope);
      },
      claimTerm: async (scope, seen) => {
        if (this.storeDown.has(id)) throw new Error('store unreachable');
        const term = await this.store.claimTerm(scope, seen);
        const list = this.granted.get(scope) ?? [];
        if (list.includes(term)) this.violations.push(`term ${term} of ${scope} granted twice`);
        list.push(term);
        this.granted.set(scope, list);
        return term;
      },
    };
  }

  async add(id: string, options: ReplicaOptions = {}): Promise<SimReplica> {
    const r: SimReplica = { id, alive: true, events: [], notified: [], service: undefined as never };
    r.service = createElectionService({
      replicaId: id, key: KEY, transport: this.net.endpoint(id), store: this.storeFor(id), log: quiet,
      clock: this.clock.view(id), intervalMs: 100, notifyScript: '/usr/libexec/weft-notify',
      runNotify: async (_script, args) => {
        r.notified.push(args);
        return 0;
      },
      onEvent: (e) => r.events.push({ type: e.type, network: e.network, term: e.term, at: this.clock.t, ...(e.type === 'backup' ? { reason: e.reason } : {}) }),
      ...options,
    });
    this.replicas.set(id, r);
    await r.service.start();
    return r;
  }

  /** kill -9: no goodbye advert, timers and sockets gone. */
  kill(id: string): void {
    const r = this.replicas.get(id)!;
    r.alive = false;
    this.clock.kill(id);
    this.net.detach(id);
  }

  async stop(id: string): Promise<void> {
    const r = this.replicas.get(id)!;
    await r.service.stop();
    r.alive = false;
    this.clock.kill(id);
  }

  cutStore(id: string, down: boolean): void {
    if (down) this.storeDown.add(id);
    else this.storeDown.delete(id);
  }

  live(): SimReplica[] {
    return [...this.replicas.values()].filter((r) => r.alive);
  }

  /** Replicas that believe they lead the network, with their terms. */
  leaders(network: string): { id: string; term: number }[] {
    return this.live().filter((r) => r.service.isLeader(network)).map((r) => ({ id: r.id, term: r.service.fence(network)!.term }));
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await Promise.all([...this.replicas.values()].map((r) => r.service.idle()));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Advances the clock by `ms`, checking the invariants after every instant. */
  async run(ms: number, networks: string[] = []): Promise<void> {
    const until = this.clock.t + ms;
    await this.settle();
    while (this.clock.runNext(until)) {
      await this.settle();
      for (const n of networks) this.check(n);
    }
    await this.settle();
    for (const n of networks) this.check(n);
  }

  /** Runs until `done` holds or `ms` pass; returns the time it took, or undefined. */
  async until(ms: number, done: () => boolean, networks: string[] = []): Promise<number | undefined> {
    const start = this.clock.t;
    const end = start + ms;
    await this.settle();
    if (done()) return 0;
    while (this.clock.runNext(end)) {
      await this.settle();
      for (const n of networks) this.check(n);
      if (done()) return this.clock.t - start;
    }
    return undefined;
  }

  /** At most one replica believes it leads with a given term; no believed term is ahead of the store. */
  check(network: string): void {
    const seen = new Map<number, string>();
    const granted = this.granted.get(scopeOf(network)) ?? [];
    const top = granted.length ? Math.max(...granted) : 0;
    for (const l of this.leaders(network)) {
      const other = seen.get(l.term);
      if (other) this.violations.push(`${other} and ${l.id} both lead ${network} at term ${l.term}`);
      seen.set(l.term, l.id);
      if (l.term > top) this.violations.push(`${l.id} leads ${network} at term ${l.term}, never granted`);
    }
  }

  async close(): Promise<void> {
    for (const r of this.live()) await r.service.stop();
    await this.store.close();
  }
}
