// lease.*: the addresses the DHCP server has bound, as the store holds them.
// Offers are not leases: the server holds them in memory for a few seconds
// and never stores them, so they are not listed. Lease changes arrive through
// `events.subscribe` (kind `lease`) like every other object.
import { z } from 'zod';
import { Ipv4, Lease, Mac, Name, NetworkRef } from '../../model/index.js';
import { put } from '../../store/store.js';
import { mustSee, visible } from '../access.js';
import { Revision, withRevision, type MethodDeps } from '../deps.js';
import { ErrorCode, conflict, invalidParams, notFound } from '../errors.js';
import { defineMethod, type AnyMethod, type Principal } from '../registry.js';

export const LeaseResult = Lease.extend({
  mac: Lease.shape.mac.describe('the client\'s hardware address, lower case'),
  clientId: Lease.shape.clientId.describe('DHCP option 61 as hex, when the client sent one'),
  state: Lease.shape.state.describe('bound: the client holds it; released: freed by the client or lease.release; expired: lapsed; declined: the client found it in use, kept from everyone until expiresAt; offered: only in stores written before offers were held in memory'),
  start: Lease.shape.start.describe('epoch milliseconds the binding began'),
  expiresAt: Lease.shape.expiresAt.describe('epoch milliseconds the lease lapses (for `released`: when it was released)'),
  host: Lease.shape.host.describe('the hypervisor the client was last seen on'),
  port: Lease.shape.port.describe('the port the client was last seen on'),
  revision: Revision,
});

export function leaseMethods({ store, guard, now }: MethodDeps): AnyMethod[] {
  /** The network `tenant/name` as the principal may see it: a hidden one is answered like a missing one. */
  async function networkMustExist(principal: Principal, ref: string) {
    const tenant = ref.slice(0, ref.indexOf('/'));
    mustSee(principal, tenant, `network ${ref}`);
    if (!(await store.get('network', ref))) throw notFound(`network ${ref}`);
  }

  return [
    defineMethod({
      name: 'lease.list',
      summary: 'Leases of one network, of one tenant, or all the token can see; optionally of one MAC or address.',
      description:
        'Every stored lease, whatever its state, in key order (network, then address). A tenant token sees only its tenant\'s leases; naming another tenant\'s network or tenant answers not found, as for one that does not exist. Offers are held in memory by the DHCP server and are not listed.',
      scope: 'tenant',
      params: z.strictObject({
        tenant: Name.optional().describe('only this tenant\'s leases'),
        network: NetworkRef.optional().describe('only this network\'s leases, as `tenant/network`'),
        mac: Mac.optional().describe('only leases of this MAC'),
        ip: Ipv4.optional().describe('only the lease of this address'),
      }),
      result: z.object({ leases: z.array(LeaseResult) }),
      errors: [ErrorCode.NotFound],
      handler: async (p, { principal }) => {
        let prefix: string | undefined;
        if (p.network !== undefined) {
          if (p.tenant !== undefined && !p.network.startsWith(`${p.tenant}/`)) {
            throw invalidParams([{ path: 'network', message: `is not a network of tenant ${p.tenant}` }]);
          }
          await networkMustExist(principal, p.network);
          prefix = `${p.network}/`;
        } else {
          const tenant = p.tenant ?? principal.tenant;
          if (tenant !== undefined) {
            mustSee(principal, tenant, `tenant ${tenant}`);
            if (!(await store.get('tenant', tenant))) throw notFound(`tenant ${tenant}`);
            prefix = `${tenant}/`;
          }
        }
        const all = await store.list('lease', prefix === undefined ? {} : { prefix });
        const leases = all.filter(
          (l) => visible(principal, l.value.tenant) && (p.mac === undefined || l.value.mac === p.mac) && (p.ip === undefined || l.value.ip === p.ip),
        );
        return { leases: leases.map(withRevision) };
      },
    }),
    defineMethod({
      name: 'lease.release',
      summary: 'Free a lease: its state becomes `released` and the address returns to the pool.',
      description:
        'As if the client had sent DHCPRELEASE: the lease keeps its MAC, so the client gets the same address back if it asks before someone else takes it (a renewal of a released lease that is still free is ACKed). Releasing a released lease changes nothing. Another tenant\'s lease is answered not found, exactly like a missing one.',
      scope: 'tenant',
      params: z.strictObject({
        network: NetworkRef.describe('the network, as `tenant/network`'),
        ip: Ipv4,
        ifRevision: Revision.optional().describe('refuse with a conflict unless the lease is still at this revision'),
      }),
      result: LeaseResult,
      errors: [ErrorCode.NotFound, ErrorCode.Conflict],
      handler: (p, { principal }) =>
        guard.run(async (fence) => {
          const key = `${p.network}/${p.ip}`;
          mustSee(principal, p.network.slice(0, p.network.indexOf('/')), `lease ${key}`);
          const l = await store.get('lease', key);
          if (!l) throw notFound(`lease ${key}`);
          if (p.ifRevision !== undefined && l.revision !== p.ifRevision) {
            throw conflict([{ path: 'ifRevision', message: `lease ${key} is at revision ${l.revision}, not ${p.ifRevision}` }]);
          }
          if (l.value.state === 'released') return withRevision(l);
          const released: Lease = { ...l.value, state: 'released', expiresAt: Math.min(l.value.expiresAt, now().getTime()) };
          // Conditional on what was read: a renewal the DHCP server stores meanwhile makes this a conflict, not a lost update.
          const { revision } = await store.commit([put('lease', key, released, l.revision)], { fence });
          return { ...released, revision };
        }),
    }),
  ];
}
