// What a principal may see. A tenant token's view of another tenant is the
// same as its view of nothing at all: callers answer "not found" in both
// cases, with the same message, so a token cannot probe for other tenants.
import { notFound } from './errors.js';
import type { Principal } from './registry.js';

export function isAdmin(p: Principal): boolean {
  return p.tenant === undefined;
}

export function visible(p: Principal, tenant: string | undefined): boolean {
  return p.tenant === undefined || p.tenant === tenant;
}

/** Throws the not-found error for `what` unless the principal may see `tenant`. */
export function mustSee(p: Principal, tenant: string, what: string): void {
  if (!visible(p, tenant)) throw notFound(what);
}

/** The tenant a stored object belongs to, if any (hosts belong to none: admin only). */
export function tenantOf(kind: string, value: unknown): string | undefined {
  const v = value as Record<string, unknown>;
  switch (kind) {
    case 'tenant':
      return v.name as string;
    case 'network':
    case 'reservation':
    case 'lease':
    case 'token':
      return v.tenant as string | undefined;
    case 'port': {
      const network = v.network as string | undefined;
      return network?.split('/')[0];
    }
    default:
      return undefined;
  }
}

/**
 * Model issues as a tenant token may read them: a VLAN or VNI clash names
 * the other network, which may be another tenant's, so the name is left out.
 */
export function redactIssues<I extends { code: string; message: string }>(p: Principal, issues: I[], values: { vlan: number; vni: number }): I[] {
  if (isAdmin(p)) return issues;
  return issues.map((i) => {
    if (i.code === 'vlan-in-use') return { ...i, message: `VLAN ${values.vlan} is in use` };
    if (i.code === 'vni-in-use') return { ...i, message: `VNI ${values.vni} is in use` };
    return i;
  });
}
