// weft token create|list|revoke
import type { Command } from 'commander';
import { call, clientCommand, table } from './client.js';

interface TokenInfo {
  id: string;
  name?: string;
  tenant?: string;
  createdAt: string;
}

function pick(o: { tenant?: string; name?: string }): object {
  return { ...(o.tenant !== undefined ? { tenant: o.tenant } : {}), ...(o.name !== undefined ? { name: o.name } : {}) };
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('API tokens: create, list and revoke');
  clientCommand(token, 'create', 'create a token; the secret is printed once')
    .option('--tenant <name>', 'scope the token to one tenant (default: an admin token)')
    .option('--name <text>', 'what the token is for')
    .action((o: { tenant?: string; name?: string }, cmd: Command) =>
      call<TokenInfo & { secret: string }>(cmd, 'token.create', pick(o), (t) => `${t.secret}\n`),
    );
  clientCommand(token, 'list', 'list tokens (never their secrets)')
    .option('--tenant <name>', "only this tenant's tokens")
    .action((o: { tenant?: string }, cmd: Command) =>
      call<{ tokens: TokenInfo[] }>(cmd, 'token.list', o.tenant !== undefined ? { tenant: o.tenant } : {}, ({ tokens }) =>
        table(['ID', 'SCOPE', 'NAME', 'CREATED'], tokens.map((t) => [t.id, t.tenant ?? 'admin', t.name, t.createdAt])),
      ),
    );
  clientCommand(token, 'revoke', 'revoke a token at once')
    .argument('<id>')
    .action((id: string, _o: unknown, cmd: Command) => call<{ deleted: string[] }>(cmd, 'token.revoke', { id }, () => `revoked token ${id}`));
}
