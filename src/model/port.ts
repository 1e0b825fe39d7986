// A VM or container NIC on a host's integration bridge, and the network it
// is bound to (explicitly, or through its VLAN tag as Proxmox sets it).
import { z } from 'zod';
import { HostName, Ipv4, Mac, NetworkRef } from './fields.js';

export const Port = z.object({
  host: HostName,
  /** OVS port name. */
  name: z.string().min(1).max(64),
  /** An explicit binding `tenant/network`; when absent the port's tag decides. */
  network: NetworkRef.optional(),
  mac: Mac.optional(),
  ips: z.array(Ipv4).max(16).default([]),
});
export type Port = z.infer<typeof Port>;
