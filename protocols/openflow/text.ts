// Text rendering of flows in the syntax of `ovs-ofctl -O OpenFlow13
// dump-flows`, minus the volatile duration/n_packets/n_bytes, so that what
// weft installed can be compared with what a switch reports.
import { formatInstructions, type Instruction } from './instructions.js';
import { FIELDS, formatMasked, fieldMax, type FieldName, type KnownOxm, type Match } from './oxm.js';

export interface FlowLike {
  cookie: bigint;
  tableId: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  match: Match;
  instructions: Instruction[];
}

// The order in which OVS's match_format prints fields.
const ORDER: FieldName[] = [
  ...Array.from({ length: 16 }, (_, i) => `reg${i}` as FieldName),
  'tunnel_id',
  'tun_id',
  'tun_ipv4_src',
  'tun_ipv4_dst',
  'metadata',
  'in_port',
  'nxm_in_port',
  'eth_src',
  'nxm_eth_src',
  'eth_dst',
  'nxm_eth_dst',
  'ipv4_src',
  'nxm_ip_src',
  'arp_spa',
  'nxm_arp_spa',
  'ipv4_dst',
  'nxm_ip_dst',
  'arp_tpa',
  'nxm_arp_tpa',
  'ip_proto',
  'nxm_ip_proto',
  'arp_op',
  'nxm_arp_op',
  'arp_sha',
  'nx_arp_sha',
  'arp_tha',
  'nx_arp_tha',
  'nxm_ip_tos',
  'tcp_src',
  'udp_src',
  'nxm_tcp_src',
  'nxm_udp_src',
  'tcp_dst',
  'udp_dst',
  'nxm_tcp_dst',
  'nxm_udp_dst',
];
const RANK = new Map(ORDER.map((n, i) => [n, i]));

const SHORTHAND_IP: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' };

function exact(m: Map<FieldName, KnownOxm>, name: FieldName): bigint | undefined {
  const o = m.get(name);
  return o && (o.mask === undefined || o.mask === fieldMax(name)) ? o.value : undefined;
}

function formatVlan(vid: KnownOxm | undefined, pcp: KnownOxm | undefined, tci: KnownOxm | undefined): string | undefined {
  let value = 0n;
  let mask = 0n;
  if (tci) {
    value = tci.value;
    mask = tci.mask ?? 0xffffn;
  }
  if (vid) {
    value |= vid.value & 0x1fffn;
    mask |= (vid.mask ?? 0x1fffn) & 0x1fffn;
  }
  if (pcp) {
    value |= ((pcp.value & 7n) << 13n) | 0x1000n;
    mask |= 0xe000n | 0x1000n;
  }
  if (mask === 0n) return undefined;
  const vidMask = mask & 0x0fffn;
  const pcpMask = mask & 0xe000n;
  if ((mask & 0x1000n) !== 0n && (value & 0x1000n) !== 0n && (vidMask === 0n || vidMask === 0x0fffn) && (pcpMask === 0n || pcpMask === 0xe000n) && (vidMask !== 0n || pcpMask !== 0n)) {
    const parts: string[] = [];
    if (vidMask !== 0n) parts.push(`dl_vlan=${value & 0xfffn}`);
    if (pcpMask !== 0n) parts.push(`dl_vlan_pcp=${value >> 13n}`);
    return parts.join(',');
  }
  const h = (v: bigint): string => `0x${v.toString(16).padStart(4, '0')}`;
  return mask === 0xffffn ? `vlan_tci=${h(value)}` : `vlan_tci=${h(value)}/${h(mask)}`;
}

/** The match as dump-flows prints it: shorthand protocol first, then fields in OVS's order. */
export function formatMatch(match: Match): string {
  const known = new Map<FieldName, KnownOxm>();
  const unknown: string[] = [];
  for (const o of match.fields) {
    if (o.field === 'unknown') unknown.push(`oxm(class=0x${o.oxmClass.toString(16)},field=${o.oxmField})`);
    else known.set(o.field, o);
  }
  const parts: string[] = [];
  const skip = new Set<FieldName>(['vlan_vid', 'vlan_pcp', 'nxm_vlan_tci']);
  const ethType = exact(known, 'eth_type') ?? exact(known, 'nxm_eth_type');
  const proto = exact(known, 'ip_proto') ?? exact(known, 'nxm_ip_proto');
  let shorthand: string | undefined;
  if (ethType === 0x0800n) {
    shorthand = proto !== undefined ? SHORTHAND_IP[Number(proto)] : undefined;
    if (shorthand) skip.add('ip_proto').add('nxm_ip_proto');
    else shorthand = 'ip';
  } else if (ethType === 0x0806n) shorthand = 'arp';
  else if (ethType === 0x8035n) shorthand = 'rarp';
  if (shorthand) {
    parts.push(shorthand);
    skip.add('eth_type').add('nxm_eth_type');
  }
  const sorted = [...known.values()].filter((o) => !skip.has(o.field) && RANK.has(o.field)).sort((a, b) => RANK.get(a.field)! - RANK.get(b.field)!);
  const vlan = formatVlan(known.get('vlan_vid'), known.get('vlan_pcp'), known.get('nxm_vlan_tci'));
  let vlanDone = vlan === undefined;
  let typeDone = skip.has('eth_type');
  const pushType = (): void => {
    typeDone = true;
    const t = known.get('eth_type') ?? known.get('nxm_eth_type');
    if (t) parts.push(`dl_type=${formatMasked(t.field, t.value, t.mask)}`);
  };
  for (const o of sorted) {
    const rank = RANK.get(o.field)!;
    if (!vlanDone && rank >= RANK.get('eth_src')!) {
      parts.push(vlan!);
      vlanDone = true;
    }
    if (!typeDone && rank >= RANK.get('ipv4_src')!) pushType();
    parts.push(`${FIELDS[o.field].matchName}=${formatMasked(o.field, o.value, o.mask)}`);
  }
  if (!vlanDone) parts.push(vlan!);
  if (!typeDone) pushType();
  return [...parts, ...unknown].join(',');
}

const FLAG_NAMES: [number, string][] = [
  [1, 'send_flow_rem'],
  [2, 'check_overlap'],
  [4, 'reset_counts'],
  [8, 'no_packet_counts'],
  [16, 'no_byte_counts'],
];

/**
 * One dump-flows line without its leading space and without duration,
 * n_packets and n_bytes: `cookie=0x1, table=30, priority=100,in_port=1 actions=...`.
 */
export function formatFlow(f: FlowLike): string {
  let s = `cookie=0x${f.cookie.toString(16)}, table=${f.tableId}, `;
  if (f.idleTimeout !== 0) s += `idle_timeout=${f.idleTimeout}, `;
  if (f.hardTimeout !== 0) s += `hard_timeout=${f.hardTimeout}, `;
  const flags = FLAG_NAMES.filter(([bit]) => f.flags & bit).map(([, n]) => n);
  if (flags.length > 0) s += `${flags.join(' ')} `;
  const match = [f.priority !== 0x8000 ? `priority=${f.priority}` : '', formatMatch(f.match)].filter(Boolean).join(',');
  if (match) s += `${match} `;
  return `${s}actions=${formatInstructions(f.instructions)}`;
}

/** A dump-flows line reduced to what formatFlow produces. */
export function stripFlowStats(line: string): string {
  return line
    .trim()
    .replace(/duration=[0-9.]+s, /, '')
    .replace(/n_packets=\d+, /, '')
    .replace(/n_bytes=\d+, /, '')
    .replace(/idle_age=\d+, /, '')
    .replace(/hard_age=\d+, /, '');
}
