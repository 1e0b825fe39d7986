import { macFromBytes, writeMac } from './address.js';
import { PacketDecodeError, PacketEncodeError } from './errors.js';
import { ETHERTYPE, LAYOUT, isUint, readU16, writeU16 } from './layout.js';

/** One 802.1Q tag: priority code point, drop eligible indicator, VLAN id. */
export interface VlanTag {
  pcp: number;
  dei: boolean;
  vid: number;
}

/** An Ethernet II frame without its FCS (what OpenFlow packet-in carries). */
export interface EthernetFrame {
  dst: string;
  src: string;
  vlan?: VlanTag;
  etherType: number;
  /** A view into the decoded buffer, not a copy. */
  payload: Uint8Array;
}

const { ethernet: E, vlan: V } = LAYOUT;

export function decodeEthernet(bytes: Uint8Array, base = 0): EthernetFrame {
  if (bytes.length < E.headerLength) {
    throw new PacketDecodeError('ethernet', base + bytes.length, `frame of ${bytes.length} bytes is shorter than the header`);
  }
  const dst = macFromBytes(bytes, E.dst.offset);
  const src = macFromBytes(bytes, E.src.offset);
  let etherType = readU16(bytes, E.etherType.offset);
  let vlan: VlanTag | undefined;
  let headerLength: number = E.headerLength;
  if (etherType === ETHERTYPE.QINQ) {
    throw new PacketDecodeError('vlan', base + E.etherType.offset, 'an 802.1ad service tag is not supported');
  }
  if (etherType === ETHERTYPE.VLAN) {
    if (bytes.length < V.headerLength) {
      throw new PacketDecodeError('vlan', base + bytes.length, 'frame ends inside the 802.1Q tag');
    }
    const tci = readU16(bytes, V.tci.offset);
    vlan = { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff };
    etherType = readU16(bytes, V.etherType.offset);
    headerLength = V.headerLength;
    if (etherType === ETHERTYPE.VLAN || etherType === ETHERTYPE.QINQ) {
      throw new PacketDecodeError('vlan', base + V.etherType.offset, 'more than one VLAN tag is not supported');
    }
  }
  if (etherType < 0x0600) {
    // Below 0x0600 the field is an 802.3 length, not an EtherType.
    throw new PacketDecodeError('ethernet', base + headerLength - 2, `802.3 length field ${etherType} instead of an EtherType`);
  }
  const frame: EthernetFrame = { dst, src, etherType, payload: bytes.subarray(headerLength) };
  if (vlan) frame.vlan = vlan;
  return frame;
}

export function encodeEthernet(frame: EthernetFrame): Uint8Array {
  if (!isUint(frame.etherType, 16) || frame.etherType < 0x0600) {
    throw new PacketEncodeError('ethernet', 'etherType', `${frame.etherType} is not an EtherType`);
  }
  const headerLength = frame.vlan ? V.headerLength : E.headerLength;
  const out = new Uint8Array(headerLength + frame.payload.length);
  writeMac(frame.dst, out, E.dst.offset, 'ethernet', 'dst');
  writeMac(frame.src, out, E.src.offset, 'ethernet', 'src');
  if (frame.vlan) {
    const { pcp, dei, vid } = frame.vlan;
    if (!isUint(pcp, 3)) throw new PacketEncodeError('vlan', 'pcp', `${pcp} is not 0..7`);
    if (!isUint(vid, 12)) throw new PacketEncodeError('vlan', 'vid', `${vid} is not 0..4095`);
    writeU16(out, V.tpid.offset, ETHERTYPE.VLAN);
    writeU16(out, V.tci.offset, (pcp << 13) | (dei ? 0x1000 : 0) | vid);
  }
  writeU16(out, headerLength - 2, frame.etherType);
  out.set(frame.payload, headerLength);
  return out;
}
