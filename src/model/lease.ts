import { z } from 'zod';
import { Hostname, Ipv4, Mac, Name } from './fields.js';

export const LeaseState = z.enum(['offered', 'bound', 'declined', 'released', 'expired']);
export type LeaseState = z.infer<typeof LeaseState>;

/** An address of a network held by a client. Keyed by (network, ip): one holder per address. */
export const Lease = z.object({
  tenant: Name,
  network: Name,
  ip: Ipv4,
  mac: Mac,
  /** DHCP option 61 as lower-case hex. */
  clientId: z.string().regex(/^([0-9a-f]{2})+$/).max(510).optional(),
  hostname: Hostname.optional(),
  state: LeaseState,
  /** Epoch milliseconds. */
  start: z.number().int().nonnegative(),
  expiresAt: z.number().int().nonnegative(),
  /** Where the client was seen: host and port. */
  host: z.string().max(128).optional(),
  port: z.string().max(64).optional(),
});
export type Lease = z.infer<typeof Lease>;
