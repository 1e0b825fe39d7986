// token.*: API credentials. An admin token may do anything; a tenant token
// only sees and changes its own tenant, and may manage its tenant's tokens.
// The secret is returned once by token.create; only its hash is stored.
import { z } from 'zod';
import { Name, Token } from '../../model/index.js';
import { del, put } from '../../store/store.js';
import { isAdmin, mustSee, visible } from '../access.js';
import { mintToken } from '../auth.js';
import type { MethodDeps } from '../deps.js';
import { ErrorCode, conflict, notFound } from '../errors.js';
import { defineMethod, type AnyMethod } from '../registry.js';

/** What the API shows of a token: never its hash. */
export const TokenInfo = Token.omit({ hash: true });

export function tokenMethods({ store, guard, now }: MethodDeps): AnyMethod[] {
  return [
    defineMethod({
      name: 'token.create',
      summary: 'Create a token; the secret is in the answer and nowhere else.',
      description:
        'Without `tenant`, an admin token (admin tokens only). With `tenant`, a token that sees only that tenant. A tenant token may create tokens for its own tenant only; `tenant` then defaults to it.',
      scope: 'tenant',
      params: z.strictObject({ tenant: Name.optional(), name: z.string().min(1).max(128).optional() }),
      result: TokenInfo.extend({ secret: z.string().describe('the bearer token; shown once') }),
      errors: [ErrorCode.NotFound],
      handler: (p, { principal }) =>
        guard.run(async (fence) => {
          const tenant = p.tenant ?? principal.tenant;
          if (tenant !== undefined) {
            mustSee(principal, tenant, `tenant ${tenant}`);
            if (!(await store.get('tenant', tenant))) throw notFound(`tenant ${tenant}`);
          }
          const { secret, token } = mintToken({ now: now(), ...(tenant !== undefined ? { tenant } : {}), ...(p.name !== undefined ? { name: p.name } : {}) });
          await store.commit([put('token', token.id, token, null)], { fence });
          const { hash: _hash, ...info } = token;
          return { ...info, secret };
        }),
    }),
    defineMethod({
      name: 'token.list',
      summary: 'Tokens the caller can see (never their secrets or hashes).',
      description: 'An admin token sees every token, a tenant token those of its tenant.',
      scope: 'tenant',
      params: z.strictObject({ tenant: Name.optional() }),
      result: z.object({ tokens: z.array(TokenInfo) }),
      handler: async (p, { principal }) => {
        const tokens = (await store.list('token'))
          .map((t) => t.value)
          .filter((t) => (isAdmin(principal) ? p.tenant === undefined || t.tenant === p.tenant : t.tenant === principal.tenant && (p.tenant === undefined || p.tenant === t.tenant)))
          .map(({ hash: _hash, ...info }) => info);
        return { tokens };
      },
    }),
    defineMethod({
      name: 'token.revoke',
      summary: 'Revoke a token at once; connections using it are closed.',
      description: 'The last admin token cannot be revoked (conflict naming `id`): create another first.',
      scope: 'tenant',
      params: z.strictObject({ id: Token.shape.id }),
      result: z.object({ deleted: z.array(z.string()) }),
      errors: [ErrorCode.NotFound, ErrorCode.Conflict],
      handler: (p, { principal }) =>
        guard.run(async (fence) => {
          const t = await store.get('token', p.id);
          if (!t || !visible(principal, t.value.tenant) || (!isAdmin(principal) && t.value.tenant === undefined)) {
            throw notFound(`token ${p.id}`);
          }
          if (t.value.tenant === undefined) {
            const admins = (await store.list('token')).filter((o) => o.value.tenant === undefined);
            if (admins.length <= 1) throw conflict([{ path: 'id', message: 'the last admin token cannot be revoked; create another first' }]);
          }
          await store.commit([del('token', p.id, t.revision)], { fence });
          return { deleted: [`token ${p.id}`] };
        }),
    }),
  ];
}
