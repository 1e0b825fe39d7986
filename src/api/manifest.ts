// The declarative manifest: one tenant with its networks, their subnets and
// reservations. `plan` is pure: from the manifest and what the store holds
// for that tenant it computes the changes (in a fixed order), the store ops
// that make them, conditioned on the revisions read, and every invariant
// problem of the resulting state, named by its path in the manifest.
import { z } from 'zod';
import {
  Description,
  Hostname,
  Ipv4,
  Mac,
  Name,
  checkNetwork,
  checkReservation,
  type ModelIssue,
  type Network,
  type Reservation,
  type Tenant,
} from '../model/index.js';
import { del, put, type Op, type Versioned } from '../store/store.js';
import { NetworkFields } from './schemas.js';

export const ManifestReservation = z.strictObject({ mac: Mac, ip: Ipv4, hostname: Hostname.optional() });

export const ManifestNetwork = z.strictObject({
  name: Name,
  ...NetworkFields,
  reservations: z.array(ManifestReservation).max(4096).default([]),
});

export const Manifest = z
  .strictObject({
    tenant: Name,
    description: Description.optional(),
    networks: z.array(ManifestNetwork).max(1024).default([]),
  })
  .superRefine((m, ctx) => {
    const seen = new Map<string, number>();
    m.networks.forEach((n, i) => {
      const first = seen.get(n.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['networks', i, 'name'], message: `network ${n.name} is listed twice (also at networks.${first})` });
      else seen.set(n.name, i);
    });
  });
export type Manifest = z.output<typeof Manifest>;

export const ChangeAction = z.enum(['create', 'update', 'delete']);
export const PlannedChange = z.object({
  action: ChangeAction,
  kind: z.enum(['tenant', 'network', 'reservation', 'lease']),
  key: z.string(),
  fields: z.array(z.string()).optional().describe('top-level fields that change, for an update'),
});
export type PlannedChange = z.infer<typeof PlannedChange>;

export interface Current {
  tenant?: Versioned<'tenant'>;
  /** Networks of every tenant (the VLAN and VNI spaces are shared). */
  networks: Versioned<'network'>[];
  /** Reservations and leases of the manifest's tenant. */
  reservations: Versioned<'reservation'>[];
  leases: Versioned<'lease'>[];
}

export interface PlanIssue extends ModelIssue {
  path: (string | number)[];
}

export interface Plan {
  changes: PlannedChange[];
  ops: Op[];
  issues: PlanIssue[];
}

/** JSON with sorted keys and no undefined members: equal values, equal text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

function changedFields(before: object, after: object): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => canonical((before as Record<string, unknown>)[k]) !== canonical((after as Record<string, unknown>)[k])).sort();
}

export function plan(manifest: Manifest, current: Current, options: { prune: boolean }): Plan {
  const tenantName = manifest.tenant;
  const prefix = `${tenantName}/`;
  const creates: { change: PlannedChange; op: Op }[] = [];
  const deletes: { change: PlannedChange; op: Op }[] = [];
  const issues: PlanIssue[] = [];

  const tenant: Tenant = { name: tenantName, ...(manifest.description !== undefined ? { description: manifest.description } : {}) };
  if (!current.tenant) {
    creates.push({ change: { action: 'create', kind: 'tenant', key: tenantName }, op: put('tenant', tenantName, tenant, null) });
  } else if (canonical(current.tenant.value) !== canonical(tenant)) {
    creates.push({
      change: { action: 'update', kind: 'tenant', key: tenantName, fields: changedFields(current.tenant.value, tenant) },
      op: put('tenant', tenantName, tenant, current.tenant.revision),
    });
  }

  const stored = new Map(current.networks.filter((n) => n.key.startsWith(prefix)).map((n) => [n.key, n]));
  const desired: Network[] = manifest.networks.map(({ reservations: _r, ...n }) => ({ ...n, tenant: tenantName, vni: n.vni ?? n.vlan }));
  const desiredKeys = new Set(desired.map((n) => `${prefix}${n.name}`));

  // The networks after the apply: other tenants' as they are, this tenant's
  // from the manifest, plus (without prune) the ones it does not list.
  const finalNetworks: Network[] = current.networks.filter((n) => !n.key.startsWith(prefix) || (!options.prune && !desiredKeys.has(n.key))).map((n) => n.value);
  finalNetworks.push(...desired);

  const storedReservations = new Map(current.reservations.map((r) => [r.key, r]));
  const keptReservationKeys = new Set<string>();

  manifest.networks.forEach((m, i) => {
    const network = desired[i]!;
    const key = `${prefix}${network.name}`;
    const at = ['networks', i];
    for (const issue of checkNetwork(network, finalNetworks)) issues.push({ ...issue, path: [...at, ...issue.path] });

    const before = stored.get(key);
    if (!before) creates.push({ change: { action: 'create', kind: 'network', key }, op: put('network', key, network, null) });
    else if (canonical(before.value) !== canonical(network)) {
      creates.push({ change: { action: 'update', kind: 'network', key, fields: changedFields(before.value, network) }, op: put('network', key, network, before.revision) });
    }

    const reservations: Reservation[] = m.reservations.map((r) => ({ ...r, tenant: tenantName, network: network.name }));
    const listedMacs = new Map<string, number>();
    const unlisted = current.reservations.filter((r) => r.key.startsWith(`${key}/`) && !reservations.some((x) => `${key}/${x.mac}` === r.key));
    const finalReservations = [...reservations, ...(options.prune ? [] : unlisted.map((r) => r.value))];
    reservations.forEach((r, j) => {
      const rat = [...at, 'reservations', j];
      const twice = listedMacs.get(r.mac);
      if (twice !== undefined) {
        issues.push({ code: 'reservation-mac-in-use', path: [...rat, 'mac'], message: `${r.mac} is reserved twice (also at reservations.${twice})` });
        return;
      }
      listedMacs.set(r.mac, j);
      for (const issue of checkReservation(r, network, finalReservations)) issues.push({ ...issue, path: [...rat, ...issue.path] });
      const rkey = `${key}/${r.mac}`;
      keptReservationKeys.add(rkey);
      const was = storedReservations.get(rkey);
      if (!was) creates.push({ change: { action: 'create', kind: 'reservation', key: rkey }, op: put('reservation', rkey, r, null) });
      else if (canonical(was.value) !== canonical(r)) {
        creates.push({ change: { action: 'update', kind: 'reservation', key: rkey, fields: changedFields(was.value, r) }, op: put('reservation', rkey, r, was.revision) });
      }
    });
    if (!options.prune) {
      for (const r of unlisted) {
        keptReservationKeys.add(r.key);
        for (const issue of checkReservation(r.value, network, [])) {
          issues.push({ ...issue, path: [...at, 'subnets'], message: `reservation ${r.value.mac} (${r.value.ip}) would be left outside: ${issue.message}` });
        }
      }
    }
  });

  if (options.prune) {
    const goneNetworks = [...stored.keys()].filter((k) => !desiredKeys.has(k));
    const gone = (key: string) => goneNetworks.some((n) => key.startsWith(`${n}/`));
    for (const l of current.leases) {
      if (gone(l.key)) deletes.push({ change: { action: 'delete', kind: 'lease', key: l.key }, op: del('lease', l.key, l.revision) });
    }
    for (const r of current.reservations) {
      if (!keptReservationKeys.has(r.key)) deletes.push({ change: { action: 'delete', kind: 'reservation', key: r.key }, op: del('reservation', r.key, r.revision) });
    }
    for (const k of goneNetworks) {
      deletes.push({ change: { action: 'delete', kind: 'network', key: k }, op: del('network', k, stored.get(k)!.revision) });
    }
  }

  const order = { tenant: 0, network: 1, reservation: 2, lease: 3 } as const;
  const byKind = (a: { change: PlannedChange }, b: { change: PlannedChange }) =>
    order[a.change.kind] - order[b.change.kind] || (a.change.key < b.change.key ? -1 : a.change.key > b.change.key ? 1 : 0);
  creates.sort(byKind);
  deletes.sort((a, b) => -byKind(a, b));
  const all = [...creates, ...deletes];
  return { changes: all.map((c) => c.change), ops: all.map((c) => c.op), issues };
}

