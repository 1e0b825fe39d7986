// The one interface every store backend implements (embedded SQLite today, an
// OVSDB Raft cluster for high availability). Everything durable in weft goes
// through it: the admin API, the planes, the DHCP leases and the election's
// fencing terms. Backends must pass test/unit/store/conformance.ts.
import type { KindMap, Kind } from '../model/index.js';

export type { Kind, KindMap };

/** A stored object with the store revision that last wrote it. */
export interface Versioned<K extends Kind = Kind> {
  kind: K;
  key: string;
  value: KindMap[K];
  /** Global store revision of the transaction that last wrote this object. */
  revision: number;
}

/**
 * One write inside a transaction. `ifRevision` makes the write conditional
 * (compare-and-set): a number means "the object is still at this revision",
 * `null` means "the object does not exist". A failed condition fails the
 * whole transaction with a ConflictError and changes nothing. Deleting an
 * absent object without a condition is not an error and not a change.
 */
export type Op =
  | { op: 'put'; kind: Kind; key: string; value: KindMap[Kind]; ifRevision?: number | null }
  | { op: 'delete'; kind: Kind; key: string; ifRevision?: number };

/** Typed constructors, so callers get the value type of the kind checked. */
export function put<K extends Kind>(kind: K, key: string, value: KindMap[K], ifRevision?: number | null): Op {
  return ifRevision === undefined ? { op: 'put', kind, key, value } : { op: 'put', kind, key, value, ifRevision };
}
export function del(kind: Kind, key: string, ifRevision?: number): Op {
  return ifRevision === undefined ? { op: 'delete', kind, key } : { op: 'delete', kind, key, ifRevision };
}

/**
 * A fencing token. A transaction carrying a fence commits only while the
 * stored term of `scope` (for example `network:acme/web`) still equals `term`;
 * a deposed leader's write therefore fails with FencedError.
 */
export interface Fence {
  scope: string;
  term: number;
}

export interface CommitOptions {
  fence?: Fence;
}

export interface Change<K extends Kind = Kind> {
  revision: number;
  kind: K;
  key: string;
  op: 'put' | 'delete';
  /** The new value for a put, the last value for a delete. */
  value: KindMap[K];
  /** The value before this change, when there was one. */
  previous?: KindMap[K];
}

export interface CommitResult {
  revision: number;
  changes: Change[];
}

export interface IntegrityReport {
  ok: boolean;
  problems: string[];
}

export interface Store {
  /** `sqlite`, `ovsdb-cluster`, ... for status and logs. */
  readonly backend: string;

  get<K extends Kind>(kind: K, key: string): Promise<Versioned<K> | undefined>;
  /**
   * Objects of a kind in key order (Unicode code point order, which is also
   * UTF-8 byte order), optionally only keys starting with `prefix`.
   */
  list<K extends Kind>(kind: K, options?: { prefix?: string }): Promise<Versioned<K>[]>;
  count(kind: Kind): Promise<number>;

  /**
   * Applies the ops atomically: all of them or none. Resolves only once the
   * transaction is durable (group-committed with concurrent transactions, so
   * many small commits share one fsync). Rejects with ConflictError,
   * FencedError or StoreClosedError and then has changed nothing.
   *
   * Ops apply in order, so a condition sees the effect of earlier ops of the
   * same transaction. A transaction that writes gets exactly one new
   * revision; an empty one (a fence check) gets none and resolves with the
   * current revision. Transactions commit in the order `commit` was called.
   * Values are stored as JSON and not validated (callers validate with the
   * model's zod schemas); the change feed hands the caller's objects to
   * listeners, so do not mutate a value after committing it.
   */
  commit(ops: Op[], options?: CommitOptions): Promise<CommitResult>;

  /** Current fencing term of a scope (0 when never claimed). */
  term(scope: string): Promise<number>;
  /**
   * Takes the next term of a scope: succeeds with `seen + 1` only when the
   * stored term is still `seen`, otherwise rejects with FencedError carrying
   * the current term.
   */
  claimTerm(scope: string, seen: number): Promise<number>;

  /** Latest committed revision. */
  revision(): Promise<number>;
  /**
   * The change feed: the listener gets every durable transaction's changes, in
   * revision order, after commit. Returns an unsubscribe function.
   */
  watch(listener: (changes: Change[]) => void): () => void;
  /**
   * Changes after `revision`, for consumers that resume. History is bounded
   * (each backend documents how much it keeps): a revision older than the
   * retained history rejects with CompactedError, and the consumer re-lists.
   */
  changesSince(revision: number): Promise<Change[]>;

  /** Structural checks: the storage engine's own and weft's invariants. */
  check(): Promise<IntegrityReport>;
  /** Flushes pending commits and closes. Later calls reject with StoreClosedError. */
  close(): Promise<void>;
}

export class StoreError extends Error {
  override name = 'StoreError';
}

/** An `ifRevision` condition did not hold. */
export class ConflictError extends StoreError {
  override name = 'ConflictError';
  constructor(
    readonly kind: Kind,
    readonly key: string,
    readonly expected: number | null,
    readonly actual: number | null,
  ) {
    super(`${kind} ${key} is at revision ${actual ?? 'none'}, expected ${expected ?? 'none'}`);
  }
}

/** A fence or a term claim met a different term: the writer has been deposed. */
export class FencedError extends StoreError {
  override name = 'FencedError';
  constructor(
    readonly scope: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`term of ${scope} is ${actual}, writer holds ${expected}`);
  }
}

/** `changesSince` was asked for history the store no longer keeps. */
export class CompactedError extends StoreError {
  override name = 'CompactedError';
  constructor(
    readonly requested: number,
    /** The oldest revision `changesSince` still accepts. */
    readonly oldest: number,
  ) {
    super(`changes after revision ${requested} are compacted; the oldest resumable revision is ${oldest}`);
  }
}

export class StoreClosedError extends StoreError {
  override name = 'StoreClosedError';
  constructor() {
    super('store is closed');
  }
}

/** The data directory holds a store written by a newer weft. */
export class StoreVersionError extends StoreError {
  override name = 'StoreVersionError';
}
