/** Where a field sits, relative to the start of its header, in bytes. */
export interface Field {
  readonly offset: number;
  readonly length: number;
}

const f = (offset: number, length: number): Field => ({ offset, length });

/** The wire layouts the codecs of this directory read and write. */
export const LAYOUT = {
  ethernet: { dst: f(0, 6), src: f(6, 6), etherType: f(12, 2), headerLength: 14 },
  /** An 802.1Q tag sits between the source MAC and the inner EtherType. */
  vlan: { tpid: f(12, 2), tci: f(14, 2), etherType: f(16, 2), headerLength: 18 },
  arp: {
    htype: f(0, 2), ptype: f(2, 2), hlen: f(4, 1), plen: f(5, 1), oper: f(6, 2),
    sha: f(8, 6), spa: f(14, 4), tha: f(18, 6), tpa: f(24, 4), length: 28,
  },
  ipv4: {
    versionIhl: f(0, 1), dscpEcn: f(1, 1), totalLength: f(2, 2), identification: f(4, 2),
    flagsFragmentOffset: f(6, 2), ttl: f(8, 1), protocol: f(9, 1), checksum: f(10, 2),
    src: f(12, 4), dst: f(16, 4), options: f(20, 40), minHeaderLength: 20, maxHeaderLength: 60,
  },
  udp: { srcPort: f(0, 2), dstPort: f(2, 2), length: f(4, 2), checksum: f(6, 2), headerLength: 8 },
} as const;

export const ETHERTYPE = { IPV4: 0x0800, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8, IPV6: 0x86dd } as const;
export const IP_PROTOCOL = { ICMP: 1, TCP: 6, UDP: 17 } as const;

export function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 255;
  b[o + 1] = v & 255;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

/** Encoders check every number against its field width before writing it. */
export function isUint(value: number, bits: number): boolean {
  return Number.isInteger(value) && value >= 0 && value < 2 ** bits;
}
