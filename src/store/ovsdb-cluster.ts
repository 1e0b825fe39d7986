// The clustered store: weft's `Weft` database (deploy/ovsdb/weft.ovsschema)
// served by an ovsdb-server Raft cluster, the engine OVN uses for the same
// job. Every weft replica is a client of the cluster; there is no replication
// of weft's own.
//
// Consistency. The client talks only to the cluster leader: it reads
// `_Server.Database` on each member it dials and moves on until it finds the
// one whose `leader` is true, and monitors that row to leave as soon as the
// member loses leadership. Followers would forward writes, but they answer
// reads from their own, possibly stale, copy; reading at the leader gives
// read-your-writes and, outside a partition that has not yet deposed the old
// leader, current reads.
//
// Writes. OVSDB cannot compute a value from another row inside a transaction,
// and every object and change-log row must carry the revision of the
// transaction that wrote it, so the client computes revisions itself:
// optimistic concurrency on the global counter. The client keeps a copy of
// the Object, Term and Meta tables through the feed's monitor (as OVN's IDL
// does), always the state after some whole transaction. A group of queued
// commits is evaluated in call order against that copy exactly as the SQLite
// backend does (conditions see earlier ops; a failed transaction drops out
// without touching the others), with no read round trip, and written as ONE
// transact that starts with `wait` operations (the counter still where the
// copy has it, which guards every object since every object write moves it;
// each term touched still at its value), naming rows by uuid, the one
// condition ovsdb-server answers without a table scan. If another writer
// (another weft replica) got in between, a wait fails, nothing is written,
// and the group is evaluated again once that write has reached the copy. The
// transact carries a `Batch` row with a fresh id: a commit resolves once that
// row is in the copy (so the next group is planned on it), and when the
// connection drops while a transact is in flight its fate is learned by
// looking for that id after reconnecting, so an ambiguous commit is neither
// lost nor applied twice.
//
// Durability. ovsdb-server answers a clustered transact once the Raft log
// entry is committed, that is written and fsync'd on a majority of members;
// a commit resolves only after that answer and after the change feed of this
// client has seen the transaction, so a watcher hears of it before or right
// after the committer and a read after `commit` sees it.
//
// Change feed. Every change is also a `Change` row (revision, seq, value,
// previous), pruned like SQLite's history. A `monitor_cond_since` on that
// table feeds `watch` with the changes of every writer, in revision order, and
// resumes after a reconnect from the last Raft transaction seen.
//
// Schema versions. The database's schema version (the `version` of the
// .ovsschema) is compared with the one shipped: a newer one is refused with
// StoreVersionError; an older one is converted online with the `convert`
// method (what `ovsdb-client convert` does), which every member applies
// through the Raft log. A new schema version must therefore be convertible
// by ovsdb-server's rules: new columns get their default, dropped columns
// disappear.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  decodeMonitorCondSinceResult,
  decodeTableUpdates2,
  decodeTransactResult,
  monitorCond,
  monitorCondSince,
  transact,
  type Call,
  type Condition,
  type Operation,
  type RowJson,
  type TableUpdates2,
} from '../../protocols/ovsdb/index.js';
import type { Kind, KindMap } from '../model/index.js';
import { RpcError, Session } from '../ovsdb/session.js';
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

export const DATABASE = 'Weft';
/** monitor_cond_since's "no transaction seen": the member sends its tables whole. */
const NO_TXN = '00000000-0000-0000-0000-000000000000';

/**
 * weft's schema, shipped in the repository and the npm package under
 * deploy/ovsdb/ (operators pass it to `ovsdb-tool create-cluster`). Found from
 * this module's location: src/store/ when run from the sources, dist/src/store/
 * when built.
 */
export const WEFT_SCHEMA_PATH: string = (() => {
  const candidates = ['../../deploy/ovsdb/weft.ovsschema', '../../../deploy/ovsdb/weft.ovsschema'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
})();

export interface OvsdbClusterStoreOptions {
  /** Client remotes of the cluster members: `unix:PATH` or `tcp:HOST:PORT`. */
  remotes: string[];
  /** Revisions of history `changesSince` keeps at least (default 10,000), pruned in steps of 10%. */
  historyRevisions?: number;
  /** At most this many transactions per group, that is per Raft entry (default 1,000). */
  maxBatch?: number;
  /**
   * How long a call waits for a leader before it fails with StoreError, ms
   * (default 30 s). Opening waits this long for the first one.
   */
  leaderTimeout?: number;
  /** One request's timeout, ms (default 10 s); a timeout counts as a lost connection. */
  requestTimeout?: number;
  /** Called when a watch listener throws; by default the error is rethrown asynchronously. */
  onListenerError?: (error: unknown) => void;
  /** Connection events, for logs: connected to a leader, lost it, retrying. */
  onEvent?: (message: string) => void;
  /** The schema to create or convert to; default WEFT_SCHEMA_PATH. For tests of the upgrade path. */
  schemaFile?: string;
}

interface ObjState {
  value: string;
  revision: number;
  /** The row, when it exists in the database (not for a write of this group). */
  uuid?: string;
}

type Outcome = { ok: true; value: CommitResult | number } | { ok: false; error: unknown };

/** A lost connection or a timeout: the request may or may not have been applied. */
class Unavailable extends Error {
  override name = 'Unavailable';
}

/** Schema version strings `x.y.z` in numeric order. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Code point order (= UTF-8 byte order, SQLite's), not JavaScript's UTF-16 code unit order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const objWhere = (kind: string, key: string): Condition[] => [
  ['kind', '==', kind],
  ['key', '==', key],
];
const byUuid = (uuid: string): Condition[] => [['_uuid', '==', ['uuid', uuid]]];
const termWhere = (scope: string): Condition[] => [['scope', '==', scope]];
const id = (kind: string, key: string) => `${kind}\u0000${key}`;
const optString = (d: unknown): string | undefined => (typeof d === 'string' ? d : undefined);

function dial(remote: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    if (remote.startsWith('unix:')) socket = net.connect({ path: remote.slice(5) });
    else if (remote.startsWith('tcp:')) {
      const rest = remote.slice(4);
      const colon = rest.lastIndexOf(':');
      socket = net.connect({ host: rest.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(rest.slice(colon + 1)) });
    } else return reject(new StoreError(`unsupported remote ${remote}: use unix:PATH or tcp:HOST:PORT`));
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), 3_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Opens the clustered store: connects to the cluster's leader, converts the
 * database to the shipped schema version if it is older (StoreVersionError if
 * newer), creates the counter row of a new database, and starts the change
 * feed.
 */
export async function openOvsdbClusterStore(options: OvsdbClusterStoreOptions): Promise<Store> {
  if (options.remotes.length === 0) throw new StoreError('the clustered store needs at least one remote');
  const schemaFile = options.schemaFile ?? WEFT_SCHEMA_PATH;
  let schema: { name: string; version: string };
  try {
    schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as { name: string; version: string };
  } catch (e) {
    throw new StoreError(`cannot read the store schema ${schemaFile}: ${(e as Error).message}`, { cause: e });
  }
  const store = new OvsdbClusterStore(options, schema);
  try {
    await store.start();
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  return store;
}

class OvsdbClusterStore implements Store {
  readonly backend = 'ovsdb-cluster';

  private readonly history: number;
  private readonly maxBatch: number;
  private readonly leaderTimeout: number;
  private readonly requestTimeout: number;
  private readonly onListenerError: (error: unknown) => void;
  private readonly log: (message: string) => void;

  private closed = false;
  private session: Session | undefined;
  private connecting: Promise<Session> | undefined;
  private next = 0;
  private fatal: Error | undefined;

  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;

  private readonly listeners = new Set<(changes: Change[]) => void>();
  /** The highest revision the feed has delivered (or skipped as older than the start). */
  private feedRevision = -1;
  private lastTxnId = NO_TXN;
  private feedWaiters: { revision: number; resolve: () => void }[] = [];

  // The local copy of what groups are planned against, kept by the same
  // monitor as the feed (as OVN's IDL keeps its tables): every object with its
  // row's uuid, every term, the counter. It is always the state after some
  // whole transaction, so a group planned on it and guarded by the counter's
  // `wait` commits only if nothing moved since, and the guards name rows by
  // uuid, the one condition ovsdb-server answers without a scan.
  private readonly objects = new Map<string, ObjState & { uuid: string }>();
  private readonly objectIds = new Map<string, string>();
  private readonly terms = new Map<string, { term: number; uuid: string }>();
  private readonly termScopes = new Map<string, string>();
  private meta: { revision: number; compacted: number } | undefined;
  /** Counts monitor updates applied to the copy: a failed guard waits for it to move. */
  private stateSeq = 0;
  private stateWaiters: { seq: number; resolve: () => void }[] = [];
  /** Batch markers this client waits to see in its copy, by id. */
  private readonly batchWaiters = new Map<string, () => void>();

  constructor(
    private readonly options: OvsdbClusterStoreOptions,
    private readonly schema: { name: string; version: string },
  ) {
    this.history = options.historyRevisions ?? 10_000;
    this.maxBatch = options.maxBatch ?? 1_000;
    this.leaderTimeout = options.leaderTimeout ?? 30_000;
    this.requestTimeout = options.requestTimeout ?? 10_000;
    this.onListenerError =
      options.onListenerError ??
      ((e) =>
        setImmediate(() => {
          throw e;
        }));
    this.log = options.onEvent ?? (() => {});
  }

  async start(): Promise<void> {
    await this.leader();
  }

  // Connection --------------------------------------------------------------

  /** The session to the current leader, connecting (and waiting for an election) as needed. */
  private leader(): Promise<Session> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.closed && !this.flushing) return Promise.reject(new StoreClosedError());
    if (this.session && !this.session.closed) return Promise.resolve(this.session);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<Session> {
    const deadline = Date.now() + this.leaderTimeout;
    const remotes = this.options.remotes;
    const reasons = new Map<string, string>();
    let pause = 20;
    for (;;) {
      for (let n = 0; n < remotes.length; n++) {
        const remote = remotes[this.next % remotes.length]!;
        let session: Session | undefined;
        try {
          session = new Session(await dial(remote), remote, {
            probeInterval: 2_000,
            requestTimeout: this.requestTimeout,
            maxPending: 100_000,
          });
          const why = await this.attach(session);
          if (why === undefined) {
            this.session = session;
            this.log(`store: connected to the cluster leader ${remote}`);
            return session;
          }
          reasons.set(remote, why);
          session.close(why);
        } catch (e) {
          session?.close('setup failed');
          if (e instanceof StoreVersionError) {
            this.fatal = e;
            throw e;
          }
          reasons.set(remote, (e as Error).message);
        }
        this.next++;
      }
      if (Date.now() > deadline) {
        const detail = [...reasons].map(([r, why]) => `${r}: ${why}`).join('; ');
        throw new StoreError(`no leader of the store cluster within ${this.leaderTimeout} ms (${detail})`);
      }
      if (this.closed && !this.flushing) throw new StoreClosedError();
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 500);
    }
  }

  /**
   * Sets a fresh session up on a member: undefined when it is the leader and
   * ready (schema checked, counter row present, feed running), else why not.
   */
  private async attach(session: Session): Promise<string | undefined> {
    const where: Condition[] = [['name', '==', DATABASE]];
    const server = await session.request(monitorCond('_Server', 'server', { Database: { where, columns: ['leader', 'connected', 'model'] } }));
    const rows = decodeTableUpdates2(server, 'server');
    if (!rows.ok) return `bad _Server reply: ${rows.error.message}`;
    const row = [...(rows.value.get('Database')?.values() ?? [])][0];
    if (!row || row.kind === 'delete') return `serves no ${DATABASE} database`;
    const db = row.row as { leader?: boolean; connected?: boolean; model?: string };
    if (db.model === 'clustered' && (db.leader !== true || db.connected !== true)) return 'not the cluster leader';
    // Leave at once when this member stops being the leader.
    session.onNotification((method, params) => {
      if (method === 'update2' && params[0] === 'server') {
        const u = decodeTableUpdates2(params[1], 'update2');
        if (!u.ok) return;
        for (const ru of u.value.get('Database')?.values() ?? []) {
          if (ru.kind === 'delete' || (ru.row as { leader?: boolean }).leader === false || (ru.row as { connected?: boolean }).connected === false) {
            session.close('the member lost the cluster leadership');
          }
        }
      } else if (method === 'update3' && params[0] === 'changes') {
        this.onFeed(params[1], params[2]);
      }
    });
    session.onClose((reason) => {
      if (this.session === session) {
        this.session = undefined;
        this.log(`store: lost the cluster leader ${session.peer}: ${reason}`);
      }
    });

    await this.checkSchema(session);
    await this.ensureMeta(session);
    await this.startFeed(session);
    return undefined;
  }

  private async checkSchema(session: Session): Promise<void> {
    const current = (await session.request({ method: 'get_schema', params: [DATABASE] })) as { version?: string };
    const found = current.version ?? '0.0.0';
    const want = this.schema.version;
    const order = compareVersions(found, want);
    if (order > 0) {
      throw new StoreVersionError(
        `the store cluster holds schema version ${found}, written by a newer weft; this weft reads up to version ${want}`,
      );
    }
    if (order < 0) {
      this.log(`store: converting the cluster database from schema ${found} to ${want}`);
      await session.request({ method: 'convert', params: [DATABASE, this.schema] } as unknown as Call, 60_000);
    }
  }

  /** A new database has no counter row: create it, once even when several replicas race. */
  private async ensureMeta(session: Session): Promise<void> {
    await this.transactOn(session, [
      { op: 'wait', table: 'Meta', where: [], columns: ['revision'], until: '==', rows: [], timeout: 0 },
      { op: 'insert', table: 'Meta', row: { revision: 0, compacted: 0 } },
    ]).catch((e: unknown) => {
      if (!(e instanceof WaitFailed)) throw e;
    });
  }

  private async startFeed(session: Session): Promise<void> {
    // A fresh feed starts at the current revision (history is for
    // changesSince); a resumed one where it stopped. The condition keeps the
    // initial rows, sent when the member does not know our last transaction
    // (another member, or one that compacted its log), to what we missed.
    if (this.feedRevision < 0) this.feedRevision = (await this.readMeta(session)).revision;
    const reply = await session.request(
      monitorCondSince(
        DATABASE,
        'changes',
        {
          Change: { where: [['revision', '>', this.feedRevision]], select: { initial: true, insert: true, delete: false, modify: false } },
          Object: { columns: ['kind', 'key', 'value', 'revision'] },
          Term: { columns: ['scope', 'term'] },
          Meta: { columns: ['revision', 'compacted'] },
          Batch: { columns: ['id'], select: { initial: false, insert: true, delete: false, modify: false } },
        },
        this.lastTxnId,
      ),
    );
    const r = decodeMonitorCondSinceResult(reply);
    if (!r.ok) throw new StoreError(`bad monitor_cond_since reply: ${r.error.message}`);
    // Not found: the member does not know our last transaction and sends its
    // tables whole, which replace the copy.
    if (!r.value.found) {
      this.objects.clear();
      this.objectIds.clear();
      this.terms.clear();
      this.termScopes.clear();
      this.meta = undefined;
    }
    this.onFeed(r.value.lastTxnId, r.value.updates);
    if (!this.meta) throw new StoreError('the store database has no Meta row');
    // The whole tables replaced the copy: whatever a commit waits to see is in it.
    if (!r.value.found) for (const resolve of this.batchWaiters.values()) resolve();
  }

  /** Folds one transaction's (or the initial) Object, Term, Meta and Batch rows into the local copy. */
  private applyState(updates: TableUpdates2): void {
    for (const [uuid, ru] of updates.get('Object') ?? []) {
      const k = this.objectIds.get(uuid);
      if (ru.kind === 'delete') {
        if (k !== undefined) this.objects.delete(k);
        this.objectIds.delete(uuid);
      } else if (ru.kind === 'modify') {
        const o = k === undefined ? undefined : this.objects.get(k);
        if (!o) continue;
        const diff = ru.row as { value?: string; revision?: number };
        if (diff.value !== undefined) o.value = diff.value;
        if (diff.revision !== undefined) o.revision = diff.revision;
      } else {
        // update2 leaves out columns at their default.
        const row = { kind: '', key: '', value: '', revision: 0, ...(ru.row as Record<string, unknown>) } as { kind: string; key: string; value: string; revision: number };
        const nk = id(row.kind, row.key);
        this.objects.set(nk, { value: row.value, revision: row.revision, uuid });
        this.objectIds.set(uuid, nk);
      }
    }
    for (const [uuid, ru] of updates.get('Term') ?? []) {
      const scope = this.termScopes.get(uuid);
      if (ru.kind === 'delete') {
        if (scope !== undefined) this.terms.delete(scope);
        this.termScopes.delete(uuid);
      } else if (ru.kind === 'modify') {
        const t = scope === undefined ? undefined : this.terms.get(scope);
        const term = (ru.row as { term?: number }).term;
        if (t && term !== undefined) t.term = term;
      } else {
        const row = { scope: '', term: 0, ...(ru.row as Record<string, unknown>) } as { scope: string; term: number };
        this.terms.set(row.scope, { term: row.term, uuid });
        this.termScopes.set(uuid, row.scope);
      }
    }
    for (const ru of updates.get('Meta')?.values() ?? []) {
      if (ru.kind === 'delete') this.meta = undefined;
      else if (ru.kind === 'modify') this.meta = { ...this.meta!, ...(ru.row as { revision?: number; compacted?: number }) };
      else this.meta = { revision: 0, compacted: 0, ...(ru.row as { revision?: number; compacted?: number }) };
    }
    for (const ru of updates.get('Batch')?.values() ?? []) {
      if (ru.kind !== 'insert' && ru.kind !== 'initial') continue;
      const waiter = this.batchWaiters.get(((ru.row as { id?: string }).id ?? '') as string);
      waiter?.();
    }
    this.stateSeq++;
    if (this.stateWaiters.length > 0) {
      const ready = this.stateWaiters.filter((w) => w.seq < this.stateSeq);
      this.stateWaiters = this.stateWaiters.filter((w) => w.seq >= this.stateSeq);
      for (const w of ready) w.resolve();
    }
  }

  /** Resolves true once the copy has moved past `seq`, false after `ms`. */
  private stateMoved(seq: number, ms: number): Promise<boolean> {
    if (this.stateSeq > seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.stateWaiters = this.stateWaiters.filter((w) => w.resolve !== done);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.stateWaiters.push({ seq, resolve: done });
    });
  }

  private onFeed(lastTxnId: unknown, updatesJson: unknown): void {
    const updates: TableUpdates2 | undefined =
      updatesJson instanceof Map ? (updatesJson as TableUpdates2) : (() => {
        const u = decodeTableUpdates2(updatesJson, 'update3');
        return u.ok ? u.value : undefined;
      })();
    if (!updates) {
      // A transaction missing from the copy would let a later one's counter
      // vouch for a state it is not: start over from the whole tables.
      this.lastTxnId = NO_TXN;
      this.session?.close('undecodable monitor update');
      return;
    }
    if (typeof lastTxnId === 'string') this.lastTxnId = lastTxnId;
    this.applyState(updates);
    const byRevision = new Map<number, { seq: number; change: Change }[]>();
    for (const ru of updates.get('Change')?.values() ?? []) {
      if (ru.kind === 'delete' || ru.kind === 'modify') continue;
      // update2 leaves out columns at their default (seq 0, an empty key).
      const row: Record<string, unknown> = { seq: 0, kind: '', key: '', ...(ru.row as Record<string, unknown>) };
      const revision = row.revision as number;
      if (revision <= this.feedRevision) continue;
      const change: Change = {
        revision,
        kind: row.kind as Kind,
        key: row.key as string,
        op: row.op as 'put' | 'delete',
        value: JSON.parse(row.value as string),
      };
      const previous = optString(row.previous);
      if (previous !== undefined) change.previous = JSON.parse(previous);
      let list = byRevision.get(revision);
      if (!list) byRevision.set(revision, (list = []));
      list.push({ seq: row.seq as number, change });
    }
    for (const revision of [...byRevision.keys()].sort((a, b) => a - b)) {
      const changes = byRevision.get(revision)!.sort((a, b) => a.seq - b.seq).map((c) => c.change);
      this.feedRevision = revision;
      this.emit(changes);
    }
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    if (this.feedWaiters.length === 0) return;
    const ready = this.feedWaiters.filter((w) => w.revision <= this.feedRevision);
    this.feedWaiters = this.feedWaiters.filter((w) => w.revision > this.feedRevision);
    for (const w of ready) w.resolve();
  }

  /** Resolves once the feed has delivered `revision`, or after the timeout if the feed is behind for good. */
  private feedReached(revision: number): Promise<void> {
    if (revision <= this.feedRevision) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.feedWaiters = this.feedWaiters.filter((w) => w.resolve !== done);
        resolve();
      }, this.leaderTimeout);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.feedWaiters.push({ revision, resolve: done });
    });
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

  // Requests ----------------------------------------------------------------

  private async transactOn(session: Session, ops: Operation[], timeout?: number): Promise<unknown[]> {
    let reply: unknown;
    try {
      reply = await session.request(transact(DATABASE, ops), timeout);
    } catch (e) {
      if (e instanceof RpcError) throw new StoreError(`store transaction refused: ${e.message}`, { cause: e });
      throw new Unavailable((e as Error).message);
    }
    const r = decodeTransactResult(reply, ops.length);
    if (!r.ok) throw new StoreError(`bad transact reply: ${r.error.message}`);
    if (!r.value.ok) {
      const failed = ops[r.value.index];
      if (failed?.op === 'wait' && r.value.error.error === 'timed out') throw new WaitFailed();
      // The member lost the leader or its quorum while committing: try again elsewhere.
      if (failed === undefined && /leader|cluster|not connected|I\/O/i.test(`${r.value.error.error} ${r.value.error.details ?? ''}`)) {
        throw new Unavailable(r.value.error.error);
      }
      throw new StoreError(
        `store transaction failed at ${failed?.op ?? 'commit'} ${failed && 'table' in failed ? failed.table : ''}: ${r.value.error.error}${r.value.error.details ? ` (${r.value.error.details})` : ''}`,
      );
    }
    return r.value.results.map((res) => (res.kind === 'select' ? res.rows : res.kind === 'count' ? res.count : undefined));
  }

  /** A read-only transaction at the leader, retried on a new leader if the connection drops. */
  private async read(ops: Operation[]): Promise<unknown[]> {
    this.open();
    for (;;) {
      const session = await this.leader();
      try {
        return await this.transactOn(session, ops);
      } catch (e) {
        if (!(e instanceof Unavailable)) throw e;
        session.close('request failed');
      }
    }
  }

  private async readMeta(session?: Session): Promise<{ revision: number; compacted: number }> {
    const op: Operation = { op: 'select', table: 'Meta', where: [], columns: ['revision', 'compacted'] };
    const [rows] = session ? await this.transactOn(session, [op]) : await this.read([op]);
    const row = (rows as RowJson[])[0];
    if (!row) throw new StoreError('the store database has no Meta row');
    return { revision: row.revision as number, compacted: row.compacted as number };
  }

  // Reads -------------------------------------------------------------------

  async get<K extends Kind>(kind: K, key: string): Promise<Versioned<K> | undefined> {
    const found = (row: RowJson | undefined) => row && { kind, key, value: JSON.parse(row.value as string) as KindMap[K], revision: row.revision as number };
    // Still read at the leader, but without a scan: the row the local copy
    // names, by uuid, and the counter. A row found by its uuid is the
    // object's (a uuid never changes hands); an object absent from a copy at
    // the leader's revision is absent (objects change only with the counter).
    if (this.meta && this.session && !this.session.closed) {
      const known = this.objects.get(id(kind, key));
      const at = this.meta.revision;
      const ops: Operation[] = [{ op: 'select', table: 'Meta', where: [], columns: ['revision'] }];
      if (known) ops.push({ op: 'select', table: 'Object', where: byUuid(known.uuid), columns: ['value', 'revision'] });
      const [meta, rows] = await this.read(ops);
      const row = (rows as RowJson[] | undefined)?.[0];
      if (row) return found(row);
      if (!known && ((meta as RowJson[])[0]?.revision as number | undefined) === at) return undefined;
    }
    const [rows] = await this.read([{ op: 'select', table: 'Object', where: objWhere(kind, key), columns: ['value', 'revision'] }]);
    return found((rows as RowJson[])[0]);
  }

  async list<K extends Kind>(kind: K, options: { prefix?: string } = {}): Promise<Versioned<K>[]> {
    // OVSDB orders only numbers, so the prefix filter and the order are ours.
    const [rows] = await this.read([{ op: 'select', table: 'Object', where: [['kind', '==', kind]], columns: ['key', 'value', 'revision'] }]);
    const prefix = options.prefix ?? '';
    return (rows as RowJson[])
      .filter((r) => (r.key as string).startsWith(prefix))
      .sort((a, b) => compareKeys(a.key as string, b.key as string))
      .map((r) => ({ kind, key: r.key as string, value: JSON.parse(r.value as string) as KindMap[K], revision: r.revision as number }));
  }

  async count(kind: Kind): Promise<number> {
    // Not `columns: []`: ovsdb-server drops duplicate rows from a select.
    const [rows] = await this.read([{ op: 'select', table: 'Object', where: [['kind', '==', kind]], columns: ['_uuid'] }]);
    return (rows as RowJson[]).length;
  }

  async term(scope: string): Promise<number> {
    const [rows] = await this.read([{ op: 'select', table: 'Term', where: termWhere(scope), columns: ['term'] }]);
    return ((rows as RowJson[])[0]?.term as number | undefined) ?? 0;
  }

  async revision(): Promise<number> {
    return (await this.readMeta()).revision;
  }

  async changesSince(revision: number): Promise<Change[]> {
    const [meta, rows] = await this.read([
      { op: 'select', table: 'Meta', where: [], columns: ['compacted'] },
      { op: 'select', table: 'Change', where: [['revision', '>', revision]] },
    ]);
    const compacted = ((meta as RowJson[])[0]?.compacted as number | undefined) ?? 0;
    if (revision < compacted) throw new CompactedError(revision, compacted);
    return (rows as RowJson[])
      .sort((a, b) => (a.revision as number) - (b.revision as number) || (a.seq as number) - (b.seq as number))
      .map((r) => {
        const c: Change = {
          revision: r.revision as number,
          kind: r.kind as Kind,
          key: r.key as string,
          op: r.op as 'put' | 'delete',
          value: JSON.parse(r.value as string),
        };
        const previous = optString(r.previous);
        if (previous !== undefined) c.previous = JSON.parse(previous);
        return c;
      });
  }

  watch(listener: (changes: Change[]) => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // A full scan of the cluster's objects: for start-up, maintenance and tests.
  async check(): Promise<IntegrityReport> {
    const [meta, objects] = await this.read([
      { op: 'select', table: 'Meta', where: [] },
      { op: 'select', table: 'Object', where: [] },
    ]);
    const problems: string[] = [];
    const metaRows = meta as RowJson[];
    if (metaRows.length !== 1) problems.push(`Meta: ${metaRows.length} rows, expected 1`);
    const revision = (metaRows[0]?.revision as number | undefined) ?? 0;
    const { KINDS, keyOf } = await import('../model/index.js');
    this.open();
    const kinds = new Set<string>(KINDS);
    const seen = new Set<string>();
    for (const row of objects as RowJson[]) {
      const kind = row.kind as string;
      const key = row.key as string;
      const where = `${kind} ${JSON.stringify(key)}`;
      if (seen.has(id(kind, key))) problems.push(`${where}: duplicate row`);
      seen.add(id(kind, key));
      if (!kinds.has(kind)) {
        problems.push(`${where}: unknown kind`);
        continue;
      }
      const rev = row.revision as number;
      if (rev < 1 || rev > revision) problems.push(`${where}: revision ${rev} outside 1..${revision}`);
      let value: unknown;
      try {
        value = JSON.parse(row.value as string);
      } catch (e) {
        problems.push(`${where}: value is not JSON (${(e as Error).message})`);
        continue;
      }
      let expected: string;
      try {
        expected = keyOf(kind as Kind, value as KindMap[Kind]);
      } catch (e) {
        problems.push(`${where}: cannot derive the key (${(e as Error).message})`);
        continue;
      }
      if (expected !== key) problems.push(`${where}: value has key ${JSON.stringify(expected)}`);
    }
    return { ok: problems.length === 0, problems };
  }

  // Writes ------------------------------------------------------------------

  commit(ops: Op[], options: CommitOptions = {}): Promise<CommitResult> {
    return queueCommit(this.closed, (p) => this.enqueue(p), ops, options);
  }

  claimTerm(scope: string, seen: number): Promise<number> {
    return queueClaim(this.closed, (p) => this.enqueue(p), scope, seen);
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    this.flushing ??= this.drain();
  }

  /**
   * One group at a time: the next group forms from whatever was queued while
   * the previous one was in flight, so the group grows with the load and the
   * Raft round trip is shared by every commit in it.
   */
  private async drain(): Promise<void> {
    // Let the commits issued in this turn of the event loop join the first group.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, this.maxBatch);
      try {
        await this.runGroup(group);
      } catch (error) {
        for (const p of group) p.reject(error);
      }
    }
    this.flushing = undefined;
  }

  private async runGroup(group: Pending[]): Promise<void> {
    const batch = randomUUID();
    const sent: { id: string; outcomes: Outcome[]; revision: number }[] = [];
    const deadline = Date.now() + this.leaderTimeout;
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline) throw new StoreError(`the store cluster did not commit within ${this.leaderTimeout} ms`);
      const session = await this.leader();
      let seen: Promise<void> | undefined;
      const batchId = `${batch}.${attempt}`;
      const seq = this.stateSeq;
      try {
        if (sent.length > 0) {
          // An earlier attempt may have committed before its answer was lost.
          const found = await this.transactOn(
            session,
            sent.map((s) => ({ op: 'select', table: 'Batch', where: [['id', '==', s.id]], columns: ['id'] }) as Operation),
          );
          const i = found.findIndex((rows) => (rows as RowJson[]).length > 0);
          if (i >= 0) return this.settle(group, sent[i]!.outcomes, sent[i]!.revision);
        }
        const plan = this.plan(group, batchId);
        if (!plan.write) return this.settle(group, plan.outcomes, plan.revision);
        sent.push({ id: batchId, outcomes: plan.outcomes, revision: plan.revision });
        // Registered before the transact is sent: its monitor update may come first.
        seen = new Promise<void>((resolve) => this.batchWaiters.set(batchId, resolve));
        await this.transactOn(session, plan.write);
        // The copy must hold this group (its terms too) before the next one is planned on it.
        await within(seen, this.leaderTimeout);
        return this.settle(group, plan.outcomes, plan.revision);
      } catch (e) {
        if (e instanceof WaitFailed) {
          // Another writer got in first; its transaction reaches the copy through
          // the monitor. Should it not, start over from a fresh copy.
          if (!(await this.stateMoved(seq, 1_000))) session.close('the local copy of the store did not catch up');
          continue;
        }
        if (e instanceof Unavailable) {
          session.close('request failed');
          continue;
        }
        throw e;
      } finally {
        this.batchWaiters.delete(batchId);
      }
    }
  }

  /**
   * Evaluates the group in call order against the local copy: the outcome of
   * every transaction, and the one guarded transact that writes them all
   * (none when nothing is written and nothing needs a linearizable check).
   */
  private plan(group: Pending[], batchId: string): { outcomes: Outcome[]; revision: number; write?: Operation[] } {
    const objKeys = new Map<string, { kind: Kind; key: string }>();
    const scopes = new Set<string>();
    for (const p of group) {
      if (p.type === 'claim') scopes.add(p.scope);
      else {
        if (p.fence) scopes.add(p.fence.scope);
        for (const op of p.ops) objKeys.set(id(op.kind, op.key), { kind: op.kind, key: op.key });
      }
    }
    const objList = [...objKeys.values()];
    const scopeList = [...scopes];
    if (!this.meta) throw new StoreError('the store database has no Meta row');
    const start = this.meta.revision;
    const compacted = this.meta.compacted;
    const before = new Map<string, ObjState | null>();
    for (const o of objList) {
      const k = id(o.kind, o.key);
      const row = this.objects.get(k);
      before.set(k, row ? { value: row.value, revision: row.revision, uuid: row.uuid } : null);
    }
    const termsBefore = new Map<string, number | null>();
    for (const s of scopeList) termsBefore.set(s, this.terms.get(s)?.term ?? null);

    // Evaluation, as SQLite's savepoints: a failed transaction leaves no trace.
    const objs = new Map(before);
    const terms = new Map(termsBefore);
    const changeRows: Operation[] = [];
    const outcomes: Outcome[] = [];
    let revision = start;
    let needsCheck = false;
    for (const p of group) {
      if (p.type === 'claim') {
        const actual = terms.get(p.scope) ?? 0;
        if (actual !== p.seen) outcomes.push({ ok: false, error: new FencedError(p.scope, p.seen, actual) });
        else {
          terms.set(p.scope, p.seen + 1);
          outcomes.push({ ok: true, value: p.seen + 1 });
        }
        continue;
      }
      if (p.fence) {
        needsCheck = true;
        const actual = terms.get(p.fence.scope) ?? 0;
        if (actual !== p.fence.term) {
          outcomes.push({ ok: false, error: new FencedError(p.fence.scope, p.fence.term, actual) });
          continue;
        }
      }
      const local = new Map<string, ObjState | null>();
      const at = (k: string) => (local.has(k) ? local.get(k)! : objs.get(k)!);
      const changes: Change[] = [];
      const rows: Operation[] = [];
      let conflict: ConflictError | undefined;
      const rev = revision + 1;
      for (const op of p.ops) {
        const k = id(op.kind, op.key);
        const cur = at(k);
        if (op.ifRevision !== undefined) {
          const actual = cur?.revision ?? null;
          if (actual !== op.ifRevision) {
            conflict = new ConflictError(op.kind, op.key, op.ifRevision, actual);
            break;
          }
        }
        if (op.op === 'put') {
          const json = JSON.stringify(op.value);
          local.set(k, { value: json, revision: rev });
          const change: Change = { revision: rev, kind: op.kind, key: op.key, op: 'put', value: op.value };
          if (cur) change.previous = JSON.parse(cur.value);
          changes.push(change);
          rows.push(changeRow(rev, changes.length - 1, op.kind, op.key, 'put', json, cur?.value));
        } else if (cur) {
          local.set(k, null);
          const last = JSON.parse(cur.value);
          changes.push({ revision: rev, kind: op.kind, key: op.key, op: 'delete', value: last, previous: last });
          rows.push(changeRow(rev, changes.length - 1, op.kind, op.key, 'delete', cur.value, cur.value));
        }
      }
      if (conflict) {
        outcomes.push({ ok: false, error: conflict });
        continue;
      }
      for (const [k, v] of local) objs.set(k, v);
      if (changes.length > 0) revision = rev;
      changeRows.push(...rows);
      outcomes.push({ ok: true, value: { revision: changes.length > 0 ? rev : revision, changes } });
    }

    const termsChanged = [...terms].filter(([s, v]) => v !== termsBefore.get(s));
    if (revision === start && termsChanged.length === 0 && !needsCheck) return { outcomes, revision };

    // The guards: the state read is still the state, or nothing is written.
    const write: Operation[] = [{ op: 'wait', table: 'Meta', where: [], columns: ['revision'], until: '==', rows: [{ revision: start }], timeout: 0 }];
    // Objects need no guard of their own: weft changes an object only in a
    // transaction that moves the counter. ovsdb-server finds rows by `_uuid`
    // through a hash and by any other condition by a scan, so rows are named
    // by the uuid the copy holds.
    // A term read as absent is guarded by a scan of the Term table (one row
    // per network, and only until the scope's first claim).
    for (const s of scopeList) {
      const b = this.terms.get(s);
      if (b) write.push({ op: 'wait', table: 'Term', where: byUuid(b.uuid), columns: ['term'], until: '==', rows: [{ term: b.term }], timeout: 0 });
      else write.push({ op: 'wait', table: 'Term', where: termWhere(s), columns: ['term'], until: '==', rows: [], timeout: 0 });
    }
    for (const o of objList) {
      const k = id(o.kind, o.key);
      const b = before.get(k)!;
      const a = objs.get(k)!;
      if (a && b) {
        if (a.revision !== b.revision) write.push({ op: 'update', table: 'Object', where: byUuid(b.uuid!), row: { value: a.value, revision: a.revision } });
      } else if (a) write.push({ op: 'insert', table: 'Object', row: { kind: o.kind, key: o.key, value: a.value, revision: a.revision } });
      else if (b) write.push({ op: 'delete', table: 'Object', where: byUuid(b.uuid!) });
    }
    for (const [scope, term] of termsChanged) {
      if (termsBefore.get(scope) === null) write.push({ op: 'insert', table: 'Term', row: { scope, term: term! } });
      else write.push({ op: 'update', table: 'Term', where: byUuid(this.terms.get(scope)!.uuid), row: { term: term! } });
    }
    write.push(...changeRows);
    // The marker makes every guarded transact a write (a fence check too goes
    // through the Raft log, so a deposed leader's check cannot pass on a stale
    // read) and tells a client that lost the answer whether it committed.
    write.push({ op: 'insert', table: 'Batch', row: { id: batchId, revision } });
    const meta: RowJson = { revision };
    const keepFrom = revision - this.history;
    if (keepFrom - compacted > this.history / 10) {
      write.push({ op: 'delete', table: 'Change', where: [['revision', '<=', keepFrom]] });
      write.push({ op: 'delete', table: 'Batch', where: [['revision', '<=', keepFrom]] });
      meta.compacted = keepFrom;
    }
    if (revision !== start || meta.compacted !== undefined) write.push({ op: 'update', table: 'Meta', where: [], row: meta });
    return { outcomes, revision, write };
  }

  private async settle(group: Pending[], outcomes: Outcome[], revision: number): Promise<void> {
    await this.feedReached(revision);
    group.forEach((p, i) => {
      const o = outcomes[i]!;
      if (!o.ok) p.reject(o.error);
      else if (p.type === 'claim') p.resolve(o.value as number);
      else p.resolve(o.value as CommitResult);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing?.catch(() => {});
    this.listeners.clear();
    this.session?.close('store closed');
    this.session = undefined;
    for (const w of this.feedWaiters.splice(0)) w.resolve();
  }

  private open(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

/** Resolves when `promise` does or after `ms`, whichever comes first. */
function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}

/** A guard of a transact did not hold: something changed since the group was read. */
class WaitFailed extends Error {
  override name = 'WaitFailed';
}

function changeRow(revision: number, seq: number, kind: string, key: string, op: 'put' | 'delete', value: string, previous: string | undefined): Operation {
  return {
    op: 'insert',
    table: 'Change',
    row: { revision, seq, kind, key, op, value, previous: previous === undefined ? ['set', []] : previous },
  };
}
