// Lease values for store tests, benchmarks and the crash test's child. Free
// of zod and fast-check, so a child process that only writes leases starts
// quickly.
import type { Lease } from '../../../src/model/lease.js';

/** DHCP pool addresses for tests: 198.18.64.0/18. */
export function poolIp(i: number): string {
  const n = 0xc6124000 + (i % 16384);
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

export function mac(i: number): string {
  const hex = (i % 0x1000000).toString(16).padStart(6, '0');
  return `52:54:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

/** A lease of network `ns-t/net`; `seq` varies the value (not the key, which is the address). */
export function lease(ns: string, i: number, seq = 0): Lease {
  return {
    tenant: `${ns}-t`,
    network: 'net',
    ip: poolIp(i),
    mac: mac(i),
    state: 'bound',
    start: seq,
    expiresAt: seq + 3_600_000,
  };
}

/** Its store key, as keyOf('lease', ...) gives it (the integrity check would catch a drift). */
export function leaseKey(l: Lease): string {
  return `${l.tenant}/${l.network}/${l.ip}`;
}
