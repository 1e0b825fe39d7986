// The embedded store: one SQLite file (better-sqlite3) in WAL mode with
// synchronous=FULL, so a resolved commit has been fsync'd and survives kill -9
// and power loss.
//
// Durability costs one fsync per SQLite transaction, which caps one-at-a-time
// writes at the disk's fsync rate (a few hundred to a few thousand per
// second). The DHCP plane needs 10,000 durable lease writes per second, so
// commits are grouped: `commit()` only queues; a flush on the next turn of the
// event loop applies every queued transaction (up to `maxBatch`, the rest on
// the turn after) inside ONE SQLite transaction, each in its own SAVEPOINT so that
// a failed condition rolls back that transaction alone, then COMMITs once (one
// fsync for the group) and only then settles the promises and feeds the
// watchers, in revision order.
//
// better-sqlite3 is synchronous, so the flush (and its fsync) runs on the main
// thread. That is deliberate for now: while the fsync blocks, new requests
// wait in socket buffers and join the next, larger group, so throughput rises
// with load; the cost is event-loop latency of one fsync per group (see the
// `store` benchmark, which reports it).
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { Kind, KindMap } from '../model/index.js';
import {
  CompactedError,
  ConflictError,
  FencedError,
  StoreClosedError,
  StoreError,
  StoreVersionError,
  type Change,
  type CommitOptions,
  type CommitResult,
  type IntegrityReport,
  type Op,
  type Store,
  type Versioned,
} from './store.js';
import { queueClaim, queueCommit, type Pending } from './queue.js';

/**
 * Schema migrations: step i takes the database from version i to i + 1, so the
 * schema version is the number of steps. Append only; never edit a released
 * step. Each step runs in the same transaction as the version bump, so a
 * failed step leaves the file at its previous version.
 */
export const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) STRICT, WITHOUT ROWID`,
    // Every object of every kind: the value is the caller's JSON, the revision
    // the store revision of the transaction that last wrote it.
    `CREATE TABLE objects (
       kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, revision INTEGER NOT NULL,
       PRIMARY KEY (kind, key)) STRICT, WITHOUT ROWID`,
    `CREATE TABLE terms (scope TEXT PRIMARY KEY, term INTEGER NOT NULL) STRICT, WITHOUT ROWID`,
    // The bounded change log behind changesSince: `seq` orders the changes of
    // one revision.
    `CREATE TABLE changes (
       revision INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
       op TEXT NOT NULL, value TEXT NOT NULL, previous TEXT,
       PRIMARY KEY (revision, seq)) STRICT, WITHOUT ROWID`,
    `INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0)`,
  ],
];

/** The schema version this weft writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export interface SqliteStoreOptions {
  /**
   * How many revisions of history `changesSince` keeps at least (default
   * 10,000). The log is pruned in steps, so it holds between this and 10%
   * more; older requests reject with CompactedError.
   */
  historyRevisions?: number;
  /**
   * At most this many transactions per group (default 1,000): bounds how long
   * one flush holds the event loop.
   */
  maxBatch?: number;
  /** Called when a watch listener throws; by default the error is rethrown asynchronously. */
  onListenerError?: (error: unknown) => void;
  /** The migration steps to apply; for tests of the upgrade path. Default MIGRATIONS. */
  migrations?: readonly (readonly string[])[];
}

/** The schema version recorded in an existing file, 0 for a new or empty one. Writes nothing. */
function storedVersion(file: string): number {
  if (file === ':memory:' || !existsSync(file)) return 0;
  // No busy wait: a file locked by a running weft is reported at once.
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
  try {
    return versionIn(db);
  } finally {
    db.close();
  }
}

/** The smallest string greater than every string that starts with `prefix`, or undefined when there is none. */
function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    let next = last + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
    if (next <= 0x10ffff) return points.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

/**
 * Opens (creating or migrating as needed) the store in `file`. Rejects with
 * StoreVersionError when a newer weft wrote it, and with a StoreError naming
 * the file for anything else that stops it opening (missing directory, no
 * permission, not a database), so the daemon can print one line and exit.
 */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<Store> {
  try {
    return openOrThrow(file, options);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError(`cannot open the store ${file}: ${(e as Error).message}`, { cause: e });
  }
}

function openOrThrow(file: string, options: SqliteStoreOptions): Store {
  const migrations = options.migrations ?? MIGRATIONS;
  const target = migrations.length;
  let found: number;
  try {
    found = storedVersion(file);
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_BUSY') throw inUse(file);
    throw e;
  }
  if (found > target) {
    throw new StoreVersionError(
      `${file} holds store schema version ${found}, written by a newer weft; this weft reads up to version ${target}`,
    );
  }
  const db = new Database(file, { timeout: 0 });
  try {
    // One process owns the store: the first write takes an exclusive lock that
    // lasts as long as the connection, so a second daemon pointed at the same
    // data directory fails to start instead of answering DHCP beside the
    // first. The OS drops the lock when the owner dies, even by SIGKILL.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // Another process holding the write lock (an operator's sqlite3 shell)
    // delays a flush instead of failing it.
    db.transaction(() => {
      const current = versionIn(db);
      if (current > target) throw new StoreVersionError(`${file}: schema version ${current} is newer than ${target}`);
      for (let v = current; v < target; v++) for (const sql of migrations[v]!) db.exec(sql);
      if (current < target) {
        db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(target);
      }
    }).immediate();
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') throw inUse(file);
    throw e;
  }
  return new SqliteStore(db, options);
}

function inUse(file: string): StoreError {
  return new StoreError(`${file} is in use by another process (is another weft running on this data directory?)`);
}

function versionIn(db: Database.Database): number {
  const hasMeta = db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'`).get();
  if (!hasMeta) return 0;
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: number } | undefined;
  return row ? Number(row.value) : 0;
}

interface Row {
  value: string;
  revision: number;
}

class SqliteStore implements Store {
  readonly backend = 'sqlite';

  private queue: Pending[] = [];
  private scheduled: ReturnType<typeof setImmediate> | undefined;
  private closed = false;
  private readonly listeners = new Set<(changes: Change[]) => void>();
  private readonly history: number;
  private readonly maxBatch: number;
  private readonly onListenerError: (error: unknown) => void;

  private readonly sGet: Database.Statement<[string, string], Row>;
  private readonly sList: Database.Statement<[string], Row & { key: string }>;
  private readonly sListRange: Database.Statement<[string, string, string], Row & { key: string }>;
  private readonly sListFrom: Database.Statement<[string, string], Row & { key: string }>;
  private readonly sCount: Database.Statement<[string], { n: number }>;
  private readonly sUpsert: Database.Statement<[string, string, string, number]>;
  private readonly sDelete: Database.Statement<[string, string]>;
  private readonly sLog: Database.Statement<[number, number, string, string, string, string, string | null]>;
  private readonly sTerm: Database.Statement<[string], { term: number }>;
  private readonly sSetTerm: Database.Statement<[string, number]>;
  private readonly sMeta: Database.Statement<[string], { value: number }>;
  private readonly sSetMeta: Database.Statement<[number, string]>;
  private readonly sPrune: Database.Statement<[number]>;
  // Prepared rather than exec'd: three of them run per transaction.
  private readonly sSavepoint: Database.Statement<[]>;
  private readonly sRelease: Database.Statement<[]>;
  private readonly sRollbackTo: Database.Statement<[]>;
  private readonly sSince: Database.Statement<
    [number],
    { revision: number; kind: Kind; key: string; op: 'put' | 'delete'; value: string; previous: string | null }
  >;

  constructor(
    private readonly db: Database.Database,
    options: SqliteStoreOptions,
  ) {
    this.history = options.historyRevisions ?? 10_000;
    this.maxBatch = options.maxBatch ?? 1_000;
    this.onListenerError =
      options.onListenerError ??
      ((e) =>
        setImmediate(() => {
          throw e;
        }));
    this.sGet = db.prepare(`SELECT value, revision FROM objects WHERE kind = ? AND key = ?`);
    this.sList = db.prepare(`SELECT key, value, revision FROM objects WHERE kind = ? ORDER BY key`);
    this.sListRange = db.prepare(
      `SELECT key, value, revision FROM objects WHERE kind = ? AND key >= ? AND key < ? ORDER BY key`,
    );
    this.sListFrom = db.prepare(`SELECT key, value, revision FROM objects WHERE kind = ? AND key >= ? ORDER BY key`);
    this.sCount = db.prepare(`SELECT count(*) AS n FROM objects WHERE kind = ?`);
    this.sUpsert = db.prepare(`INSERT INTO objects (kind, key, value, revision) VALUES (?, ?, ?, ?)
      ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, revision = excluded.revision`);
    this.sDelete = db.prepare(`DELETE FROM objects WHERE kind = ? AND key = ?`);
    this.sLog = db.prepare(
      `INSERT INTO changes (revision, seq, kind, key, op, value, previous) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.sTerm = db.prepare(`SELECT term FROM terms WHERE scope = ?`);
    this.sSetTerm = db.prepare(`INSERT INTO terms (scope, term) VALUES (?, ?)
      ON CONFLICT (scope) DO UPDATE SET term = excluded.term`);
    this.sMeta = db.prepare(`SELECT value FROM meta WHERE key = ?`);
    this.sSetMeta = db.prepare(`UPDATE meta SET value = ? WHERE key = ?`);
    this.sPrune = db.prepare(`DELETE FROM changes WHERE revision <= ?`);
    this.sSavepoint = db.prepare(`SAVEPOINT tx`);
    this.sRelease = db.prepare(`RELEASE tx`);
    this.sRollbackTo = db.prepare(`ROLLBACK TO tx`);
    this.sSince = db.prepare(
      `SELECT revision, kind, key, op, value, previous FROM changes WHERE revision > ? ORDER BY revision, seq`,
    );
  }

  async get<K extends Kind>(kind: K, key: string): Promise<Versioned<K> | undefined> {
    this.open();
    const row = this.sGet.get(kind, key);
    return row && { kind, key, value: JSON.parse(row.value) as KindMap[K], revision: row.revision };
  }

  async list<K extends Kind>(kind: K, options: { prefix?: string } = {}): Promise<Versioned<K>[]> {
    this.open();
    const prefix = options.prefix ?? '';
    const end = prefix === '' ? undefined : prefixEnd(prefix);
    const rows =
      prefix === ''
        ? this.sList.all(kind)
        : end === undefined
          ? this.sListFrom.all(kind, prefix)
          : this.sListRange.all(kind, prefix, end);
    return rows.map((r) => ({ kind, key: r.key, value: JSON.parse(r.value) as KindMap[K], revision: r.revision }));
  }

  async count(kind: Kind): Promise<number> {
    this.open();
    return this.sCount.get(kind)!.n;
  }

  async term(scope: string): Promise<number> {
    this.open();
    return this.sTerm.get(scope)?.term ?? 0;
  }

  async revision(): Promise<number> {
    this.open();
    return this.sMeta.get('revision')!.value;
  }

  commit(ops: Op[], options: CommitOptions = {}): Promise<CommitResult> {
    return queueCommit(this.closed, (p) => this.enqueue(p), ops, options);
  }

  claimTerm(scope: string, seen: number): Promise<number> {
    return queueClaim(this.closed, (p) => this.enqueue(p), scope, seen);
  }

  watch(listener: (changes: Change[]) => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async changesSince(revision: number): Promise<Change[]> {
    this.open();
    const compacted = this.sMeta.get('compacted')!.value;
    if (revision < compacted) throw new CompactedError(revision, compacted);
    return this.sSince.all(revision).map((r) => {
      const c: Change = { revision: r.revision, kind: r.kind, key: r.key, op: r.op, value: JSON.parse(r.value) };
      if (r.previous !== null) c.previous = JSON.parse(r.previous);
      return c;
    });
  }

  // A full scan on the main thread: meant for start-up, `weft` maintenance
  // commands and tests, not for the request path.
  async check(): Promise<IntegrityReport> {
    this.open();
    const problems: string[] = [];
    for (const row of this.db.prepare(`PRAGMA integrity_check`).all() as { integrity_check: string }[]) {
      if (row.integrity_check !== 'ok') problems.push(`sqlite: ${row.integrity_check}`);
    }
    // The model (and zod with it) is loaded only here: nothing else in the
    // store looks inside values, and a process that only writes starts faster.
    const { KINDS, keyOf } = await import('../model/index.js');
    this.open();
    const revision = this.sMeta.get('revision')!.value;
    const kinds = new Set<string>(KINDS);
    const all = this.db.prepare(`SELECT kind, key, value, revision FROM objects`) as Database.Statement<
      [],
      { kind: string; key: string; value: string; revision: number }
    >;
    for (const row of all.iterate()) {
      const where = `${row.kind} ${JSON.stringify(row.key)}`;
      if (!kinds.has(row.kind)) {
        problems.push(`${where}: unknown kind`);
        continue;
      }
      if (row.revision < 1 || row.revision > revision) {
        problems.push(`${where}: revision ${row.revision} outside 1..${revision}`);
      }
      let value: unknown;
      try {
        value = JSON.parse(row.value);
      } catch (e) {
        problems.push(`${where}: value is not JSON (${(e as Error).message})`);
        continue;
      }
      let expected: string;
      try {
        expected = keyOf(row.kind as Kind, value as KindMap[Kind]);
      } catch (e) {
        problems.push(`${where}: cannot derive the key (${(e as Error).message})`);
        continue;
      }
      if (expected !== row.key) problems.push(`${where}: value has key ${JSON.stringify(expected)}`);
    }
    return { ok: problems.length === 0, problems };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    while (this.queue.length > 0) this.flush();
    this.listeners.clear();
    this.db.close();
  }

  private open(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /**
   * Applies up to `maxBatch` queued transactions in one SQLite transaction:
   * one fsync for the group. What is left waits for the next turn of the
   * event loop, never flushed from inside commit(): a flush settles promises,
   * their callers commit again, and a synchronous flush there would keep the
   * loop from ever turning (timers and sockets starve) under sustained load.
   */
  private flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const group = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0 && !this.closed) this.scheduled = setImmediate(() => this.flush());
    if (group.length === 0) return;

    // Outcomes are collected first and settled only after COMMIT returned,
    // when the whole group is durable.
    const outcomes: ({ ok: true; value: CommitResult | number } | { ok: false; error: unknown })[] = [];
    const db = this.db;
    let startRevision = 0;
    try {
      db.exec('BEGIN IMMEDIATE');
      startRevision = this.sMeta.get('revision')!.value;
      let revision = startRevision;
      for (const p of group) {
        this.sSavepoint.run();
        try {
          if (p.type === 'claim') {
            const actual = this.sTerm.get(p.scope)?.term ?? 0;
            if (actual !== p.seen) throw new FencedError(p.scope, p.seen, actual);
            this.sSetTerm.run(p.scope, p.seen + 1);
            outcomes.push({ ok: true, value: p.seen + 1 });
          } else {
            const result = this.apply(p.ops, p.fence, revision + 1);
            if (result.changes.length > 0) revision++;
            outcomes.push({ ok: true, value: result });
          }
          this.sRelease.run();
        } catch (error) {
          this.sRollbackTo.run();
          this.sRelease.run();
          outcomes.push({ ok: false, error });
        }
      }
      if (revision !== startRevision) {
        this.sSetMeta.run(revision, 'revision');
        const compacted = this.sMeta.get('compacted')!.value;
        const keepFrom = revision - this.history;
        if (keepFrom - compacted > this.history / 10) {
          this.sPrune.run(keepFrom);
          this.sSetMeta.run(keepFrom, 'compacted');
        }
      }
      db.exec('COMMIT');
    } catch (error) {
      // The group as a whole failed (I/O error, disk full): nothing of it is
      // durable, so every transaction in it fails with that error.
      if (db.inTransaction) db.exec('ROLLBACK');
      for (const p of group) p.reject(error);
      return;
    }

    const committed: Change[][] = [];
    group.forEach((p, i) => {
      const outcome = outcomes[i]!;
      if (!outcome.ok) return p.reject(outcome.error);
      if (p.type === 'claim') return p.resolve(outcome.value as number);
      const result = outcome.value as CommitResult;
      if (result.changes.length > 0) committed.push(result.changes);
      p.resolve(result);
    });
    for (const changes of committed) this.emit(changes);
  }

  /** One transaction's ops at `revision`, inside the caller's savepoint; throws on a failed condition. */
  private apply(ops: Op[], fence: CommitOptions['fence'], revision: number): CommitResult {
    if (fence) {
      const actual = this.sTerm.get(fence.scope)?.term ?? 0;
      if (actual !== fence.term) throw new FencedError(fence.scope, fence.term, actual);
    }
    const changes: Change[] = [];
    for (const op of ops) {
      const before = this.sGet.get(op.kind, op.key);
      if (op.ifRevision !== undefined) {
        const actual = before?.revision ?? null;
        if (actual !== op.ifRevision) throw new ConflictError(op.kind, op.key, op.ifRevision, actual);
      }
      if (op.op === 'put') {
        const json = JSON.stringify(op.value);
        this.sUpsert.run(op.kind, op.key, json, revision);
        this.sLog.run(revision, changes.length, op.kind, op.key, 'put', json, before?.value ?? null);
        const change: Change = { revision, kind: op.kind, key: op.key, op: 'put', value: op.value };
        if (before) change.previous = JSON.parse(before.value);
        changes.push(change);
      } else if (before) {
        // Deleting what is not there is a no-op, not an error and not a change.
        this.sDelete.run(op.kind, op.key);
        this.sLog.run(revision, changes.length, op.kind, op.key, 'delete', before.value, before.value);
        const last = JSON.parse(before.value);
        changes.push({ revision, kind: op.kind, key: op.key, op: 'delete', value: last, previous: last });
      }
    }
    return { revision: changes.length > 0 ? revision : revision - 1, changes };
  }

  private emit(changes: Change[]): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(changes);
      } catch (e) {
        this.onListenerError(e);
      }
    }
  }
}
