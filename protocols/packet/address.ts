import { PacketEncodeError, type PacketLayer } from './errors.js';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ZERO_IPV4 = '0.0.0.0';
export const BROADCAST_IPV4 = '255.255.255.255';

/** A MAC in the canonical form used everywhere in weft: lower case, colons. */
export function isMac(text: string): boolean {
  return MAC.test(text);
}

export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** Bytes as lower-case hex pairs joined by colons ("" for no bytes). */
export function hexColon(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (i ? ':' : '') + bytes[i]!.toString(16).padStart(2, '0');
  return out;
}

/** Parses colon-separated hex pairs; undefined when the text is not of that form. */
export function parseHexColon(text: string): Uint8Array | undefined {
  if (text === '') return new Uint8Array(0);
  const parts = text.split(':');
  const out = new Uint8Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!/^[0-9a-fA-F]{2}$/.test(p)) return undefined;
    out[i] = parseInt(p, 16);
  }
  return out;
}

export function macFromBytes(bytes: Uint8Array, offset = 0): string {
  return hexColon(bytes.subarray(offset, offset + 6));
}

export function writeMac(mac: string, out: Uint8Array, offset: number, layer: PacketLayer, field: string): void {
  const lower = mac.toLowerCase();
  if (!MAC.test(lower)) throw new PacketEncodeError(layer, field, `not a MAC address: ${JSON.stringify(mac)}`);
  for (let i = 0; i < 6; i++) out[offset + i] = parseInt(lower.slice(i * 3, i * 3 + 2), 16);
}

export function ipv4FromBytes(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export function writeIPv4(ip: string, out: Uint8Array, offset: number, layer: PacketLayer, field: string): void {
  if (!IPV4.test(ip)) throw new PacketEncodeError(layer, field, `not an IPv4 address: ${JSON.stringify(ip)}`);
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) out[offset + i] = Number(parts[i]);
}

/** The address as an unsigned 32-bit number; undefined for malformed text. */
export function ipv4ToNumber(ip: string): number | undefined {
  if (!IPV4.test(ip)) return undefined;
  return ip.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function ipv4FromNumber(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
