import { z } from 'zod';
import { Name } from './fields.js';

/** An API token. Only the SHA-256 of the secret is stored; the secret is shown once. */
export const Token = z.object({
  id: z.string().regex(/^[a-z0-9]{8,32}$/),
  name: z.string().max(128).optional(),
  /** Scope: absent for an admin token, else the one tenant it may see. */
  tenant: Name.optional(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
});
export type Token = z.infer<typeof Token>;
