// reservation.*: a fixed address for one MAC on one network, handed out by
// the network's DHCP server.
import { z } from 'zod';
import { Hostname, Ipv4, Mac, Name, checkReservation, type Reservation } from '../../model/index.js';
import { del, put } from '../../store/store.js';
import { mustSee } from '../access.js';
import { withRevision, type MethodDeps } from '../deps.js';
import { ErrorCode, conflict, fromModelIssues, notFound } from '../errors.js';
import { defineMethod, type AnyMethod, type Principal } from '../registry.js';
import { ReservationResult } from '../schemas.js';

const NetworkOf = { tenant: Name, network: Name.describe('network name within the tenant') };

export function reservationMethods({ store, guard }: MethodDeps): AnyMethod[] {
  async function networkMustExist(principal: Principal, tenant: string, network: string) {
    const key = `${tenant}/${network}`;
    mustSee(principal, tenant, `network ${key}`);
    const n = await store.get('network', key);
    if (!n) throw notFound(`network ${key}`);
    return n;
  }

  return [
    defineMethod({
      name: 'reservation.create',
      summary: 'Reserve an address of a network for a MAC.',
      description:
        'The address must be inside one of the network\'s subnets and not its gateway. Refused with a conflict naming `mac` when the MAC already has a reservation on the network, `ip` when the address is reserved for another MAC.',
      scope: 'tenant',
      params: z.strictObject({ ...NetworkOf, mac: Mac, ip: Ipv4, hostname: Hostname.optional() }),
      result: ReservationResult,
      errors: [ErrorCode.NotFound, ErrorCode.Conflict],
      handler: (p, { principal }) =>
        guard.run(async (fence) => {
          const network = await networkMustExist(principal, p.tenant, p.network);
          const key = `${p.tenant}/${p.network}/${p.mac}`;
          if (await store.get('reservation', key)) {
            throw conflict([{ path: 'mac', message: `${p.mac} already has a reservation on network ${network.key}` }]);
          }
          const reservation: Reservation = p;
          const others = (await store.list('reservation', { prefix: `${network.key}/` })).map((r) => r.value);
          const issues = checkReservation(reservation, network.value, others);
          if (issues.length > 0) throw fromModelIssues(issues);
          const { revision } = await store.commit([put('reservation', key, reservation, null)], { fence });
          return { ...reservation, revision };
        }),
    }),
    defineMethod({
      name: 'reservation.delete',
      summary: "Remove a MAC's reservation from a network.",
      scope: 'tenant',
      params: z.strictObject({ ...NetworkOf, mac: Mac }),
      result: z.object({ deleted: z.array(z.string()) }),
      errors: [ErrorCode.NotFound],
      handler: (p, { principal }) =>
        guard.run(async (fence) => {
          const key = `${p.tenant}/${p.network}/${p.mac}`;
          mustSee(principal, p.tenant, `reservation ${key}`);
          const r = await store.get('reservation', key);
          if (!r) throw notFound(`reservation ${key}`);
          await store.commit([del('reservation', key, r.revision)], { fence });
          return { deleted: [`reservation ${key}`] };
        }),
    }),
    defineMethod({
      name: 'reservation.list',
      summary: "Reservations of one network, of one tenant, or all the token can see.",
      scope: 'tenant',
      params: z.strictObject({ tenant: Name.optional(), network: Name.optional() }).refine((p) => p.network === undefined || p.tenant !== undefined, {
        message: 'network needs tenant',
        path: ['network'],
      }),
      result: z.object({ reservations: z.array(ReservationResult) }),
      errors: [ErrorCode.NotFound],
      handler: async (p, { principal }) => {
        const tenant = p.tenant ?? principal.tenant;
        if (tenant === undefined) return { reservations: (await store.list('reservation')).map(withRevision) };
        if (p.network !== undefined) {
          const n = await networkMustExist(principal, tenant, p.network);
          return { reservations: (await store.list('reservation', { prefix: `${n.key}/` })).map(withRevision) };
        }
        mustSee(principal, tenant, `tenant ${tenant}`);
        if (!(await store.get('tenant', tenant))) throw notFound(`tenant ${tenant}`);
        return { reservations: (await store.list('reservation', { prefix: `${tenant}/` })).map(withRevision) };
      },
    }),
  ];
}
