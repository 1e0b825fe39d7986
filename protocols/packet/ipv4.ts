import { ipv4FromBytes, writeIPv4 } from './address.js';
import { internetChecksum, onesComplementSum } from './checksum.js';
import { PacketDecodeError, PacketEncodeError } from './errors.js';
import { LAYOUT, isUint, readU16, writeU16 } from './layout.js';

export interface Ipv4Packet {
  dscp: number;
  ecn: number;
  identification: number;
  dontFragment: boolean;
  ttl: number;
  protocol: number;
  src: string;
  dst: string;
  /** Header options as on the wire, a multiple of 4 bytes, at most 40. */
  options: Uint8Array;
  /** A view into the decoded buffer, cut at the total length (frame padding dropped). */
  payload: Uint8Array;
}

const I = LAYOUT.ipv4;
const MORE_FRAGMENTS = 0x2000;
const DONT_FRAGMENT = 0x4000;
const FRAGMENT_OFFSET = 0x1fff;

/**
 * Decodes an IPv4 packet, verifying the header checksum. Fragments are
 * rejected: weft only looks at whole DHCP and ARP packets, and reassembly
 * is a state it does not keep.
 */
export function decodeIpv4(bytes: Uint8Array, base = 0): Ipv4Packet {
  const fail = (offset: number, reason: string): never => {
    throw new PacketDecodeError('ipv4', base + offset, reason);
  };
  if (bytes.length < I.minHeaderLength) fail(bytes.length, `packet of ${bytes.length} bytes is shorter than the header`);
  const versionIhl = bytes[I.versionIhl.offset]!;
  if (versionIhl >>> 4 !== 4) fail(I.versionIhl.offset, `version ${versionIhl >>> 4}, expected 4`);
  const headerLength = (versionIhl & 15) * 4;
  if (headerLength < I.minHeaderLength) fail(I.versionIhl.offset, `header length ${headerLength} is below 20`);
  if (headerLength > bytes.length) fail(I.versionIhl.offset, `header length ${headerLength} exceeds the ${bytes.length} bytes received`);
  const totalLength = readU16(bytes, I.totalLength.offset);
  if (totalLength < headerLength) fail(I.totalLength.offset, `total length ${totalLength} is below the header length ${headerLength}`);
  if (totalLength > bytes.length) fail(I.totalLength.offset, `total length ${totalLength} exceeds the ${bytes.length} bytes received`);
  if (internetChecksum(bytes.subarray(0, headerLength)) !== 0) fail(I.checksum.offset, 'header checksum mismatch');
  const flags = readU16(bytes, I.flagsFragmentOffset.offset);
  if (flags & (MORE_FRAGMENTS | FRAGMENT_OFFSET)) fail(I.flagsFragmentOffset.offset, 'fragments are not accepted');
  const dscpEcn = bytes[I.dscpEcn.offset]!;
  return {
    dscp: dscpEcn >>> 2,
    ecn: dscpEcn & 3,
    identification: readU16(bytes, I.identification.offset),
    dontFragment: (flags & DONT_FRAGMENT) !== 0,
    ttl: bytes[I.ttl.offset]!,
    protocol: bytes[I.protocol.offset]!,
    src: ipv4FromBytes(bytes, I.src.offset),
    dst: ipv4FromBytes(bytes, I.dst.offset),
    options: bytes.subarray(I.minHeaderLength, headerLength),
    payload: bytes.subarray(headerLength, totalLength),
  };
}

/** Encodes the packet with its header checksum computed. */
export function encodeIpv4(packet: Ipv4Packet): Uint8Array {
  const bad = (field: string, reason: string): never => {
    throw new PacketEncodeError('ipv4', field, reason);
  };
  const { options, payload } = packet;
  if (options.length % 4 !== 0 || options.length > I.maxHeaderLength - I.minHeaderLength) {
    bad('options', `${options.length} bytes is not a multiple of 4 up to 40`);
  }
  const headerLength = I.minHeaderLength + options.length;
  const totalLength = headerLength + payload.length;
  if (totalLength > 0xffff) bad('payload', `total length ${totalLength} exceeds 65535`);
  for (const [field, bits] of [['dscp', 6], ['ecn', 2], ['identification', 16], ['ttl', 8], ['protocol', 8]] as const) {
    if (!isUint(packet[field], bits)) bad(field, `${packet[field]} does not fit in ${bits} bits`);
  }
  const out = new Uint8Array(totalLength);
  out[I.versionIhl.offset] = 0x40 | (headerLength / 4);
  out[I.dscpEcn.offset] = (packet.dscp << 2) | packet.ecn;
  writeU16(out, I.totalLength.offset, totalLength);
  writeU16(out, I.identification.offset, packet.identification);
  writeU16(out, I.flagsFragmentOffset.offset, packet.dontFragment ? DONT_FRAGMENT : 0);
  out[I.ttl.offset] = packet.ttl;
  out[I.protocol.offset] = packet.protocol;
  writeIPv4(packet.src, out, I.src.offset, 'ipv4', 'src');
  writeIPv4(packet.dst, out, I.dst.offset, 'ipv4', 'dst');
  out.set(options, I.minHeaderLength);
  writeU16(out, I.checksum.offset, internetChecksum(out.subarray(0, headerLength)));
  out.set(payload, headerLength);
  return out;
}

/** The partial sum of the pseudo-header that UDP and TCP checksums cover. */
export function pseudoHeaderSum(src: string, dst: string, protocol: number, length: number): number {
  const pseudo = new Uint8Array(12);
  writeIPv4(src, pseudo, 0, 'ipv4', 'src');
  writeIPv4(dst, pseudo, 4, 'ipv4', 'dst');
  pseudo[9] = protocol;
  writeU16(pseudo, 10, length);
  return onesComplementSum(pseudo);
}
