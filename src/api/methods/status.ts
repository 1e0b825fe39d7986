// status: what a person checks first: is it up, which version, where it
// listens, how much it holds.
import { z } from 'zod';
import { KINDS } from '../../model/index.js';
import { isAdmin } from '../access.js';
import type { MethodDeps } from '../deps.js';
import { DhcpSummary, dhcpSummary, type DhcpDeps } from './dhcp.js';
import { ReplicaStatus, type LeaderDeps } from './leader.js';
import { NoParams, defineMethod, type AnyMethod } from '../registry.js';

export function statusMethods({ store, info, now, leaders, dhcp }: MethodDeps & LeaderDeps & DhcpDeps): AnyMethod[] {
  return [
    defineMethod({
      name: 'status',
      summary: 'Version, uptime, store, listeners and object counts.',
      description: "With a tenant token, `counts` covers the token's tenant only (networks, reservations, leases), and `replica` and `dhcp` are left out.",
      scope: 'tenant',
      params: NoParams,
      result: z.object({
        version: z.string(),
        uptime: z.number().describe('seconds since the daemon started'),
        store: z.object({ backend: z.string(), revision: z.number().int() }),
        listeners: z.array(z.object({ name: z.string(), address: z.string() })),
        counts: z.record(z.string(), z.number().int()),
        tenant: z.string().optional().describe("the token's tenant, for a tenant token"),
        replica: ReplicaStatus.optional().describe("this replica's view of its peers and of the store (admin tokens)"),
        dhcp: DhcpSummary.optional().describe("this replica's DHCP answers since it started, in short (admin tokens; `dhcp.stats` has them all)"),
      }),
      handler: async (_p, { principal }) => {
        const counts: Record<string, number> = {};
        if (isAdmin(principal)) {
          for (const kind of KINDS) counts[kind] = await store.count(kind);
        } else {
          for (const kind of ['network', 'reservation', 'lease'] as const) {
            counts[kind] = (await store.list(kind, { prefix: `${principal.tenant}/` })).length;
          }
        }
        return {
          version: info.version,
          uptime: Math.round((now().getTime() - info.startedAt) / 100) / 10,
          store: { backend: store.backend, revision: await store.revision() },
          listeners: info.listeners(),
          counts,
          ...(principal.tenant !== undefined ? { tenant: principal.tenant } : {}),
          ...(leaders && isAdmin(principal) ? { replica: leaders.replica() } : {}),
          ...(dhcp && isAdmin(principal) ? { dhcp: dhcpSummary(dhcp.stats()) } : {}),
        };
      },
    }),
  ];
}
