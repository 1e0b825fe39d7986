import { ipv4FromBytes, macFromBytes, writeIPv4, writeMac } from './address.js';
import { PacketDecodeError, PacketEncodeError } from './errors.js';
import { ETHERTYPE, LAYOUT, isUint, readU16, writeU16 } from './layout.js';

export const ARP_OP = { REQUEST: 1, REPLY: 2 } as const;

/** An ARP packet for Ethernet and IPv4, the only pairing weft meets. */
export interface ArpPacket {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

const A = LAYOUT.arp;

/** Decodes an ARP packet; bytes after the 28 of the packet (frame padding) are ignored. */
export function decodeArp(bytes: Uint8Array, base = 0): ArpPacket {
  if (bytes.length < A.length) {
    throw new PacketDecodeError('arp', base + bytes.length, `packet of ${bytes.length} bytes is shorter than 28`);
  }
  const checks: [number, number, string][] = [
    [readU16(bytes, A.htype.offset), 1, 'hardware type'],
    [readU16(bytes, A.ptype.offset), ETHERTYPE.IPV4, 'protocol type'],
    [bytes[A.hlen.offset]!, 6, 'hardware address length'],
    [bytes[A.plen.offset]!, 4, 'protocol address length'],
  ];
  const fields = [A.htype, A.ptype, A.hlen, A.plen];
  for (let i = 0; i < checks.length; i++) {
    const [got, want, what] = checks[i]!;
    if (got !== want) throw new PacketDecodeError('arp', base + fields[i]!.offset, `${what} ${got}, expected ${want}`);
  }
  return {
    op: readU16(bytes, A.oper.offset),
    senderMac: macFromBytes(bytes, A.sha.offset),
    senderIp: ipv4FromBytes(bytes, A.spa.offset),
    targetMac: macFromBytes(bytes, A.tha.offset),
    targetIp: ipv4FromBytes(bytes, A.tpa.offset),
  };
}

export function encodeArp(arp: ArpPacket): Uint8Array {
  if (!isUint(arp.op, 16)) throw new PacketEncodeError('arp', 'op', `${arp.op} is not a 16-bit number`);
  const out = new Uint8Array(A.length);
  writeU16(out, A.htype.offset, 1);
  writeU16(out, A.ptype.offset, ETHERTYPE.IPV4);
  out[A.hlen.offset] = 6;
  out[A.plen.offset] = 4;
  writeU16(out, A.oper.offset, arp.op);
  writeMac(arp.senderMac, out, A.sha.offset, 'arp', 'senderMac');
  writeIPv4(arp.senderIp, out, A.spa.offset, 'arp', 'senderIp');
  writeMac(arp.targetMac, out, A.tha.offset, 'arp', 'targetMac');
  writeIPv4(arp.targetIp, out, A.tpa.offset, 'arp', 'targetIp');
  return out;
}
