// Packet-ins go through a bounded queue per switch, drained at a rate a token
// bucket allows, so a switch that floods weft with packet-ins (a broadcast
// storm, a hostile VM) fills and overflows its own queue and cannot starve
// the event loop or the other switches. What overflows is dropped and
// counted; the subscribers (the DHCP plane) see the rest in arrival order.
import type { Match } from '../../protocols/openflow/index.js';
import type { PacketIn } from './session.js';

/** What a subscriber gets for one packet-in. */
export interface PacketInEvent {
  dpid: bigint;
  /** The host the switch belongs to, once the OVSDB plane has told us. */
  host: string | undefined;
  inPort: number;
  /** What the pipeline wrote into metadata: the network id. */
  metadata: bigint;
  tableId: number;
  cookie: bigint;
  reason: number;
  /** The Ethernet frame, whole (weft asks the switch for whole frames). */
  frame: Uint8Array;
}

export type PacketInHandler = (ev: PacketInEvent) => void;

export interface PacketInLimits {
  /** Most packet-ins waiting per switch; more are dropped. */
  queue?: number;
  /** Sustained packet-ins per second handed on, per switch. */
  rate?: number;
  /** Packet-ins that may be handed on at once after a quiet spell. */
  burst?: number;
}

export interface PacketInCounters {
  received: number;
  delivered: number;
  dropped: number;
  queued: number;
}

function field(match: Match, name: 'in_port' | 'metadata'): bigint | undefined {
  for (const o of match.fields) if (o.field !== 'unknown' && (o.field === name || (name === 'in_port' && o.field === 'nxm_in_port'))) return o.value;
  return undefined;
}

export function toEvent(dpid: bigint, host: string | undefined, m: PacketIn): PacketInEvent {
  return {
    dpid,
    host,
    inPort: Number(field(m.match, 'in_port') ?? 0n),
    metadata: field(m.match, 'metadata') ?? 0n,
    tableId: m.tableId,
    cookie: m.cookie,
    reason: m.reason,
    frame: m.data,
  };
}

/** A FIFO with a cap and a token bucket; `deliver` is called for each admitted event. */
export class PacketInQueue {
  private readonly items: PacketInEvent[] = [];
  private head = 0;
  private tokens: number;
  private last = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private stopped = false;
  readonly counters: PacketInCounters = { received: 0, delivered: 0, dropped: 0, queued: 0 };
  private readonly cap: number;
  private readonly rate: number;
  private readonly burst: number;

  constructor(
    private readonly deliver: (ev: PacketInEvent) => void,
    limits: PacketInLimits = {},
  ) {
    this.cap = limits.queue ?? 1024;
    this.rate = limits.rate ?? 5_000;
    this.burst = limits.burst ?? Math.max(1, Math.min(this.cap, Math.ceil(this.rate / 10)));
    this.tokens = this.burst;
  }

  push(ev: PacketInEvent): boolean {
    if (this.stopped) return false;
    this.counters.received++;
    if (this.items.length - this.head >= this.cap) {
      this.counters.dropped++;
      return false;
    }
    this.items.push(ev);
    this.counters.queued = this.items.length - this.head;
    this.schedule();
    return true;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  private schedule(): void {
    if (this.scheduled || this.timer || this.stopped) return;
    this.scheduled = true;
    // Drain on a later turn: packet-ins read from one socket chunk are queued before any is handled.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    if (this.stopped) return;
    this.refill();
    // A bounded slice per turn keeps other sockets and timers served under a flood.
    let budget = Math.min(Math.floor(this.tokens), 256);
    while (budget > 0 && this.head < this.items.length) {
      const ev = this.items[this.head]!;
      this.items[this.head++] = undefined as unknown as PacketInEvent;
      this.tokens -= 1;
      budget--;
      this.counters.delivered++;
      try {
        this.deliver(ev);
      } catch {
        /* a subscriber's failure is its own; the queue goes on */
      }
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    this.counters.queued = this.items.length - this.head;
    if (this.head >= this.items.length) return;
    if (this.tokens >= 1) return this.schedule();
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, wait);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.items.length = 0;
    this.head = 0;
    this.counters.queued = 0;
  }
}

/** Subscribers of packet-ins from every switch. */
export class PacketInDispatcher {
  private readonly handlers = new Set<PacketInHandler>();

  /** Subscribes; the returned function unsubscribes. */
  onPacketIn(handler: PacketInHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  dispatch(ev: PacketInEvent): void {
    for (const h of this.handlers) {
      try {
        h(ev);
      } catch {
        /* one subscriber cannot stop the others */
      }
    }
  }
}
