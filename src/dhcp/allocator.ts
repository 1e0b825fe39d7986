// Which address a DISCOVER is offered (RFC 2131 4.3.1), as a pure function of
// the network, its leases, the client and the time.
import { ipv4ToNumber } from '../../protocols/packet/index.js';
import { ownedBy, isLive, type Client, type LeaseEntry, type LeaseLookup } from './leases.js';
import { inRanges, subnetOf, type NetworkView, type ServedSubnet } from './view.js';

/**
 * How an address stands for one client: its own, never leased, once leased
 * to someone else but free now (released, expired), or unavailable.
 */
export type Availability = 'own' | 'fresh' | 'reusable' | 'taken';

export interface AllocationInput {
  view: NetworkView;
  /** The subnets the request may be answered from (see candidateSubnets). */
  subnets: readonly ServedSubnet[];
  leases: LeaseLookup;
  client: Client;
  /** Option 50, as an integer. */
  requested?: number;
  now: number;
  /** Addresses to pass over: a concurrent write took them since the table was read. */
  avoid?: ReadonlySet<number>;
}

export type AllocationSource = 'lease' | 'reservation' | 'requested' | 'hashed' | 'next-free' | 'reused';

export interface Allocation {
  ip: number;
  subnet: ServedSubnet;
  /** The stored lease at that address, whose revision the write must be conditional on. */
  entry?: LeaseEntry;
  source: AllocationSource;
}

export function availability(input: AllocationInput, ip: number): Availability {
  const { view, leases, client, now } = input;
  if (view.excluded.has(ip) || input.avoid?.has(ip)) return 'taken';
  const reserved = view.reservedFor.get(ip);
  if (reserved !== undefined && reserved !== client.mac) return 'taken';
  if (leases.isPending(ip)) return 'taken';
  const entry = leases.at(ip);
  if (!entry) return 'fresh';
  if (ownedBy(entry.lease, client)) {
    // A declined address stays in quarantine even for the client that declined it.
    return entry.lease.state === 'declined' && entry.lease.expiresAt > now ? 'taken' : 'own';
  }
  return isLive(entry.lease, now) ? 'taken' : 'reusable';
}

/**
 * The subnet an address may be assigned from, to this client: inside a
 * candidate subnet, in a range or reserved for the client, and available.
 */
export function assignableSubnet(input: AllocationInput, ip: number): ServedSubnet | undefined {
  const subnet = subnetOf(input.subnets, ip);
  if (!subnet) return undefined;
  const reservedToClient = input.view.reservedFor.get(ip) === input.client.mac;
  if (!reservedToClient && !inRanges(subnet, ip)) return undefined;
  return availability(input, ip) === 'taken' ? undefined : subnet;
}

/**
 * In order: the client's live lease, its reservation, its past lease, the
 * address it asks for, a stable address hashed from its MAC or the next
 * never-leased one after it (wrapping), the longest-free leased one.
 * Undefined when the pool is exhausted.
 */
export function allocate(input: AllocationInput): Allocation | undefined {
  const { view, leases, client, now } = input;
  const pick = (ip: number, source: AllocationSource): Allocation | undefined => {
    const subnet = assignableSubnet(input, ip);
    if (!subnet) return undefined;
    const entry = leases.at(ip);
    return entry ? { ip, subnet, entry, source } : { ip, subnet, source };
  };

  const owned = leases.ofClient(client).filter((e) => e.lease.state !== 'declined');
  const byRecency = (a: LeaseEntry, b: LeaseEntry) => b.lease.expiresAt - a.lease.expiresAt;
  const live = owned.filter((e) => isLive(e.lease, now)).sort((a, b) => rank(a) - rank(b) || byRecency(a, b));
  for (const e of live) {
    const a = pick(ipOf(e), 'lease');
    if (a) return a;
  }
  const reservation = view.reservationByMac.get(client.mac);
  if (reservation) {
    const a = pick(ipNumber(reservation.ip), 'reservation');
    if (a) return a;
  }
  for (const e of owned.filter((x) => !isLive(x.lease, now)).sort(byRecency)) {
    const a = pick(ipOf(e), 'lease');
    if (a) return a;
  }
  if (input.requested !== undefined) {
    const s = availability(input, input.requested);
    if (s === 'fresh' || s === 'reusable') {
      const a = pick(input.requested, 'requested');
      if (a) return a;
    }
  }
  const size = input.subnets.reduce((n, s) => n + s.ranges.reduce((m, r) => m + r.last - r.first + 1, 0), 0);
  if (size === 0) return undefined;
  // Probing on from the hashed position finds a free address in about
  // 1 / (1 - load) steps; a scan from the start of the pool would cross every
  // address handed out before, which makes a large pool quadratic to fill.
  const start = fnv1a(client.mac) % size;
  let reusable: { ip: number; freeSince: number } | undefined;
  for (let k = 0; k < size; k++) {
    const ip = nth(input.subnets, (start + k) % size)!;
    const state = availability(input, ip);
    if (state === 'fresh') return pick(ip, k === 0 ? 'hashed' : 'next-free');
    if (state === 'reusable') {
      const freeSince = leases.at(ip)?.lease.expiresAt ?? 0;
      if (!reusable || freeSince < reusable.freeSince) reusable = { ip, freeSince };
    }
  }
  return reusable ? pick(reusable.ip, 'reused') : undefined;
}

/** Bound before offered, for a client that somehow holds both. */
function rank(e: LeaseEntry): number {
  return e.lease.state === 'bound' ? 0 : 1;
}

function ipOf(e: LeaseEntry): number {
  return ipNumber(e.lease.ip);
}

function ipNumber(text: string): number {
  return ipv4ToNumber(text) ?? 0;
}

/** The i-th address of the subnets' ranges, in order. */
function nth(subnets: readonly ServedSubnet[], i: number): number | undefined {
  for (const s of subnets) {
    for (const r of s.ranges) {
      const n = r.last - r.first + 1;
      if (i < n) return r.first + i;
      i -= n;
    }
  }
  return undefined;
}

/** FNV-1a, 32 bits: a stable spread of MACs over the pool, the same in every replica and release. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
