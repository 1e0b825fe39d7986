import { z } from 'zod';
import { Hostname, Ipv4, Mac, Name } from './fields.js';

/** A fixed address for one MAC on one network. */
export const Reservation = z.object({
  tenant: Name,
  network: Name,
  mac: Mac,
  ip: Ipv4,
  hostname: Hostname.optional(),
});
export type Reservation = z.infer<typeof Reservation>;
