// tenant.*: the unit of isolation. A tenant owns networks and tokens.
import { z } from 'zod';
import { Description, Name, Tenant, networkRef } from '../../model/index.js';
import { del, put, type Op } from '../../store/store.js';
import { isAdmin, mustSee } from '../access.js';
import { Revision, withRevision, type MethodDeps } from '../deps.js';
import { ErrorCode, conflict, notFound } from '../errors.js';
import { NoParams, defineMethod, type AnyMethod } from '../registry.js';

export const TenantResult = Tenant.extend({ revision: Revision });

export function tenantMethods({ store, guard }: MethodDeps): AnyMethod[] {
  return [
    defineMethod({
      name: 'tenant.create',
      summary: 'Create a tenant.',
      scope: 'admin',
      params: z.strictObject({ name: Name, description: Description.optional() }),
      result: TenantResult,
      errors: [ErrorCode.Conflict],
      handler: (p) =>
        guard.run(async (fence) => {
          if (await store.get('tenant', p.name)) throw conflict([{ path: 'name', message: `tenant ${p.name} exists` }]);
          const tenant: Tenant = p;
          const { revision } = await store.commit([put('tenant', p.name, tenant, null)], { fence });
          return { ...tenant, revision };
        }),
    }),
    defineMethod({
      name: 'tenant.get',
      summary: 'One tenant.',
      description: 'A tenant token can get only its own tenant.',
      scope: 'tenant',
      params: z.strictObject({ name: Name }),
      result: TenantResult,
      errors: [ErrorCode.NotFound],
      handler: async (p, { principal }) => {
        mustSee(principal, p.name, `tenant ${p.name}`);
        const t = await store.get('tenant', p.name);
        if (!t) throw notFound(`tenant ${p.name}`);
        return withRevision(t);
      },
    }),
    defineMethod({
      name: 'tenant.list',
      summary: 'Every tenant the token can see.',
      description: 'An admin token sees every tenant, a tenant token its own.',
      scope: 'tenant',
      params: NoParams,
      result: z.object({ tenants: z.array(TenantResult) }),
      handler: async (_p, { principal }) => {
        if (!isAdmin(principal)) {
          const t = await store.get('tenant', principal.tenant!);
          return { tenants: t ? [withRevision(t)] : [] };
        }
        return { tenants: (await store.list('tenant')).map(withRevision) };
      },
    }),
    defineMethod({
      name: 'tenant.delete',
      summary: "Delete a tenant and its tokens; with `force`, also its networks, their reservations and leases.",
      description: 'Refused with a conflict naming `force` while the tenant has networks and `force` is not set.',
      scope: 'admin',
      params: z.strictObject({ name: Name, force: z.boolean().default(false) }),
      result: z.object({ deleted: z.array(z.string()).describe('`kind key` of every object deleted') }),
      errors: [ErrorCode.NotFound, ErrorCode.Conflict],
      handler: (p) =>
        guard.run(async (fence) => {
          const t = await store.get('tenant', p.name);
          if (!t) throw notFound(`tenant ${p.name}`);
          const prefix = `${p.name}/`;
          const networks = await store.list('network', { prefix });
          if (networks.length > 0 && !p.force) {
            const names = networks.map((n) => networkRef(n.value)).join(', ');
            throw conflict([{ path: 'force', message: `tenant ${p.name} has networks (${names}); delete them or pass force` }]);
          }
          const ops: Op[] = [];
          const deleted: string[] = [];
          for (const kind of ['lease', 'reservation', 'network'] as const) {
            for (const o of await store.list(kind, { prefix })) {
              ops.push(del(kind, o.key, o.revision));
              deleted.push(`${kind} ${o.key}`);
            }
          }
          for (const o of await store.list('token')) {
            if (o.value.tenant !== p.name) continue;
            ops.push(del('token', o.key, o.revision));
            deleted.push(`token ${o.key}`);
          }
          ops.push(del('tenant', t.key, t.revision));
          deleted.push(`tenant ${t.key}`);
          await store.commit(ops, { fence });
          return { deleted };
        }),
    }),
  ];
}
