import { z } from 'zod';
import { Description, Name } from './fields.js';

export const Tenant = z.object({
  name: Name,
  description: Description.optional(),
});
export type Tenant = z.infer<typeof Tenant>;
