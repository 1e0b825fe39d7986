import { PacketDecodeError, PacketEncodeError } from './errors.js';
import { pseudoHeaderSum } from './ipv4.js';
import { IP_PROTOCOL, LAYOUT, isUint, readU16, writeU16 } from './layout.js';
import { internetChecksum } from './checksum.js';

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  /** A view into the decoded buffer, cut at the UDP length. */
  payload: Uint8Array;
}

/** The addresses of the enclosing IPv4 packet, which the checksum covers. */
export interface PseudoHeader {
  src: string;
  dst: string;
}

const U = LAYOUT.udp;

/**
 * Decodes a UDP datagram. With the pseudo-header, a non-zero checksum is
 * verified; zero means the sender did not compute one (RFC 768), which is
 * accepted.
 */
export function decodeUdp(bytes: Uint8Array, pseudo?: PseudoHeader, base = 0): UdpDatagram {
  if (bytes.length < U.headerLength) {
    throw new PacketDecodeError('udp', base + bytes.length, `datagram of ${bytes.length} bytes is shorter than the header`);
  }
  const length = readU16(bytes, U.length.offset);
  if (length < U.headerLength || length > bytes.length) {
    throw new PacketDecodeError('udp', base + U.length.offset, `length ${length} is outside 8..${bytes.length}`);
  }
  const datagram = bytes.subarray(0, length);
  if (pseudo && readU16(bytes, U.checksum.offset) !== 0) {
    if (internetChecksum(datagram, pseudoHeaderSum(pseudo.src, pseudo.dst, IP_PROTOCOL.UDP, length)) !== 0) {
      throw new PacketDecodeError('udp', base + U.checksum.offset, 'checksum mismatch');
    }
  }
  return {
    srcPort: readU16(bytes, U.srcPort.offset),
    dstPort: readU16(bytes, U.dstPort.offset),
    payload: datagram.subarray(U.headerLength),
  };
}

/** Encodes the datagram with its checksum computed over the pseudo-header. */
export function encodeUdp(datagram: UdpDatagram, pseudo: PseudoHeader): Uint8Array {
  for (const field of ['srcPort', 'dstPort'] as const) {
    if (!isUint(datagram[field], 16)) throw new PacketEncodeError('udp', field, `${datagram[field]} is not a port`);
  }
  const length = U.headerLength + datagram.payload.length;
  if (length > 0xffff) throw new PacketEncodeError('udp', 'payload', `length ${length} exceeds 65535`);
  const out = new Uint8Array(length);
  writeU16(out, U.srcPort.offset, datagram.srcPort);
  writeU16(out, U.dstPort.offset, datagram.dstPort);
  writeU16(out, U.length.offset, length);
  out.set(datagram.payload, U.headerLength);
  const sum = internetChecksum(out, pseudoHeaderSum(pseudo.src, pseudo.dst, IP_PROTOCOL.UDP, length));
  // A computed zero goes out as all ones: zero on the wire means "no checksum".
  writeU16(out, U.checksum.offset, sum === 0 ? 0xffff : sum);
  return out;
}
