import { PacketDecodeError } from './errors.js';
import { decodeEthernet, encodeEthernet, type EthernetFrame, type VlanTag } from './ethernet.js';
import { decodeIpv4, encodeIpv4, type Ipv4Packet } from './ipv4.js';
import { ETHERTYPE, IP_PROTOCOL, LAYOUT } from './layout.js';
import { decodeUdp, encodeUdp, type UdpDatagram } from './udp.js';

/** What it takes to build an Ethernet/IPv4/UDP frame in one call. */
export interface UdpFrameSpec {
  ethSrc: string;
  ethDst: string;
  vlan?: VlanTag;
  ipSrc: string;
  ipDst: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  /** Defaults: TTL 64, identification 0, DSCP 0, don't-fragment unset. */
  ttl?: number;
  identification?: number;
  dscp?: number;
  dontFragment?: boolean;
}

/** A frame parsed down to its UDP payload, every layer kept. */
export interface ParsedUdpFrame {
  ethernet: EthernetFrame;
  ipv4: Ipv4Packet;
  udp: UdpDatagram;
}

export function buildUdpFrame(spec: UdpFrameSpec): Uint8Array {
  const udp = encodeUdp(
    { srcPort: spec.srcPort, dstPort: spec.dstPort, payload: spec.payload },
    { src: spec.ipSrc, dst: spec.ipDst },
  );
  const ip = encodeIpv4({
    dscp: spec.dscp ?? 0,
    ecn: 0,
    identification: spec.identification ?? 0,
    dontFragment: spec.dontFragment ?? false,
    ttl: spec.ttl ?? 64,
    protocol: IP_PROTOCOL.UDP,
    src: spec.ipSrc,
    dst: spec.ipDst,
    options: new Uint8Array(0),
    payload: udp,
  });
  const frame: EthernetFrame = { dst: spec.ethDst, src: spec.ethSrc, etherType: ETHERTYPE.IPV4, payload: ip };
  if (spec.vlan) frame.vlan = spec.vlan;
  return encodeEthernet(frame);
}

/**
 * Parses an Ethernet frame (one optional 802.1Q tag) down to the payload of
 * its UDP datagram, verifying both checksums. A frame that is not IPv4/UDP
 * is a PacketDecodeError at its EtherType or protocol field. Error offsets
 * are relative to the start of the frame.
 */
export function parseUdpFrame(bytes: Uint8Array): ParsedUdpFrame {
  const ethernet = decodeEthernet(bytes);
  const ipStart = bytes.length - ethernet.payload.length;
  if (ethernet.etherType !== ETHERTYPE.IPV4) {
    throw new PacketDecodeError('ethernet', ipStart - 2, `EtherType 0x${ethernet.etherType.toString(16)} is not IPv4`);
  }
  const ipv4 = decodeIpv4(ethernet.payload, ipStart);
  if (ipv4.protocol !== IP_PROTOCOL.UDP) {
    throw new PacketDecodeError('ipv4', ipStart + LAYOUT.ipv4.protocol.offset, `protocol ${ipv4.protocol} is not UDP`);
  }
  const udpStart = ipStart + LAYOUT.ipv4.minHeaderLength + ipv4.options.length;
  const udp = decodeUdp(ipv4.payload, { src: ipv4.src, dst: ipv4.dst }, udpStart);
  return { ethernet, ipv4, udp };
}
