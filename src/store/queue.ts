// What both backends queue for group commit: a commit or a term claim, with
// the promise it settles. Each backend decides when a group is flushed (one
// SQLite transaction, one Raft round trip); how a write joins the queue is
// the same for both.
import { StoreClosedError, type CommitOptions, type CommitResult, type Fence, type Op } from './store.js';

export type Pending =
  | { type: 'commit'; ops: Op[]; fence: Fence | undefined; resolve: (r: CommitResult) => void; reject: (e: unknown) => void }
  | { type: 'claim'; scope: string; seen: number; resolve: (term: number) => void; reject: (e: unknown) => void };

/** A closed store refuses the write at once; it is never queued. */
export function queueCommit(closed: boolean, enqueue: (p: Pending) => void, ops: Op[], options: CommitOptions): Promise<CommitResult> {
  return new Promise((resolve, reject) => {
    if (closed) return reject(new StoreClosedError());
    enqueue({ type: 'commit', ops, fence: options.fence, resolve, reject });
  });
}

export function queueClaim(closed: boolean, enqueue: (p: Pending) => void, scope: string, seen: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (closed) return reject(new StoreClosedError());
    enqueue({ type: 'claim', scope, seen, resolve, reject });
  });
}
