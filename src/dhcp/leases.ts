// The leases of one network in memory, indexed by address and by client, with
// the store revision of each so that writes can be conditional on what was
// read, and the offers this replica holds, which are never stored: an offer
// is not a promise, and only the network's leader answers its DHCP, so no
// other replica can offer the same network's addresses. The tables are plain
// data: the shell fills them, the pure core only reads them.
import { ipv4ToNumber } from '../../protocols/packet/index.js';
import type { Lease } from '../model/index.js';

export interface LeaseEntry {
  lease: Lease;
  /**
   * Store revision that last wrote the address's lease: the `ifRevision` of
   * the next write (`null`: no lease stored). For an offer held in memory,
   * the revision of the stored lease it was made over.
   */
  revision: number | null;
}

/** A lease as the store holds it. */
export interface StoredEntry extends LeaseEntry {
  revision: number;
}

/** How a client is recognised: option 61 when it sends one, else its hardware address. */
export interface Client {
  mac: string;
  /** Option 61 (type byte and id) as lower-case hex. */
  clientId?: string;
}

export function ownedBy(lease: Lease, client: Client): boolean {
  if (client.clientId !== undefined && lease.clientId !== undefined) return lease.clientId === client.clientId;
  return lease.mac === client.mac;
}

/** A lease that still keeps its address from everyone else. */
export function isLive(lease: Lease, now: number): boolean {
  return lease.state !== 'released' && lease.state !== 'expired' && lease.expiresAt > now;
}

/** What the core reads; the shell's LeaseTable implements it. */
export interface LeaseLookup {
  at(ip: number): LeaseEntry | undefined;
  /** The leases held by or last associated with the client, any state. */
  ofClient(client: Client): LeaseEntry[];
  /** An address with a write in flight: taken for anyone else until it settles. */
  isPending(ip: number): boolean;
}

export class LeaseTable implements LeaseLookup {
  private readonly byIp = new Map<number, StoredEntry>();
  private readonly byMac = new Map<string, Set<number>>();
  private readonly byClientId = new Map<string, Set<number>>();
  private readonly pending = new Set<number>();

  get size(): number {
    return this.byIp.size;
  }

  at(ip: number): StoredEntry | undefined {
    return this.byIp.get(ip);
  }

  ofClient(client: Client): StoredEntry[] {
    const out: StoredEntry[] = [];
    for (const ip of ipsOf(this.byMac, this.byClientId, client)) {
      const e = this.byIp.get(ip);
      if (e && ownedBy(e.lease, client)) out.push(e);
    }
    return out;
  }

  isPending(ip: number): boolean {
    return this.pending.has(ip);
  }

  markPending(ip: number): void {
    this.pending.add(ip);
  }

  clearPending(ip: number): void {
    this.pending.delete(ip);
  }

  entries(): IterableIterator<StoredEntry> {
    return this.byIp.values();
  }

  /** Records a stored lease unless the table already holds a newer revision of it. */
  apply(lease: Lease, revision: number): void {
    const ip = ipv4ToNumber(lease.ip);
    if (ip === undefined) return;
    const old = this.byIp.get(ip);
    if (old && old.revision > revision) return;
    if (old) this.unindex(ip, old.lease);
    this.byIp.set(ip, { lease, revision });
    add(this.byMac, lease.mac, ip);
    if (lease.clientId !== undefined) add(this.byClientId, lease.clientId, ip);
  }

  /** Forgets a deleted lease unless the table holds a revision newer than the delete. */
  remove(ipText: string, revision: number): void {
    const ip = ipv4ToNumber(ipText);
    if (ip === undefined) return;
    const old = this.byIp.get(ip);
    if (!old || old.revision > revision) return;
    this.unindex(ip, old.lease);
    this.byIp.delete(ip);
  }

  /** Replaces what the table knows of an address with what the store said just now. */
  reset(ipText: string, entry: StoredEntry | undefined): void {
    const ip = ipv4ToNumber(ipText);
    if (ip === undefined) return;
    const old = this.byIp.get(ip);
    if (old) {
      this.unindex(ip, old.lease);
      this.byIp.delete(ip);
    }
    if (entry) this.apply(entry.lease, entry.revision);
  }

  private unindex(ip: number, lease: Lease): void {
    drop(this.byMac, lease.mac, ip);
    if (lease.clientId !== undefined) drop(this.byClientId, lease.clientId, ip);
  }
}

/**
 * The offers this replica holds, in memory only. Each remembers the revision
 * of the stored lease it was made over, so the ACK that turns it into a
 * binding is a write conditional on exactly what the offer saw.
 */
export class OfferTable {
  private readonly byIp = new Map<number, LeaseEntry>();
  private readonly byMac = new Map<string, Set<number>>();
  private readonly byClientId = new Map<string, Set<number>>();

  get size(): number {
    return this.byIp.size;
  }

  at(ip: number): LeaseEntry | undefined {
    return this.byIp.get(ip);
  }

  ofClient(client: Client): LeaseEntry[] {
    const out: LeaseEntry[] = [];
    for (const ip of ipsOf(this.byMac, this.byClientId, client)) {
      const e = this.byIp.get(ip);
      if (e && ownedBy(e.lease, client)) out.push(e);
    }
    return out;
  }

  hold(ip: number, lease: Lease, revision: number | null): void {
    this.drop(ip);
    this.byIp.set(ip, { lease, revision });
    add(this.byMac, lease.mac, ip);
    if (lease.clientId !== undefined) add(this.byClientId, lease.clientId, ip);
  }

  drop(ip: number): void {
    const old = this.byIp.get(ip);
    if (!old) return;
    this.byIp.delete(ip);
    drop(this.byMac, old.lease.mac, ip);
    if (old.lease.clientId !== undefined) drop(this.byClientId, old.lease.clientId, ip);
  }

  /** Forgets offers that lapsed; how many. */
  expire(now: number): number {
    let n = 0;
    for (const [ip, e] of this.byIp) {
      if (e.lease.expiresAt <= now) {
        this.drop(ip);
        n++;
      }
    }
    return n;
  }

  entries(): IterableIterator<LeaseEntry> {
    return this.byIp.values();
  }
}

/** What the core reads of a network: its stored leases, with this replica's offers over them. */
export class NetworkLeases implements LeaseLookup {
  constructor(
    readonly stored: LeaseTable,
    readonly offers: OfferTable,
  ) {}

  at(ip: number): LeaseEntry | undefined {
    return this.offers.at(ip) ?? this.stored.at(ip);
  }

  ofClient(client: Client): LeaseEntry[] {
    const offered = this.offers.ofClient(client);
    const stored = this.stored.ofClient(client);
    if (offered.length === 0) return stored;
    // An offer stands over whatever is stored at its address.
    const ips = new Set(offered.map((e) => ipv4ToNumber(e.lease.ip)));
    return [...offered, ...stored.filter((e) => !ips.has(ipv4ToNumber(e.lease.ip)))];
  }

  isPending(ip: number): boolean {
    return this.stored.isPending(ip);
  }
}

function ipsOf(byMac: Map<string, Set<number>>, byClientId: Map<string, Set<number>>, client: Client): Iterable<number> {
  const mine = byMac.get(client.mac);
  const byId = client.clientId === undefined ? undefined : byClientId.get(client.clientId);
  if (!byId) return mine ?? [];
  if (!mine) return byId;
  return new Set([...mine, ...byId]);
}

function add(index: Map<string, Set<number>>, key: string, ip: number): void {
  let s = index.get(key);
  if (!s) index.set(key, (s = new Set()));
  s.add(ip);
}

function drop(index: Map<string, Set<number>>, key: string, ip: number): void {
  const s = index.get(key);
  if (!s) return;
  s.delete(ip);
  if (s.size === 0) index.delete(key);
}
