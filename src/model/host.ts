// A hypervisor. Its identity is OVS's `external_ids:system-id` (fallback: the
// host name); it is touched only once admitted.
import { z } from 'zod';
import { HostName, Ipv4 } from './fields.js';

export const HostState = z.enum(['pending', 'admitted', 'rejected']);
export type HostState = z.infer<typeof HostState>;

export const Encap = z.enum(['vxlan', 'geneve', 'gre']);
export type Encap = z.infer<typeof Encap>;

export const BridgeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/, 'must be an interface name of at most 15 characters');

export const Host = z.object({
  name: HostName,
  state: HostState.default('pending'),
  /** Tunnel endpoint; from `external_ids:weft-encap-ip` unless set through the API. */
  encapIp: Ipv4.optional(),
  encap: Encap.default('vxlan'),
  bridge: BridgeName.default('br-int'),
  /** `system` (kernel) or `netdev` (userspace); taken from the host when unset. */
  datapathType: z.string().max(32).optional(),
  hostname: z.string().max(255).optional(),
  /** ISO time weft first heard of the host. */
  firstSeen: z.string().optional(),
});
export type Host = z.infer<typeof Host>;
