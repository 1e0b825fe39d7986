// Serialises the API's writes so that checks over many objects (one VLAN per
// network across all tenants, no overlapping CIDRs within a tenant) stay true
// under concurrent calls. In this process a mutex orders writers; across
// replicas sharing a store, each write first claims the next term of the
// `admin-api` fence and commits under it, so a commit succeeds only if no
// other writer claimed the fence after this one did and before it read.
// Every op also carries `ifRevision` for the objects it read.
import { ConflictError, FencedError, StoreClosedError, type Fence, type Store } from '../store/store.js';
import { ApiError, ErrorCode, conflict } from './errors.js';

export const FENCE_SCOPE = 'admin-api';
const ATTEMPTS = 5;

export class WriteGuard {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: Store) {}

  /** Runs `write` alone; it must read what it checks and commit with the fence it is given. */
  run<T>(write: (fence: Fence) => Promise<T>): Promise<T> {
    const result = this.tail.then(() => this.attempt(write));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async attempt<T>(write: (fence: Fence) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const term = await this.store.claimTerm(FENCE_SCOPE, await this.store.term(FENCE_SCOPE));
        return await write({ scope: FENCE_SCOPE, term });
      } catch (e) {
        if (e instanceof FencedError && attempt < ATTEMPTS) continue;
        throw translate(e);
      }
    }
  }
}

/** Store failures as API errors; anything else is left for the server to log as a bug. */
export function translate(e: unknown): unknown {
  if (e instanceof ApiError) return e;
  if (e instanceof ConflictError || e instanceof FencedError) {
    return conflict([{ path: '', message: 'changed concurrently by another call; read it again and retry' }]);
  }
  if (e instanceof StoreClosedError) return new ApiError(ErrorCode.Unavailable, 'the store is closed');
  return e;
}
