// weft leases [TENANT[/NETWORK]], weft lease release TENANT/NETWORK IP
import type { Command } from 'commander';
import type { z } from 'zod';
import type { LeaseResult } from '../../api/methods/lease.js';
import { call, clientCommand, networkRef, table, usage } from './client.js';

/** The fields of lease.list's result that the table shows. */
export type LeaseRow = Pick<z.infer<typeof LeaseResult>, 'tenant' | 'network' | 'ip' | 'mac' | 'hostname' | 'state' | 'expiresAt'>;

/** When a lease lapses, in UTC to the second; a lease already past it says so. */
function expires(l: LeaseRow, now: number): string {
  const at = new Date(l.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return l.state === 'bound' && l.expiresAt <= now ? `${at} (lapsed)` : at;
}

export function leaseTable(leases: LeaseRow[], now = Date.now()): string {
  return table(
    ['NETWORK', 'IP', 'MAC', 'HOSTNAME', 'STATE', 'EXPIRES'],
    leases.map((l) => [`${l.tenant}/${l.network}`, l.ip, l.mac, l.hostname, l.state, expires(l, now)]),
  );
}

export function registerLease(program: Command): void {
  clientCommand(program, 'leases', 'DHCP leases: all, of a tenant, or of TENANT/NETWORK')
    .argument('[tenant-or-network]')
    .option('--mac <mac>', 'only leases of this MAC')
    .option('--ip <ip>', 'only the lease of this address')
    .action((scope: string | undefined, o: { mac?: string; ip?: string }, cmd: Command) => {
      const params: Record<string, string> = {};
      if (scope !== undefined) {
        const parts = scope.split('/');
        if (parts.length > 2 || parts.some((p) => p === '')) usage(cmd, `expected TENANT or TENANT/NETWORK, got ${JSON.stringify(scope)}`);
        if (parts.length === 2) params.network = scope;
        else params.tenant = scope;
      }
      if (o.mac !== undefined) params.mac = o.mac;
      if (o.ip !== undefined) params.ip = o.ip;
      return call<{ leases: LeaseRow[] }>(cmd, 'lease.list', params, ({ leases }) => leaseTable(leases));
    });
  const lease = program.command('lease').description('one DHCP lease: release');
  clientCommand(lease, 'release', 'free the lease of IP on a network; the address returns to the pool')
    .argument('<tenant/network>')
    .argument('<ip>')
    .action((ref: string, ip: string, _o: unknown, cmd: Command) => {
      networkRef(cmd, ref);
      return call<LeaseRow>(cmd, 'lease.release', { network: ref, ip }, (l) => `released ${l.ip} (${l.mac}) on ${l.tenant}/${l.network}`);
    });
}
