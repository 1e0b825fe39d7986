// The leases of one network in memory, indexed by address and by client, with
// the store revision of each so that writes can be conditional on what was
// read. The table is plain data: the shell fills it from the store and its
// change feed, the pure core only reads it.
import { ipv4ToNumber } from '../../protocols/packet/index.js';
import type { Lease } from '../model/index.js';

export interface LeaseEntry {
  lease: Lease;
  /** Store revision that last wrote the lease: the `ifRevision` of the next write. */
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
  private readonly byIp = new Map<number, LeaseEntry>();
  private readonly byMac = new Map<string, Set<number>>();
  private readonly byClientId = new Map<string, Set<number>>();
  private readonly pending = new Set<number>();

  get size(): number {
    return this.byIp.size;
  }

  at(ip: number): LeaseEntry | undefined {
    return this.byIp.get(ip);
  }

  ofClient(client: Client): LeaseEntry[] {
    const ips = new Set<number>();
    for (const ip of this.byMac.get(client.mac) ?? []) ips.add(ip);
    if (client.clientId !== undefined) for (const ip of this.byClientId.get(client.clientId) ?? []) ips.add(ip);
    const out: LeaseEntry[] = [];
    for (const ip of ips) {
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

  entries(): IterableIterator<LeaseEntry> {
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
  reset(ipText: string, entry: LeaseEntry | undefined): void {
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
