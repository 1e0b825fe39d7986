// IPv4 address arithmetic for the model's invariants and the DHCP allocator.
// Addresses are compared as unsigned 32-bit integers; ip-address does the
// parsing so that every odd textual form is judged the same way everywhere.
import { Address4 } from 'ip-address';

export interface CidrBlock {
  /** Network address as an unsigned 32-bit integer. */
  network: number;
  prefix: number;
  /** First and last address of the block, inclusive. */
  first: number;
  last: number;
}

const DOTTED_QUAD = /^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/;

/** The address as an integer, or undefined unless it is a plain dotted quad. */
export function parseIpv4(text: string): number | undefined {
  if (!DOTTED_QUAD.test(text) || !Address4.isValid(text)) return undefined;
  return Number(new Address4(text).bigInt());
}

export function ipv4ToInt(text: string): number {
  const n = parseIpv4(text);
  if (n === undefined) throw new RangeError(`not an IPv4 address: ${text}`);
  return n;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export type CidrProblem = 'syntax' | 'host-bits';

/** An address and a prefix length 0-32 written in decimal without leading zeros, host bits not yet judged. */
function splitCidr(text: string): { address: number; prefix: number } | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9][0-9]?)$/.test(lenText)) return undefined;
  const prefix = Number(lenText);
  return prefix > 32 ? undefined : { address, prefix };
}

/** Parses `a.b.c.d/len`; host bits set is a problem of its own, so the error can say which block was meant. */
export function parseCidr(text: string): CidrBlock | CidrProblem {
  const parts = splitCidr(text);
  if (!parts) return 'syntax';
  const size = 2 ** (32 - parts.prefix);
  const network = parts.address - (parts.address % size);
  if (network !== parts.address) return 'host-bits';
  return { network, prefix: parts.prefix, first: network, last: network + size - 1 };
}

/** The canonical block of an address with its host bits cleared, for error messages. */
export function canonicalCidr(text: string): string | undefined {
  const parts = splitCidr(text);
  if (!parts) return undefined;
  const size = 2 ** (32 - parts.prefix);
  return `${intToIpv4(parts.address - (parts.address % size))}/${parts.prefix}`;
}

export function cidrOf(text: string): CidrBlock {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new RangeError(`not a canonical CIDR: ${text}`);
  return c;
}

export function cidrContains(cidr: CidrBlock, address: number): boolean {
  return address >= cidr.first && address <= cidr.last;
}

export function intervalsOverlap(a: { first: number; last: number }, b: { first: number; last: number }): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/** The dotted-quad netmask of a prefix length, for DHCP option 1. */
export function prefixToNetmask(prefix: number): string {
  return intToIpv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}
