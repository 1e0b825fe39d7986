// weft tenant create|list|show|delete
import type { Command } from 'commander';
import { call, clientCommand, table } from './client.js';

interface Tenant {
  name: string;
  description?: string;
  revision: number;
}

export function registerTenant(program: Command): void {
  const tenant = program.command('tenant').description('create, list, show and delete tenants');
  clientCommand(tenant, 'create', 'create a tenant')
    .argument('<name>')
    .option('--description <text>', 'free text')
    .action((name: string, opts: { description?: string }, cmd: Command) =>
      call<Tenant>(cmd, 'tenant.create', { name, ...(opts.description !== undefined ? { description: opts.description } : {}) }, (t) => `created tenant ${t.name}`),
    );
  clientCommand(tenant, 'list', 'list tenants').action((_opts: unknown, cmd: Command) =>
    call<{ tenants: Tenant[] }>(cmd, 'tenant.list', {}, ({ tenants }) => table(['TENANT', 'DESCRIPTION'], tenants.map((t) => [t.name, t.description]))),
  );
  clientCommand(tenant, 'show', 'show a tenant')
    .argument('<name>')
    .action((name: string, _opts: unknown, cmd: Command) =>
      call<Tenant>(cmd, 'tenant.get', { name }, (t) => table(['TENANT', 'DESCRIPTION', 'REVISION'], [[t.name, t.description, t.revision]])),
    );
  clientCommand(tenant, 'delete', 'delete a tenant (with --force, also its networks)')
    .argument('<name>')
    .option('--force', 'also delete its networks, reservations and leases')
    .action((name: string, opts: { force?: boolean }, cmd: Command) =>
      call<{ deleted: string[] }>(cmd, 'tenant.delete', { name, force: opts.force === true }, ({ deleted }) => deleted.map((d) => `deleted ${d}`).join('\n')),
    );
}
