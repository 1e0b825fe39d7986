// network.*: a tenant's L2 domain (VLAN tag on access ports, VNI on tunnels)
// and its subnets. VLAN and VNI are unique across all tenants because every
// tenant shares the bridges and tunnels; subnets may overlap across tenants
// but not within one.
import { z } from 'zod';
import { Name, checkNetwork, checkReservation, type ModelIssue, type Network } from '../../model/index.js';
import { del, put, type Op } from '../../store/store.js';
import { mustSee, redactIssues } from '../access.js';
import { Revision, withRevision, type MethodDeps } from '../deps.js';
import { ErrorCode, conflict, fromModelIssues, notFound } from '../errors.js';
import { defineMethod, type AnyMethod, type Principal } from '../registry.js';
import { NetworkFields, NetworkKey, NetworkResult } from '../schemas.js';

const NETWORK_ERRORS = [ErrorCode.NotFound, ErrorCode.Conflict];

function refuse(principal: Principal, network: Network, issues: ModelIssue[]): never {
  throw fromModelIssues(redactIssues(principal, issues, network));
}

export function networkMethods({ store, guard }: MethodDeps): AnyMethod[] {
  /** The tenant must exist and be visible; both failures read the same. */
  async function tenantMustExist(principal: Principal, tenant: string): Promise<void> {
    mustSee(principal, tenant, `tenant ${tenant}`);
    if (!(await store.get('tenant', tenant))) throw notFound(`tenant ${tenant}`);
  }

  return [
    defineMethod({
      name: 'network.create',
      summary: 'Create a network in a tenant.',
      description:
        'The VNI defaults to the VLAN tag, the MTU to 1450. Refused with a conflict naming `vlan` or `vni` when another network (of any tenant) uses it, and naming `subnets.N.cidr` when a subnet overlaps another of the same tenant.',
      scope: 'tenant',
      params: z.strictObject({ ...NetworkKey, ...NetworkFields }),
      result: NetworkResult,
      errors: NETWORK_ERRORS,
      handler: (p, { principal }) =>
        guard.run(async (fence) => {
          await tenantMustExist(principal, p.tenant);
          const key = `${p.tenant}/${p.name}`;
          if (await store.get('network', key)) throw conflict([{ path: 'name', message: `network ${key} exists` }]);
          const network: Network = { ...p, vni: p.vni ?? p.vlan };
          const others = (await store.list('network')).map((n) => n.value);
          const issues = checkNetwork(network, others);
          if (issues.length > 0) refuse(principal, network, issues);
          const { revision } = await store.commit([put('network', key, network, null)], { fence });
          return { ...network, revision };
        }),
    }),
    defineMethod({
      name: 'network.get',
      summary: 'One network with its subnets.',
      scope: 'tenant',
      params: z.strictObject(NetworkKey),
      result: NetworkResult,
      errors: [ErrorCode.NotFound],
      handler: async (p, { principal }) => {
        const key = `${p.tenant}/${p.name}`;
        mustSee(principal, p.tenant, `network ${key}`);
        const n = await store.get('network', key);
        if (!n) throw notFound(`network ${key}`);
        return withRevision(n);
      },
    }),
    defineMethod({
      name: 'network.list',
      summary: "Networks, all the token can see or one tenant's.",
      scope: 'tenant',
      params: z.strictObject({ tenant: Name.optional() }),
      result: z.object({ networks: z.array(NetworkResult) }),
      errors: [ErrorCode.NotFound],
      handler: async (p, { principal }) => {
        const tenant = p.tenant ?? principal.tenant;
        if (tenant === undefined) return { networks: (await store.list('network')).map(withRevision) };
        await tenantMustExist(principal, tenant);
        return { networks: (await store.list('network', { prefix: `${tenant}/` })).map(withRevision) };
      },
    }),
    defineMethod({
      name: 'network.update',
      summary: 'Change fields of a network; fields not given keep their value.',
      description:
        '`subnets`, when given, replaces the whole list. A VNI that followed the VLAN tag keeps following it unless `vni` is given. With `ifRevision`, refused with a conflict unless the network is still at that revision. Refused when a reservation would fall outside every subnet.',
      scope: 'tenant',
      params: z.strictObject({
        ...NetworkKey,
        vlan: NetworkFields.vlan.optional(),
        vni: NetworkFields.vni,
        mtu: NetworkFields.mtu.optional(),
        subnets: NetworkFields.subnets.unwrap().optional(),
        description: NetworkFields.description,
        ifRevision: Revision.optional().describe('only update if the network is still at this revision'),
      }),
      result: NetworkResult,
      errors: NETWORK_ERRORS,
      handler: (p, { principal }) =>
        guard.run(async (fence) => {
          const key = `${p.tenant}/${p.name}`;
          mustSee(principal, p.tenant, `network ${key}`);
          const current = await store.get('network', key);
          if (!current) throw notFound(`network ${key}`);
          if (p.ifRevision !== undefined && p.ifRevision !== current.revision) {
            throw conflict([{ path: 'ifRevision', message: `network ${key} is at revision ${current.revision}` }]);
          }
          const old = current.value;
          const vlan = p.vlan ?? old.vlan;
          const network: Network = {
            ...old,
            vlan,
            vni: p.vni ?? (old.vni === old.vlan ? vlan : old.vni),
            mtu: p.mtu ?? old.mtu,
            subnets: p.subnets ?? old.subnets,
            ...(p.description !== undefined ? { description: p.description } : {}),
          };
          const others = (await store.list('network')).map((n) => n.value);
          const issues = checkNetwork(network, others);
          if (issues.length > 0) refuse(principal, network, issues);
          for (const r of await store.list('reservation', { prefix: `${key}/` })) {
            if (checkReservation(r.value, network, []).length > 0) {
              throw conflict([{ path: 'subnets', message: `reservation ${r.value.mac} (${r.value.ip}) would be in no subnet or on a gateway` }]);
            }
          }
          const { revision } = await store.commit([put('network', key, network, current.revision)], { fence });
          return { ...network, revision };
        }),
    }),
    defineMethod({
      name: 'network.delete',
      summary: 'Delete a network with its reservations and leases.',
      scope: 'tenant',
      params: z.strictObject(NetworkKey),
      result: z.object({ deleted: z.array(z.string()).describe('`kind key` of every object deleted') }),
      errors: [ErrorCode.NotFound],
      handler: (p, { principal }) =>
        guard.run(async (fence) => {
          const key = `${p.tenant}/${p.name}`;
          mustSee(principal, p.tenant, `network ${key}`);
          const n = await store.get('network', key);
          if (!n) throw notFound(`network ${key}`);
          const ops: Op[] = [];
          const deleted: string[] = [];
          for (const kind of ['lease', 'reservation'] as const) {
            for (const o of await store.list(kind, { prefix: `${key}/` })) {
              ops.push(del(kind, o.key, o.revision));
              deleted.push(`${kind} ${o.key}`);
            }
          }
          ops.push(del('network', key, n.revision));
          deleted.push(`network ${key}`);
          await store.commit(ops, { fence });
          return { deleted };
        }),
    }),
  ];
}

