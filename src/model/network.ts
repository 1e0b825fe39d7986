// A network is one tenant L2 domain: a VLAN tag on the hypervisors' access
// ports, a VNI on the tunnels between them, and the subnets DHCP serves.
import { z } from 'zod';
import { Cidr, Description, DomainName, Ipv4, Name } from './fields.js';

export const VLAN_MIN = 1;
export const VLAN_MAX = 4094;
export const VNI_MIN = 1;
export const VNI_MAX = 16_777_215;
/** A VXLAN/Geneve network on a 1500-byte underlay carries 1450-byte frames. */
export const DEFAULT_TUNNELLED_MTU = 1450;
export const DEFAULT_LEASE_TIME = 3600;

export const Vlan = z.number().int().min(VLAN_MIN).max(VLAN_MAX);
export const Vni = z.number().int().min(VNI_MIN).max(VNI_MAX);

export const DhcpRange = z.object({ start: Ipv4, end: Ipv4 });
export type DhcpRange = z.infer<typeof DhcpRange>;

/** RFC 3442 classless static route, option 121. */
export const Route = z.object({ destination: Cidr, gateway: Ipv4 });
export type Route = z.infer<typeof Route>;

export const Subnet = z.object({
  cidr: Cidr,
  gateway: Ipv4.optional(),
  /** DHCP is served on this subnet unless turned off. */
  dhcp: z.boolean().default(true),
  ranges: z.array(DhcpRange).max(64).default([]),
  dns: z.array(Ipv4).max(8).default([]),
  domain: DomainName.optional(),
  search: z.array(DomainName).max(6).default([]),
  routes: z.array(Route).max(32).default([]),
  /** Seconds. */
  leaseTime: z.number().int().min(60).max(31_536_000).default(DEFAULT_LEASE_TIME),
  /** The server identifier when the subnet has no gateway (or another is wanted). */
  serverId: Ipv4.optional(),
});
export type Subnet = z.infer<typeof Subnet>;
export type SubnetInput = z.input<typeof Subnet>;

export const Network = z.object({
  tenant: Name,
  name: Name,
  vlan: Vlan,
  vni: Vni,
  mtu: z.number().int().min(576).max(9000).default(DEFAULT_TUNNELLED_MTU),
  subnets: z.array(Subnet).max(16).default([]),
  description: Description.optional(),
});
export type Network = z.infer<typeof Network>;

/** What callers send: the VNI defaults to the VLAN tag. */
export const NetworkInput = Network.extend({ vni: Vni.optional() }).transform((n) => ({ ...n, vni: n.vni ?? n.vlan }));
export type NetworkInput = z.input<typeof NetworkInput>;

export function networkRef(n: { tenant: string; name: string }): string {
  return `${n.tenant}/${n.name}`;
}
