// Bearer tokens. A token reads `weft_<id>_<secret>`: the id finds the stored
// record, the secret (32 random bytes) is never stored, only the SHA-256 of
// the whole token, compared in constant time. The first start writes an
// admin token to DATA/admin.token (0600, written aside and renamed into
// place) and never logs it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Token } from '../model/index.js';
import { put, type Change, type Store } from '../store/store.js';
import type { Principal } from './registry.js';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN_PATTERN = /^weft_([a-z0-9]{16})_([0-9a-f]{64})$/;
export const ADMIN_TOKEN_FILE = 'admin.token';

export function newTokenId(): string {
  return [...randomBytes(16)].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A new token: the secret to hand out once, and the record to store. */
export function mintToken(options: { tenant?: string; name?: string; now?: Date }): { secret: string; token: Token } {
  const id = newTokenId();
  const secret = `weft_${id}_${randomBytes(32).toString('hex')}`;
  const token: Token = {
    id,
    hash: hashToken(secret),
    createdAt: (options.now ?? new Date()).toISOString(),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
  };
  return { secret, token };
}

/** The token from an `Authorization: Bearer ...` header value. */
export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * Verifies tokens against an in-memory copy of the stored token records,
 * kept current through the store's change feed so a revoked token stops
 * working on the next call.
 */
export class TokenAuth {
  private readonly tokens = new Map<string, Token>();
  private readonly revokeListeners = new Set<(id: string) => void>();
  private unwatch: (() => void) | undefined;

  constructor(private readonly store: Store) {}

  async start(): Promise<void> {
    this.unwatch = this.store.watch((changes) => this.apply(changes));
    for (const t of await this.store.list('token')) this.tokens.set(t.key, t.value);
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Called with a token id when it is revoked, so live connections using it can be closed. */
  onRevoke(listener: (id: string) => void): () => void {
    this.revokeListeners.add(listener);
    return () => this.revokeListeners.delete(listener);
  }

  private apply(changes: Change[]): void {
    for (const c of changes) {
      if (c.kind !== 'token') continue;
      if (c.op === 'put') this.tokens.set(c.key, c.value as Token);
      else {
        this.tokens.delete(c.key);
        for (const l of this.revokeListeners) l(c.key);
      }
    }
  }

  /** The principal of a presented token, or undefined when it is not a live token. */
  verify(presented: string | undefined): Principal | undefined {
    if (presented === undefined) return undefined;
    const m = TOKEN_PATTERN.exec(presented);
    if (!m) return undefined;
    const token = this.tokens.get(m[1]!);
    if (!token) return undefined;
    const expected = Buffer.from(token.hash, 'hex');
    const actual = createHash('sha256').update(presented).digest();
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
    return token.tenant === undefined ? { tokenId: token.id } : { tokenId: token.id, tenant: token.tenant };
  }

  hasAdminToken(): boolean {
    for (const t of this.tokens.values()) if (t.tenant === undefined) return true;
    return false;
  }
}

/**
 * Makes sure an operator can get in: when the store holds no admin token,
 * mints one and writes it to DATA/admin.token with mode 0600. Returns the
 * file's path when it wrote one.
 */
export async function ensureAdminToken(store: Store, dataDir: string): Promise<string | undefined> {
  const tokens = await store.list('token');
  if (tokens.some((t) => t.value.tenant === undefined)) return undefined;
  const { secret, token } = mintToken({ name: 'admin (first start)' });
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(`${secret}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temp, 0o600);
    await store.commit([put('token', token.id, token, null)]);
    await rename(temp, file);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  return file;
}

