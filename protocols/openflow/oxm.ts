// OXM/NXM match fields: one table row per (class, field) header that weft
// speaks, with its width and the names ovs-ofctl uses for it, and the
// ofp_match (OXM TLV list) codec built on that table.
import { Reader, Writer } from './header.js';

export const OXM_CLASS_NXM_0 = 0x0000;
export const OXM_CLASS_NXM_1 = 0x0001;
export const OXM_CLASS_OPENFLOW_BASIC = 0x8000;
export const OXM_CLASS_EXPERIMENTER = 0xffff;

/** How ovs-ofctl prints a value of the field. */
export type FieldFormat = 'dec' | 'hex' | 'mac' | 'ipv4' | 'port' | 'ethertype';

export interface FieldInfo {
  oxmClass: number;
  oxmField: number;
  /** Bytes on the wire (of the value; a mask doubles it). */
  bytes: number;
  /** The header's name in ovs-fields(7), used in learn/move/load text: NXM_OF_ETH_DST. */
  header: string;
  /** ovs's canonical field name (set_field, learn immediates): eth_dst, reg0. */
  ovsName: string;
  /** The name dump-flows uses in a match: dl_dst, nw_src, tp_src. */
  matchName: string;
  format: FieldFormat;
}

function f(oxmClass: number, oxmField: number, bytes: number, header: string, ovsName: string, matchName: string, format: FieldFormat): FieldInfo {
  return { oxmClass, oxmField, bytes, header, ovsName, matchName, format };
}

const B = OXM_CLASS_OPENFLOW_BASIC;
const N0 = OXM_CLASS_NXM_0;
const N1 = OXM_CLASS_NXM_1;

const regs = Object.fromEntries(
  Array.from({ length: 16 }, (_, i) => [`reg${i}`, f(N1, i, 4, `NXM_NX_REG${i}`, `reg${i}`, `reg${i}`, 'hex')]),
) as Record<`reg${0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15}`, FieldInfo>;

/** The field table. Keys are weft's names for each header. */
export const FIELDS = {
  in_port: f(B, 0, 4, 'OXM_OF_IN_PORT', 'in_port', 'in_port', 'port'),
  metadata: f(B, 2, 8, 'OXM_OF_METADATA', 'metadata', 'metadata', 'hex'),
  eth_dst: f(B, 3, 6, 'OXM_OF_ETH_DST', 'eth_dst', 'dl_dst', 'mac'),
  eth_src: f(B, 4, 6, 'OXM_OF_ETH_SRC', 'eth_src', 'dl_src', 'mac'),
  eth_type: f(B, 5, 2, 'OXM_OF_ETH_TYPE', 'eth_type', 'dl_type', 'ethertype'),
  vlan_vid: f(B, 6, 2, 'OXM_OF_VLAN_VID', 'vlan_vid', 'dl_vlan', 'dec'),
  vlan_pcp: f(B, 7, 1, 'OXM_OF_VLAN_PCP', 'vlan_pcp', 'dl_vlan_pcp', 'dec'),
  ip_proto: f(B, 10, 1, 'OXM_OF_IP_PROTO', 'ip_proto', 'nw_proto', 'dec'),
  ipv4_src: f(B, 11, 4, 'OXM_OF_IPV4_SRC', 'ip_src', 'nw_src', 'ipv4'),
  ipv4_dst: f(B, 12, 4, 'OXM_OF_IPV4_DST', 'ip_dst', 'nw_dst', 'ipv4'),
  tcp_src: f(B, 13, 2, 'OXM_OF_TCP_SRC', 'tcp_src', 'tp_src', 'dec'),
  tcp_dst: f(B, 14, 2, 'OXM_OF_TCP_DST', 'tcp_dst', 'tp_dst', 'dec'),
  udp_src: f(B, 15, 2, 'OXM_OF_UDP_SRC', 'udp_src', 'tp_src', 'dec'),
  udp_dst: f(B, 16, 2, 'OXM_OF_UDP_DST', 'udp_dst', 'tp_dst', 'dec'),
  arp_op: f(B, 21, 2, 'OXM_OF_ARP_OP', 'arp_op', 'arp_op', 'dec'),
  arp_spa: f(B, 22, 4, 'OXM_OF_ARP_SPA', 'arp_spa', 'arp_spa', 'ipv4'),
  arp_tpa: f(B, 23, 4, 'OXM_OF_ARP_TPA', 'arp_tpa', 'arp_tpa', 'ipv4'),
  arp_sha: f(B, 24, 6, 'OXM_OF_ARP_SHA', 'arp_sha', 'arp_sha', 'mac'),
  arp_tha: f(B, 25, 6, 'OXM_OF_ARP_THA', 'arp_tha', 'arp_tha', 'mac'),
  tunnel_id: f(B, 38, 8, 'OXM_OF_TUNNEL_ID', 'tun_id', 'tun_id', 'hex'),
  ...regs,
  tun_id: f(N1, 16, 8, 'NXM_NX_TUN_ID', 'tun_id', 'tun_id', 'hex'),
  nx_arp_sha: f(N1, 17, 6, 'NXM_NX_ARP_SHA', 'arp_sha', 'arp_sha', 'mac'),
  nx_arp_tha: f(N1, 18, 6, 'NXM_NX_ARP_THA', 'arp_tha', 'arp_tha', 'mac'),
  tun_ipv4_src: f(N1, 31, 4, 'NXM_NX_TUN_IPV4_SRC', 'tun_src', 'tun_src', 'ipv4'),
  tun_ipv4_dst: f(N1, 32, 4, 'NXM_NX_TUN_IPV4_DST', 'tun_dst', 'tun_dst', 'ipv4'),
  nxm_in_port: f(N0, 0, 2, 'NXM_OF_IN_PORT', 'in_port', 'in_port', 'port'),
  nxm_eth_dst: f(N0, 1, 6, 'NXM_OF_ETH_DST', 'eth_dst', 'dl_dst', 'mac'),
  nxm_eth_src: f(N0, 2, 6, 'NXM_OF_ETH_SRC', 'eth_src', 'dl_src', 'mac'),
  nxm_eth_type: f(N0, 3, 2, 'NXM_OF_ETH_TYPE', 'eth_type', 'dl_type', 'ethertype'),
  nxm_vlan_tci: f(N0, 4, 2, 'NXM_OF_VLAN_TCI', 'vlan_tci', 'vlan_tci', 'hex'),
  nxm_ip_tos: f(N0, 5, 1, 'NXM_OF_IP_TOS', 'nw_tos', 'nw_tos', 'dec'),
  nxm_ip_proto: f(N0, 6, 1, 'NXM_OF_IP_PROTO', 'nw_proto', 'nw_proto', 'dec'),
  nxm_ip_src: f(N0, 7, 4, 'NXM_OF_IP_SRC', 'ip_src', 'nw_src', 'ipv4'),
  nxm_ip_dst: f(N0, 8, 4, 'NXM_OF_IP_DST', 'ip_dst', 'nw_dst', 'ipv4'),
  nxm_tcp_src: f(N0, 9, 2, 'NXM_OF_TCP_SRC', 'tcp_src', 'tp_src', 'dec'),
  nxm_tcp_dst: f(N0, 10, 2, 'NXM_OF_TCP_DST', 'tcp_dst', 'tp_dst', 'dec'),
  nxm_udp_src: f(N0, 11, 2, 'NXM_OF_UDP_SRC', 'udp_src', 'tp_src', 'dec'),
  nxm_udp_dst: f(N0, 12, 2, 'NXM_OF_UDP_DST', 'udp_dst', 'tp_dst', 'dec'),
  nxm_arp_op: f(N0, 15, 2, 'NXM_OF_ARP_OP', 'arp_op', 'arp_op', 'dec'),
  nxm_arp_spa: f(N0, 16, 4, 'NXM_OF_ARP_SPA', 'arp_spa', 'arp_spa', 'ipv4'),
  nxm_arp_tpa: f(N0, 17, 4, 'NXM_OF_ARP_TPA', 'arp_tpa', 'arp_tpa', 'ipv4'),
} satisfies Record<string, FieldInfo>;

export type FieldName = keyof typeof FIELDS;
export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];

const byHeader = new Map<number, FieldName>();
const byHeaderName = new Map<string, FieldName>();
for (const name of FIELD_NAMES) {
  const info: FieldInfo = FIELDS[name];
  byHeader.set(info.oxmClass * 0x80 + info.oxmField, name);
  byHeaderName.set(info.header, name);
}

export function fieldByClass(oxmClass: number, oxmField: number): FieldName | undefined {
  return byHeader.get(oxmClass * 0x80 + oxmField);
}

/** The field for an ovs-fields(7) header name such as NXM_OF_ETH_DST. */
export function fieldByHeaderName(header: string): FieldName | undefined {
  return byHeaderName.get(header);
}

export function fieldBits(name: FieldName): number {
  return FIELDS[name].bytes * 8;
}

/** The 32-bit OXM/NXM header (without the has-mask bit) of a field. */
export function oxmHeader(name: FieldName, hasMask = false): number {
  const info: FieldInfo = FIELDS[name];
  return ((info.oxmClass << 16) | (info.oxmField << 9) | (hasMask ? 0x100 : 0) | (info.bytes * (hasMask ? 2 : 1))) >>> 0;
}

/** A match field we know: the value (and mask) as unsigned integers of the field's width. */
export interface KnownOxm {
  field: FieldName;
  value: bigint;
  mask?: bigint;
}
/** A field outside the table, kept byte for byte so it survives a round trip. */
export interface UnknownOxm {
  field: 'unknown';
  oxmClass: number;
  oxmField: number;
  hasMask: boolean;
  /** Everything after the 4-byte header (experimenter id, value, mask). */
  payload: Uint8Array;
}
export type OxmField = KnownOxm | UnknownOxm;

/** An OF1.3 ofp_match: the OXM fields in wire order. */
export interface Match {
  fields: OxmField[];
}

const MAX = new Map<FieldName, bigint>(FIELD_NAMES.map((name) => [name, (1n << BigInt(fieldBits(name))) - 1n]));

export function fieldMax(name: FieldName): bigint {
  return MAX.get(name)!;
}

// What encoding a field needs, computed once: its headers and largest value.
interface Wire {
  bytes: number;
  header: number;
  maskedHeader: number;
  max: bigint;
}
const WIRE = new Map<FieldName, Wire>(
  FIELD_NAMES.map((name) => [name, { bytes: FIELDS[name].bytes, header: oxmHeader(name), maskedHeader: oxmHeader(name, true), max: fieldMax(name) }]),
);

export function encodeOxm(w: Writer, o: OxmField): void {
  if (o.field === 'unknown') {
    w.u16(o.oxmClass).u8((o.oxmField << 1) | (o.hasMask ? 1 : 0)).u8(o.payload.length).bytes(o.payload);
    return;
  }
  const info = WIRE.get(o.field)!;
  if (o.value < 0n || o.value > info.max) throw new RangeError(`${o.field}: value ${o.value} does not fit ${info.bytes} bytes`);
  if (o.mask === undefined) {
    w.u32(info.header).uint(o.value, info.bytes);
    return;
  }
  if (o.mask < 0n || o.mask > info.max) throw new RangeError(`${o.field}: mask ${o.mask} does not fit`);
  w.u32(info.maskedHeader).uint(o.value, info.bytes).uint(o.mask, info.bytes);
}

export function decodeOxm(r: Reader): OxmField {
  const start = r.pos;
  const oxmClass = r.u16('oxm class');
  const fb = r.u8('oxm field');
  const len = r.u8('oxm length');
  const oxmField = fb >> 1;
  const hasMask = (fb & 1) === 1;
  const name = oxmClass === OXM_CLASS_EXPERIMENTER ? undefined : fieldByClass(oxmClass, oxmField);
  if (name === undefined) {
    const payload = r.bytes(len, 'oxm payload');
    return { field: 'unknown', oxmClass, oxmField, hasMask, payload };
  }
  const bytes = FIELDS[name].bytes;
  if (len !== bytes * (hasMask ? 2 : 1)) r.fail(`${FIELDS[name].header}: length ${len}, expected ${bytes * (hasMask ? 2 : 1)}`, start + 3);
  const value = r.uint(bytes, 'oxm value');
  if (!hasMask) return { field: name, value };
  return { field: name, value, mask: r.uint(bytes, 'oxm mask') };
}

export function oxmLength(o: OxmField): number {
  if (o.field === 'unknown') return 4 + o.payload.length;
  return 4 + FIELDS[o.field].bytes * (o.mask === undefined ? 1 : 2);
}

export const OFPMT_OXM = 1;

/** ofp_match: type, length (without padding), OXM TLVs, zero padding to 8. */
export function encodeMatch(w: Writer, m: Match): void {
  const at = w.length;
  w.u16(OFPMT_OXM).u16(0);
  for (const o of m.fields) encodeOxm(w, o);
  w.setU16(at + 2, w.length - at);
  w.pad8(at);
}

export function decodeMatch(r: Reader): Match {
  const start = r.pos;
  const type = r.u16('match type');
  const length = r.u16('match length');
  if (type !== OFPMT_OXM) r.fail(`match type ${type} is not OXM`, start);
  if (length < 4) r.fail(`match length ${length} is shorter than its header`, start + 2);
  const body = r.sub(length - 4, 'match fields');
  const fields: OxmField[] = [];
  while (body.remaining > 0) fields.push(decodeOxm(body));
  r.skip((8 - (length % 8)) % 8, 'match padding');
  return { fields };
}

/** Value helpers for building matches. */
export function mac(text: string): bigint {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new RangeError(`not a MAC address: ${text}`);
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(parseInt(p, 16)), 0n);
}

export function ipv4(text: string): bigint {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new RangeError(`not an IPv4 address: ${text}`);
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

export function formatMac(v: bigint): string {
  return Array.from({ length: 6 }, (_, i) => Number((v >> BigInt(8 * (5 - i))) & 0xffn).toString(16).padStart(2, '0')).join(':');
}

export function formatIpv4(v: bigint): string {
  return Array.from({ length: 4 }, (_, i) => Number((v >> BigInt(8 * (3 - i))) & 0xffn)).join('.');
}

/** OFPVID_PRESENT: set in vlan_vid when the packet has an 802.1Q header. */
export const OFPVID_PRESENT = 0x1000;

/** Reserved OpenFlow 1.3 port numbers (ofp_port_no). */
export const OFPP = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;

const RESERVED_PORT_NAMES = new Map<number, string>(Object.entries(OFPP).filter(([k]) => k !== 'MAX').map(([k, v]) => [v, k]));

/** A port number as ovs-ofctl prints it: a number, or IN_PORT, LOCAL, CONTROLLER... */
export function formatPort(port: number, width: 16 | 32 = 32): string {
  const p = width === 16 && port >= 0xfff8 ? port + 0xffff0000 : port;
  return RESERVED_PORT_NAMES.get(p >>> 0) ?? String(port);
}

export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** A field value as ovs-ofctl prints it (set_field, learn immediates, matches). */
export function formatFieldValue(name: FieldName, value: bigint): string {
  const info: FieldInfo = FIELDS[name];
  switch (info.format) {
    case 'dec':
      return value.toString();
    case 'hex':
      return hex(value);
    case 'mac':
      return formatMac(value);
    case 'ipv4':
      return formatIpv4(value);
    case 'port':
      return formatPort(Number(value), info.bytes === 2 ? 16 : 32);
    case 'ethertype':
      return `0x${value.toString(16).padStart(4, '0')}`;
  }
}

/** value[/mask] as a dump-flows match prints it. */
export function formatMasked(name: FieldName, value: bigint, mask: bigint | undefined): string {
  const info: FieldInfo = FIELDS[name];
  if (mask === undefined || mask === fieldMax(name)) return formatFieldValue(name, value);
  if (info.format === 'ipv4') {
    const bits = mask.toString(2).padStart(32, '0');
    if (/^1*0*$/.test(bits)) return `${formatIpv4(value)}/${bits.indexOf('0') < 0 ? 32 : bits.indexOf('0')}`;
    return `${formatIpv4(value)}/${formatIpv4(mask)}`;
  }
  if (info.format === 'mac') return `${formatMac(value)}/${formatMac(mask)}`;
  if (info.format === 'ethertype') return `${formatFieldValue(name, value)}/${formatFieldValue(name, mask)}`;
  return `${hex(value)}/${hex(mask)}`;
}
