// weft's flow cookies. A switch's flow table also holds flows weft did not
// write (an operator's, learned ones), and the flow sync must diff and
// repair only its own with a cookie/cookie_mask filter, never a flush.
//
//   63......48 47.....40 39.....24 23........0
//   owner      table     zero      network VNI (0: not a network's flow)
//
// Learned flows carry a different owner, so a filter on the static owner
// never selects them and the sync never deletes what the switch learned;
// both carry the network, so a network's flows, learned ones included, can
// be removed by one cookie filter when the network leaves the host.
import { METADATA_NETWORK_MASK } from './tables.js';

export const COOKIE_OWNER_SHIFT = 48n;
export const COOKIE_OWNER_MASK = 0xffffn << COOKIE_OWNER_SHIFT;
/** "WF": a flow weft computed and keeps in sync. */
export const COOKIE_OWNER_STATIC = 0x5746n << COOKIE_OWNER_SHIFT;
/** "WL": a flow a switch learned through weft's learn(); never reconciled. */
export const COOKIE_OWNER_LEARNED = 0x574cn << COOKIE_OWNER_SHIFT;
export const COOKIE_TABLE_SHIFT = 40n;
export const COOKIE_TABLE_MASK = 0xffn << COOKIE_TABLE_SHIFT;
export const COOKIE_NETWORK_MASK = METADATA_NETWORK_MASK;

export type CookieOwner = 'static' | 'learned';

export interface CookieFields {
  owner: CookieOwner;
  table: number;
  /** The network's VNI; 0 for flows that belong to no single network. */
  vni: number;
}

export function cookie(owner: CookieOwner, table: number, vni = 0): bigint {
  if (!Number.isInteger(table) || table < 0 || table > 0xff) throw new RangeError(`table ${table} does not fit the cookie`);
  if (!Number.isInteger(vni) || vni < 0 || BigInt(vni) > COOKIE_NETWORK_MASK) throw new RangeError(`VNI ${vni} does not fit the cookie`);
  return (owner === 'static' ? COOKIE_OWNER_STATIC : COOKIE_OWNER_LEARNED) | (BigInt(table) << COOKIE_TABLE_SHIFT) | BigInt(vni);
}

/** The fields of a weft cookie, or undefined for a flow weft does not own. */
export function parseCookie(value: bigint): CookieFields | undefined {
  const ownerBits = value & COOKIE_OWNER_MASK;
  const owner = ownerBits === COOKIE_OWNER_STATIC ? 'static' : ownerBits === COOKIE_OWNER_LEARNED ? 'learned' : undefined;
  if (owner === undefined) return undefined;
  if ((value & ~(COOKIE_OWNER_MASK | COOKIE_TABLE_MASK | COOKIE_NETWORK_MASK) & 0xffffffffffffffffn) !== 0n) return undefined;
  return { owner, table: Number((value & COOKIE_TABLE_MASK) >> COOKIE_TABLE_SHIFT), vni: Number(value & COOKIE_NETWORK_MASK) };
}

/** A cookie/cookie_mask pair for flow stats requests and non-strict deletes. */
export interface CookieFilter {
  cookie: bigint;
  mask: bigint;
}

/** Every flow the sync owns: the desired flows and nothing learned. */
export const STATIC_FLOWS: CookieFilter = { cookie: COOKIE_OWNER_STATIC, mask: COOKIE_OWNER_MASK };
/** Every flow learned through weft's learn(). */
export const LEARNED_FLOWS: CookieFilter = { cookie: COOKIE_OWNER_LEARNED, mask: COOKIE_OWNER_MASK };

/** One network's flows of one owner (the learned ones too, to drop them when the network leaves a host). */
export function networkFlows(owner: CookieOwner, vni: number): CookieFilter {
  return { cookie: cookie(owner, 0, vni), mask: COOKIE_OWNER_MASK | COOKIE_NETWORK_MASK };
}

/** matches(filter, c): what a switch does with cookie/cookie_mask. */
export function matchesCookie(filter: CookieFilter, value: bigint): boolean {
  return (value & filter.mask) === (filter.cookie & filter.mask);
}
