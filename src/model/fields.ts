// Field schemas shared by every kind: one definition of what a valid name,
// MAC, address or CIDR is, so the API, the manifest and the store agree.
import { z } from 'zod';
import { canonicalCidr, parseCidr, parseIpv4 } from './address.js';

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Tenant, network and token names. */
export const Name = z.string().regex(NAME_PATTERN, 'must be 1-63 of a-z, 0-9 and "-", starting with a letter or digit');

/** A network reference as the CLI and API write it: `tenant/network`. */
export const NetworkRef = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9-]{0,62}$/, 'must be TENANT/NETWORK');

/** MACs are stored lower-case with colons whether they arrive with colons or dashes (one separator throughout). */
export const Mac = z
  .string()
  .regex(/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/, 'must be a MAC address like 52:54:00:12:34:56')
  .transform((mac) => mac.toLowerCase().replaceAll('-', ':'));

export const Ipv4 = z.string().refine((s) => parseIpv4(s) !== undefined, 'must be an IPv4 address like 192.0.2.1');

export const Cidr = z.string().superRefine((s, ctx) => {
  const c = parseCidr(s);
  if (c === 'syntax') ctx.addIssue({ code: 'custom', message: 'must be an IPv4 CIDR like 192.0.2.0/24' });
  else if (c === 'host-bits') ctx.addIssue({ code: 'custom', message: `has host bits set; did you mean ${canonicalCidr(s)}?` });
});

/** RFC 1123 host names and DNS domains (option 12, 15, 119). */
export const DomainName = z
  .string()
  .max(253)
  .regex(/^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/, 'must be a DNS name');

export const Hostname = z
  .string()
  .max(63)
  .regex(/^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/, 'must be a host name (letters, digits, "-")');

/** Host identities come from OVS's system-id (often a UUID) or a host name. */
export const HostName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 of letters, digits, ".", "_", "-"');

export const Description = z.string().max(1024);
