// The model's invariants, in one place, as pure functions over plain values.
// They return every problem found (never throw), each naming the field, so
// the API can answer with all bad fields at once and the store's integrity
// check can reuse them.
import { cidrContains, intervalsOverlap, parseCidr, parseIpv4, type CidrBlock } from './address.js';
import { networkRef, type Network, type Subnet } from './network.js';
import type { Reservation } from './reservation.js';

export type ModelIssueCode =
  | 'vlan-in-use'
  | 'vni-in-use'
  | 'cidr-overlap'
  | 'gateway-outside-subnet'
  | 'gateway-in-range'
  | 'range-reversed'
  | 'range-outside-subnet'
  | 'ranges-overlap'
  | 'reservation-outside-subnets'
  | 'reservation-is-gateway'
  | 'reservation-mac-in-use'
  | 'reservation-ip-in-use'
  | 'address-not-usable';

/** Codes that describe a clash with another object rather than a bad value. */
const CONFLICTS: ReadonlySet<ModelIssueCode> = new Set([
  'vlan-in-use',
  'vni-in-use',
  'cidr-overlap',
  'reservation-mac-in-use',
  'reservation-ip-in-use',
]);

export interface ModelIssue {
  code: ModelIssueCode;
  /** Path of the offending field within the object checked. */
  path: (string | number)[];
  message: string;
}

export function isConflict(issue: ModelIssue): boolean {
  return CONFLICTS.has(issue.code);
}

interface Interval {
  first: number;
  last: number;
}

/** Undefined when an end is not an address: the schema names that field, and the checks must not throw on it. */
function rangeOf(r: { start: string; end: string }): Interval | undefined {
  const first = parseIpv4(r.start);
  const last = parseIpv4(r.end);
  return first === undefined || last === undefined ? undefined : { first, last };
}

/**
 * The network and broadcast addresses of a block, which no host may hold.
 * /31 (RFC 3021) and /32 blocks have none.
 */
export function unusableAddresses(cidr: CidrBlock): number[] {
  return cidr.prefix >= 31 ? [] : [cidr.first, cidr.last];
}

/** A subnet's own consistency: gateway and ranges against its CIDR. */
export function checkSubnet(subnet: Subnet, path: (string | number)[] = []): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const cidr = parseCidr(subnet.cidr);
  if (typeof cidr === 'string') return issues; // the schema already names a bad CIDR
  const unusable = unusableAddresses(cidr);
  // Kept with their index in `subnet.ranges`, so a message names the range the caller wrote.
  const ranges: (Interval & { index: number })[] = [];
  subnet.ranges.forEach((r, i) => {
    const range = rangeOf(r);
    if (!range) return;
    const at = [...path, 'ranges', i];
    if (range.first > range.last) {
      issues.push({ code: 'range-reversed', path: at, message: `range ${r.start}-${r.end} ends before it starts` });
      return;
    }
    if (!cidrContains(cidr, range.first) || !cidrContains(cidr, range.last)) {
      issues.push({ code: 'range-outside-subnet', path: at, message: `range ${r.start}-${r.end} is not inside ${subnet.cidr}` });
    } else if (unusable.some((a) => a >= range.first && a <= range.last)) {
      issues.push({ code: 'address-not-usable', path: at, message: `range ${r.start}-${r.end} includes the network or broadcast address of ${subnet.cidr}` });
    }
    const clash = ranges.find((other) => intervalsOverlap(other, range));
    if (clash) {
      issues.push({ code: 'ranges-overlap', path: at, message: `range ${r.start}-${r.end} overlaps range ${clash.index}` });
    }
    ranges.push({ ...range, index: i });
  });
  const gw = subnet.gateway === undefined ? undefined : parseIpv4(subnet.gateway);
  if (gw !== undefined) {
    const at = [...path, 'gateway'];
    if (!cidrContains(cidr, gw)) {
      issues.push({ code: 'gateway-outside-subnet', path: at, message: `gateway ${subnet.gateway} is not inside ${subnet.cidr}` });
    } else if (unusable.includes(gw)) {
      issues.push({ code: 'address-not-usable', path: at, message: `gateway ${subnet.gateway} is the network or broadcast address of ${subnet.cidr}` });
    } else if (ranges.some((r) => gw >= r.first && gw <= r.last)) {
      issues.push({ code: 'gateway-in-range', path: at, message: `gateway ${subnet.gateway} is inside a DHCP range` });
    }
  }
  return issues;
}

/**
 * A network against the others in the store: one VLAN tag space and one VNI
 * space across all tenants (they share the bridges and the tunnels), and no
 * overlapping subnets within a tenant. Overlap across tenants is allowed:
 * that is what isolation is for. `others` may include the network itself
 * (an update); it is skipped by its key.
 */
export function checkNetwork(network: Network, others: readonly Network[]): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const self = networkRef(network);
  const cidrs: (CidrBlock | undefined)[] = network.subnets.map((s) => {
    const c = parseCidr(s.cidr);
    return typeof c === 'string' ? undefined : c;
  });
  network.subnets.forEach((s, i) => {
    issues.push(...checkSubnet(s, ['subnets', i]));
    const c = cidrs[i];
    if (!c) return;
    const earlier = cidrs.findIndex((o, j) => j < i && o !== undefined && intervalsOverlap(o, c));
    if (earlier >= 0) {
      issues.push({ code: 'cidr-overlap', path: ['subnets', i, 'cidr'], message: `subnet ${s.cidr} overlaps subnet ${network.subnets[earlier]!.cidr} of the same network` });
    }
  });
  for (const other of others) {
    const ref = networkRef(other);
    if (ref === self) continue;
    if (other.vlan === network.vlan) {
      issues.push({ code: 'vlan-in-use', path: ['vlan'], message: `VLAN ${network.vlan} is in use by network ${ref}` });
    }
    if (other.vni === network.vni) {
      issues.push({ code: 'vni-in-use', path: ['vni'], message: `VNI ${network.vni} is in use by network ${ref}` });
    }
    if (other.tenant !== network.tenant) continue;
    network.subnets.forEach((s, i) => {
      const c = cidrs[i];
      if (!c) return;
      const clash = other.subnets.find((o) => {
        const oc = parseCidr(o.cidr);
        return typeof oc !== 'string' && intervalsOverlap(oc, c);
      });
      if (clash) {
        issues.push({ code: 'cidr-overlap', path: ['subnets', i, 'cidr'], message: `subnet ${s.cidr} overlaps ${clash.cidr} of network ${ref} in the same tenant` });
      }
    });
  }
  return issues;
}

/**
 * A reservation against its network and the network's other reservations:
 * inside one of its subnets, not a gateway, one per MAC and one per address.
 */
export function checkReservation(reservation: Reservation, network: Network, others: readonly Reservation[]): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const ip = parseIpv4(reservation.ip);
  if (ip === undefined) return issues;
  let block: CidrBlock | undefined;
  const subnet = network.subnets.find((s) => {
    const c = parseCidr(s.cidr);
    if (typeof c === 'string' || !cidrContains(c, ip)) return false;
    block = c;
    return true;
  });
  if (!subnet || !block) {
    issues.push({ code: 'reservation-outside-subnets', path: ['ip'], message: `${reservation.ip} is in no subnet of network ${networkRef(network)}` });
  } else if (unusableAddresses(block).includes(ip)) {
    issues.push({ code: 'address-not-usable', path: ['ip'], message: `${reservation.ip} is the network or broadcast address of ${subnet.cidr}` });
  } else if (subnet.gateway === reservation.ip) {
    issues.push({ code: 'reservation-is-gateway', path: ['ip'], message: `${reservation.ip} is the gateway of ${subnet.cidr}` });
  }
  for (const other of others) {
    if (other.tenant !== reservation.tenant || other.network !== reservation.network) continue;
    if (other.mac === reservation.mac) continue; // the reservation itself, being replaced
    if (other.ip === reservation.ip) {
      issues.push({ code: 'reservation-ip-in-use', path: ['ip'], message: `${reservation.ip} is reserved for ${other.mac}` });
    }
  }
  return issues;
}

/** Every invariant over a whole state, e.g. a manifest applied or the store's integrity check. */
export function checkAll(networks: readonly Network[], reservations: readonly Reservation[]): (ModelIssue & { object: string })[] {
  const issues: (ModelIssue & { object: string })[] = [];
  networks.forEach((n, i) => {
    for (const issue of checkNetwork(n, networks.slice(0, i))) issues.push({ ...issue, object: `network ${networkRef(n)}` });
  });
  const byRef = new Map(networks.map((n) => [networkRef(n), n]));
  const seen: Reservation[] = [];
  const macs = new Set<string>();
  for (const r of reservations) {
    const object = `reservation ${r.tenant}/${r.network}/${r.mac}`;
    const network = byRef.get(`${r.tenant}/${r.network}`);
    if (!network) continue;
    const macKey = `${r.tenant}/${r.network}/${r.mac}`;
    if (macs.has(macKey)) issues.push({ code: 'reservation-mac-in-use', path: ['mac'], message: `${r.mac} is reserved twice`, object });
    macs.add(macKey);
    for (const issue of checkReservation(r, network, seen)) issues.push({ ...issue, object });
    seen.push(r);
  }
  return issues;
}

