// weft reservation add|remove|list
import type { Command } from 'commander';
import { call, clientCommand, networkRef, table, usage } from './client.js';

interface Reservation {
  tenant: string;
  network: string;
  mac: string;
  ip: string;
  hostname?: string;
}

export function registerReservation(program: Command): void {
  const reservation = program.command('reservation').description('fixed addresses: add, remove and list reservations');
  clientCommand(reservation, 'add', 'reserve IP for MAC on a network')
    .argument('<tenant/network>')
    .argument('<mac>')
    .argument('<ip>')
    .option('--hostname <name>', 'host name handed out with the address')
    .action((ref: string, mac: string, ip: string, o: { hostname?: string }, cmd: Command) => {
      const { tenant, name } = networkRef(cmd, ref);
      const params = { tenant, network: name, mac, ip, ...(o.hostname !== undefined ? { hostname: o.hostname } : {}) };
      return call<Reservation>(cmd, 'reservation.create', params, (r) => `reserved ${r.ip} for ${r.mac} on ${r.tenant}/${r.network}`);
    });
  clientCommand(reservation, 'remove', "remove a MAC's reservation")
    .argument('<tenant/network>')
    .argument('<mac>')
    .action((ref: string, mac: string, _o: unknown, cmd: Command) => {
      const { tenant, name } = networkRef(cmd, ref);
      return call<{ deleted: string[] }>(cmd, 'reservation.delete', { tenant, network: name, mac }, ({ deleted }) => deleted.map((d) => `deleted ${d}`).join('\n'));
    });
  clientCommand(reservation, 'list', 'list reservations (all, of a tenant, or of TENANT/NETWORK)')
    .argument('[tenant-or-network]')
    .action((scope: string | undefined, _o: unknown, cmd: Command) => {
      let params: object = {};
      if (scope !== undefined) {
        const parts = scope.split('/');
        if (parts.length > 2 || parts.some((p) => p === '')) usage(cmd, `expected TENANT or TENANT/NETWORK, got ${JSON.stringify(scope)}`);
        params = parts.length === 2 ? { tenant: parts[0], network: parts[1] } : { tenant: parts[0] };
      }
      return call<{ reservations: Reservation[] }>(cmd, 'reservation.list', params, ({ reservations }) =>
        table(['NETWORK', 'MAC', 'IP', 'HOSTNAME'], reservations.map((r) => [`${r.tenant}/${r.network}`, r.mac, r.ip, r.hostname])),
      );
    });
}
