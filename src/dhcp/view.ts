// What the DHCP server needs of a network, computed once per change of the
// network or its reservations rather than on every packet: the subnets it
// may serve (DHCP on and a server identifier), their pools as integer
// intervals, and the reservations by MAC and by address.
import type { DhcpOption } from '../../protocols/dhcp/index.js';
import {
  cidrContains, intToIpv4, parseCidr, parseIpv4, prefixToNetmask, unusableAddresses,
  type CidrBlock, type Network, type Reservation, type Subnet,
} from '../model/index.js';

export interface Interval {
  first: number;
  last: number;
}

export interface ServedSubnet {
  subnet: Subnet;
  cidr: CidrBlock;
  /** Option 54 and the source address of replies: `subnet.serverId ?? subnet.gateway`. */
  serverId: string;
  mask: string;
  broadcast: string;
  /** The DHCP ranges, clipped to the block. */
  ranges: Interval[];
  /** The subnet's reply options, built (and frozen, so encoded once) with the view. */
  options: SubnetOptions;
}

/** Options whose value comes from the subnet alone; absent when the subnet has no value for them. */
export interface SubnetOptions {
  serverId: DhcpOption;
  subnetMask: DhcpOption;
  /** 51, 58 and 59 for the subnet's lease time. */
  leaseTimes: readonly DhcpOption[];
  router?: DhcpOption;
  dnsServers?: DhcpOption;
  domainName?: DhcpOption;
  interfaceMtu: DhcpOption;
  broadcastAddress: DhcpOption;
  domainSearch?: DhcpOption;
  classlessRoutes?: DhcpOption;
}

/** T1 and T2 as fractions of the lease time (RFC 2131 4.4.5). */
export const T1_FRACTION = 0.5;
export const T2_FRACTION = 0.875;

function frozen<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

/** The lease time options for `leaseTime` seconds. */
export function leaseTimeOptions(leaseTime: number): DhcpOption[] {
  return [
    { name: 'leaseTime', value: leaseTime },
    { name: 'renewalTime', value: Math.floor(leaseTime * T1_FRACTION) },
    { name: 'rebindingTime', value: Math.floor(leaseTime * T2_FRACTION) },
  ];
}

function subnetOptions(s: Subnet, serverId: string, mask: string, broadcast: string, mtu: number): SubnetOptions {
  const o: SubnetOptions = {
    serverId: { name: 'serverId', value: serverId },
    subnetMask: { name: 'subnetMask', value: mask },
    leaseTimes: leaseTimeOptions(s.leaseTime),
    interfaceMtu: { name: 'interfaceMtu', value: mtu },
    broadcastAddress: { name: 'broadcastAddress', value: broadcast },
  };
  if (s.gateway !== undefined) o.router = { name: 'router', value: [s.gateway] };
  if (s.dns.length > 0) o.dnsServers = { name: 'dnsServers', value: [...s.dns] };
  if (s.domain !== undefined) o.domainName = { name: 'domainName', value: s.domain };
  if (s.search.length > 0) o.domainSearch = { name: 'domainSearch', value: [...s.search] };
  if (s.routes.length > 0) {
    // A client that gets option 121 ignores option 3 (RFC 3442), so the default route goes in it too.
    const routes = s.routes.map((r) => ({ destination: r.destination, router: r.gateway }));
    if (s.gateway !== undefined && !s.routes.some((r) => r.destination === '0.0.0.0/0')) {
      routes.push({ destination: '0.0.0.0/0', router: s.gateway });
    }
    o.classlessRoutes = { name: 'classlessRoutes', value: routes };
  }
  return frozen(o);
}

/** A subnet that exists but is not answered, and why. */
export interface Unservable {
  cidr: string;
  reason: 'dhcp-off' | 'no-server-id';
}

export interface NetworkView {
  tenant: string;
  name: string;
  /** `tenant/name`. */
  ref: string;
  mtu: number;
  subnets: ServedSubnet[];
  unservable: Unservable[];
  reservationByMac: ReadonlyMap<string, Reservation>;
  /** Reserved address -> the one MAC it may go to. */
  reservedFor: ReadonlyMap<number, string>;
  /** Addresses never handed out: network, broadcast, gateways and server ids. */
  excluded: ReadonlySet<number>;
  /** Addresses in the ranges of the served subnets (exclusions counted in). */
  poolSize: number;
  /** Every subnet's block, served or not. */
  blocks: CidrBlock[];
}

export function buildView(network: Network, reservations: Iterable<Reservation>): NetworkView {
  const subnets: ServedSubnet[] = [];
  const unservable: Unservable[] = [];
  const excluded = new Set<number>();
  const blocks: CidrBlock[] = [];
  for (const subnet of network.subnets) {
    const cidr = parseCidr(subnet.cidr);
    if (typeof cidr === 'string') continue;
    blocks.push(cidr);
    for (const a of unusableAddresses(cidr)) excluded.add(a);
    for (const a of [subnet.gateway, subnet.serverId]) {
      const n = a === undefined ? undefined : parseIpv4(a);
      if (n !== undefined) excluded.add(n);
    }
    if (!subnet.dhcp) {
      unservable.push({ cidr: subnet.cidr, reason: 'dhcp-off' });
      continue;
    }
    const serverId = subnet.serverId ?? subnet.gateway;
    if (serverId === undefined) {
      unservable.push({ cidr: subnet.cidr, reason: 'no-server-id' });
      continue;
    }
    const ranges: Interval[] = [];
    for (const r of subnet.ranges) {
      const a = parseIpv4(r.start);
      const b = parseIpv4(r.end);
      if (a === undefined || b === undefined) continue;
      const first = Math.max(a, cidr.first);
      const last = Math.min(b, cidr.last);
      if (first <= last) ranges.push({ first, last });
    }
    const mask = prefixToNetmask(cidr.prefix);
    const broadcast = intToIpv4(cidr.last);
    subnets.push({ subnet, cidr, serverId, mask, broadcast, ranges, options: subnetOptions(subnet, serverId, mask, broadcast, network.mtu) });
  }
  const reservationByMac = new Map<string, Reservation>();
  const reservedFor = new Map<number, string>();
  for (const r of reservations) {
    if (r.tenant !== network.tenant || r.network !== network.name) continue;
    const ip = parseIpv4(r.ip);
    if (ip === undefined) continue;
    reservationByMac.set(r.mac, r);
    reservedFor.set(ip, r.mac);
  }
  const poolSize = subnets.reduce((n, s) => n + s.ranges.reduce((m, r) => m + r.last - r.first + 1, 0), 0);
  return {
    tenant: network.tenant,
    name: network.name,
    ref: `${network.tenant}/${network.name}`,
    mtu: network.mtu,
    subnets,
    unservable,
    reservationByMac,
    reservedFor,
    excluded,
    poolSize,
    blocks,
  };
}

/**
 * The subnets a request may be answered from: the one holding the relay's
 * address when relayed (RFC 2131 4.3.1), else every served subnet of the
 * network (they share the segment).
 */
export function candidateSubnets(view: NetworkView, giaddr: number): ServedSubnet[] {
  if (giaddr === 0) return view.subnets;
  const s = view.subnets.find((x) => cidrContains(x.cidr, giaddr));
  return s ? [s] : [];
}

export function subnetOf(subnets: readonly ServedSubnet[], ip: number): ServedSubnet | undefined {
  return subnets.find((s) => cidrContains(s.cidr, ip));
}

export function inRanges(subnet: ServedSubnet, ip: number): boolean {
  return subnet.ranges.some((r) => ip >= r.first && ip <= r.last);
}

/** True when `ip` is in some subnet of the network at all, served or not. */
export function inNetwork(view: NetworkView, ip: number): boolean {
  return view.blocks.some((b) => cidrContains(b, ip));
}
