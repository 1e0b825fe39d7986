// Monitors (RFC 7047 §4.1.5-4.1.7 and the monitor_cond/monitor_cond_since
// extensions documented in ovsdb-server(7)): requests, the three shapes of
// table updates, and the pure functions that fold them into a replica.

import { type Result, ok, fail, isObject, describe } from './errors.js';
import { type DatabaseSchema, type TableSchema, type ColumnType, isMap } from './schema.js';
import { type Atom, type Row, type RowJson, type Value, decodeDatum, defaultDatum, isUuid } from './datum.js';
import type { Condition } from './operations.js';

export interface MonitorSelect {
  initial?: boolean;
  insert?: boolean;
  delete?: boolean;
  modify?: boolean;
}
export interface MonitorRequest {
  /** Absent: every column. */
  columns?: string[];
  select?: MonitorSelect;
}
export interface MonitorCondRequest extends MonitorRequest {
  where?: Condition[];
}
export type MonitorRequests = Record<string, MonitorRequest | MonitorRequest[]>;
export type MonitorCondRequests = Record<string, MonitorCondRequest | MonitorCondRequest[]>;

export function encodeMonitorRequests(requests: MonitorCondRequests): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [table, r] of Object.entries(requests)) {
    out[table] = (Array.isArray(r) ? r : [r]).map((q) => {
      const o: Record<string, unknown> = {};
      if (q.where !== undefined) o.where = q.where;
      if (q.columns !== undefined) o.columns = q.columns;
      if (q.select !== undefined) o.select = q.select;
      return o;
    });
  }
  return out;
}

/** `update` / `monitor`: old and new column values. */
export interface RowUpdate {
  old?: RowJson;
  new?: RowJson;
}
export type TableUpdates = Map<string, Map<string, RowUpdate>>;

/** `update2` / `update3` / `monitor_cond`: a modify carries a diff, not the new row. */
export type RowUpdate2 =
  | { kind: 'initial' | 'insert' | 'modify'; row: RowJson }
  | { kind: 'delete' };
export type TableUpdates2 = Map<string, Map<string, RowUpdate2>>;

function decodeUpdatesShape<T>(json: unknown, path: string, row: (ru: unknown, path: string) => Result<T>): Result<Map<string, Map<string, T>>> {
  if (!isObject(json)) return fail(path, `expected table updates, got ${describe(json)}`);
  const tables = new Map<string, Map<string, T>>();
  for (const [table, rows] of Object.entries(json)) {
    if (!isObject(rows)) return fail(`${path}.${table}`, 'expected an object of row updates');
    const byUuid = new Map<string, T>();
    for (const [uuid, ru] of Object.entries(rows)) {
      if (!isUuid(uuid)) return fail(`${path}.${table}`, `"${uuid}" is not a uuid`);
      const r = row(ru, `${path}.${table}.${uuid}`);
      if (!r.ok) return r;
      byUuid.set(uuid, r.value);
    }
    tables.set(table, byUuid);
  }
  return ok(tables);
}

export function decodeTableUpdates(json: unknown, path = 'updates'): Result<TableUpdates> {
  return decodeUpdatesShape(json, path, (ru, p) => {
    if (!isObject(ru)) return fail(p, 'expected a row update');
    const out: RowUpdate = {};
    for (const k of ['old', 'new'] as const) {
      if (ru[k] === undefined) continue;
      if (!isObject(ru[k])) return fail(`${p}.${k}`, 'expected a row');
      out[k] = ru[k] as RowJson;
    }
    if (!out.old && !out.new) return fail(p, 'a row update needs "old" or "new"');
    return ok(out);
  });
}

export function decodeTableUpdates2(json: unknown, path = 'updates'): Result<TableUpdates2> {
  return decodeUpdatesShape(json, path, (ru, p): Result<RowUpdate2> => {
    if (!isObject(ru)) return fail(p, 'expected a row update');
    const keys = Object.keys(ru);
    if (keys.length !== 1) return fail(p, 'expected exactly one of initial, insert, delete, modify');
    const kind = keys[0]!;
    if (kind === 'delete') return ok({ kind });
    if (kind !== 'initial' && kind !== 'insert' && kind !== 'modify') return fail(p, `unknown row update "${kind}"`);
    return isObject(ru[kind]) ? ok({ kind, row: ru[kind] as RowJson }) : fail(`${p}.${kind}`, 'expected a row');
  });
}

export function encodeTableUpdates(updates: TableUpdates): Record<string, Record<string, RowUpdate>> {
  const out: Record<string, Record<string, RowUpdate>> = {};
  for (const [table, rows] of updates) out[table] = Object.fromEntries(rows);
  return out;
}

export function encodeTableUpdates2(updates: TableUpdates2): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [table, rows] of updates) {
    const t: Record<string, unknown> = {};
    for (const [uuid, ru] of rows) t[uuid] = ru.kind === 'delete' ? { delete: null } : { [ru.kind]: ru.row };
    out[table] = t;
  }
  return out;
}

export function decodeUpdate(params: unknown[]): Result<{ monitorId: unknown; updates: TableUpdates }> {
  if (params.length !== 2) return fail('params', 'expected [monitor-id, table-updates]');
  const u = decodeTableUpdates(params[1], 'params[1]');
  return u.ok ? ok({ monitorId: params[0], updates: u.value }) : u;
}

export function decodeUpdate2(params: unknown[]): Result<{ monitorId: unknown; updates: TableUpdates2 }> {
  if (params.length !== 2) return fail('params', 'expected [monitor-id, table-updates2]');
  const u = decodeTableUpdates2(params[1], 'params[1]');
  return u.ok ? ok({ monitorId: params[0], updates: u.value }) : u;
}

export function decodeUpdate3(params: unknown[]): Result<{ monitorId: unknown; lastTxnId: string; updates: TableUpdates2 }> {
  if (params.length !== 3) return fail('params', 'expected [monitor-id, last-txn-id, table-updates2]');
  if (!isUuid(params[1])) return fail('params[1]', 'expected a transaction id');
  const u = decodeTableUpdates2(params[2], 'params[2]');
  return u.ok ? ok({ monitorId: params[0], lastTxnId: params[1], updates: u.value }) : u;
}

/** The reply to monitor_cond_since: whether the server knew lastTxnId, its newest id, and the updates. */
export function decodeMonitorCondSinceResult(json: unknown): Result<{ found: boolean; lastTxnId: string; updates: TableUpdates2 }> {
  if (!Array.isArray(json) || json.length !== 3) return fail('result', 'expected [found, last-txn-id, table-updates2]');
  if (typeof json[0] !== 'boolean') return fail('result[0]', 'expected a boolean');
  if (!isUuid(json[1])) return fail('result[1]', 'expected a transaction id');
  const u = decodeTableUpdates2(json[2], 'result[2]');
  return u.ok ? ok({ found: json[0], lastTxnId: json[1], updates: u.value }) : u;
}

// The replica ----------------------------------------------------------------

export interface TableReplica {
  /** The monitored columns: every row holds each of them. */
  columns: string[];
  rows: ReadonlyMap<string, Readonly<Row>>;
}
export interface Replica {
  tables: ReadonlyMap<string, TableReplica>;
}

export interface RowChange {
  table: string;
  uuid: string;
  kind: 'insert' | 'modify' | 'delete';
  old?: Readonly<Row>;
  new?: Readonly<Row>;
}

/** An empty replica of the given tables; `undefined` columns means all of them. */
export function createReplica(schema: DatabaseSchema, monitored: Record<string, string[] | undefined>): Result<Replica> {
  const tables = new Map<string, TableReplica>();
  for (const [name, columns] of Object.entries(monitored)) {
    const t = schema.tables.get(name);
    if (!t) return fail(name, 'no such table');
    const cols = columns ?? [...t.columns.keys()].filter((c) => !c.startsWith('_'));
    for (const c of cols) if (!t.columns.has(c)) return fail(`${name}.${c}`, 'no such column');
    tables.set(name, { columns: cols, rows: new Map() });
  }
  return ok({ tables });
}

type Applied = Result<{ replica: Replica; changes: RowChange[] }>;

/** Copy-on-write access: each touched table is copied once per update. */
class Draft {
  readonly tables: Map<string, TableReplica>;
  private readonly copied = new Set<string>();
  readonly changes: RowChange[] = [];
  constructor(private readonly schema: DatabaseSchema, replica: Replica) {
    this.tables = new Map(replica.tables);
  }
  table(name: string): Result<{ schema: TableSchema; replica: TableReplica; rows: Map<string, Readonly<Row>> }> {
    const schema = this.schema.tables.get(name);
    const replica = this.tables.get(name);
    if (!schema || !replica) return fail(name, 'update for a table that is not monitored');
    if (!this.copied.has(name)) {
      this.copied.add(name);
      this.tables.set(name, { columns: replica.columns, rows: new Map(replica.rows) });
    }
    const t = this.tables.get(name)!;
    return ok({ schema, replica: t, rows: t.rows as Map<string, Readonly<Row>> });
  }
}

function decodeColumns(json: RowJson, table: TableSchema, path: string, typeOf: (t: ColumnType) => ColumnType): Result<Row> {
  const row: Row = {};
  for (const [name, datum] of Object.entries(json)) {
    const col = table.columns.get(name);
    if (!col) return fail(`${path}.${name}`, 'no such column');
    const v = decodeDatum(datum, typeOf(col.type), `${table.name}.${name}`);
    if (!v.ok) return v;
    row[name] = v.value;
  }
  return ok(row);
}

const same = (t: ColumnType): ColumnType => t;
const anySize = (t: ColumnType): ColumnType => ({ ...t, min: 0, max: Infinity });

function newRow(json: RowJson, table: TableSchema, replica: TableReplica, path: string): Result<Row> {
  const row: Row = {};
  for (const c of replica.columns) row[c] = defaultDatum(table.columns.get(c)!.type);
  const given = decodeColumns(json, table, path, same);
  return given.ok ? ok(Object.assign(row, given.value)) : given;
}

/** Folds an `update` notification (or a `monitor` reply) into the replica. */
export function applyUpdate(schema: DatabaseSchema, replica: Replica, updates: TableUpdates): Applied {
  const draft = new Draft(schema, replica);
  for (const [tableName, rows] of updates) {
    const t = draft.table(tableName);
    if (!t.ok) return t;
    for (const [uuid, ru] of rows) {
      const path = `${tableName}.${uuid}`;
      const existing = t.value.rows.get(uuid);
      if (ru.new && !ru.old) {
        if (existing) return fail(path, 'insert of a row that already exists');
        const row = newRow(ru.new, t.value.schema, t.value.replica, path);
        if (!row.ok) return row;
        t.value.rows.set(uuid, row.value);
        draft.changes.push({ table: tableName, uuid, kind: 'insert', new: row.value });
      } else if (ru.new && ru.old) {
        if (!existing) return fail(path, 'modify of an unknown row');
        // "new" holds every monitored column; merging keeps us safe if not.
        const given = decodeColumns(ru.new, t.value.schema, path, same);
        if (!given.ok) return given;
        const row = { ...existing, ...given.value };
        t.value.rows.set(uuid, row);
        draft.changes.push({ table: tableName, uuid, kind: 'modify', old: existing, new: row });
      } else {
        if (!existing) return fail(path, 'delete of an unknown row');
        t.value.rows.delete(uuid);
        draft.changes.push({ table: tableName, uuid, kind: 'delete', old: existing });
      }
    }
  }
  return ok({ replica: { tables: draft.tables }, changes: draft.changes });
}

/**
 * Applies one column's modify diff (ovsdb-server(7), update2):
 * - a map: each pair in the diff is added if its key is absent, removed if
 *   present with the same value, and replaces the value if present with another;
 * - a set that may hold more than one element: each element is toggled
 *   (the diff is the symmetric difference of old and new);
 * - a scalar or optional scalar (max 1): the diff is the new value.
 */
export function applyDiff(old: Value, diff: Value, type: ColumnType, path: string): Result<Value> {
  let result: Value;
  if (isMap(type)) {
    const map = new Map(old as Map<Atom, Atom>);
    for (const [k, v] of diff as Map<Atom, Atom>) {
      if (!map.has(k)) map.set(k, v);
      else if (map.get(k) === v) map.delete(k);
      else map.set(k, v);
    }
    result = map;
  } else if (type.max === 1) {
    return ok(diff);
  } else {
    const set = new Set(old as Atom[]);
    for (const a of diff as Atom[]) {
      if (set.has(a)) set.delete(a);
      else set.add(a);
    }
    result = [...set];
  }
  const n = result instanceof Map ? result.size : (result as Atom[]).length;
  if (n < type.min || n > type.max) return fail(path, `diff leaves ${n} element(s), outside [${type.min}, ${type.max}]`);
  return ok(result);
}

/** Folds an `update2`/`update3` notification (or a monitor_cond(_since) reply) into the replica. */
export function applyUpdate2(schema: DatabaseSchema, replica: Replica, updates: TableUpdates2): Applied {
  const draft = new Draft(schema, replica);
  for (const [tableName, rows] of updates) {
    const t = draft.table(tableName);
    if (!t.ok) return t;
    const table = t.value.schema;
    for (const [uuid, ru] of rows) {
      const path = `${tableName}.${uuid}`;
      const existing = t.value.rows.get(uuid);
      switch (ru.kind) {
        case 'initial':
        case 'insert': {
          if (existing) return fail(path, `${ru.kind} of a row that already exists`);
          const row = newRow(ru.row, table, t.value.replica, path);
          if (!row.ok) return row;
          t.value.rows.set(uuid, row.value);
          draft.changes.push({ table: tableName, uuid, kind: 'insert', new: row.value });
          break;
        }
        case 'modify': {
          if (!existing) return fail(path, 'modify of an unknown row');
          // A diff may be larger than the column allows (e.g. a toggle of two elements of a max-1 set).
          const diff = decodeColumns(ru.row, table, path, (ty) => (ty.max === 1 && !isMap(ty) ? ty : anySize(ty)));
          if (!diff.ok) return diff;
          const row: Row = { ...existing };
          for (const [name, d] of Object.entries(diff.value)) {
            const type = table.columns.get(name)!.type;
            const before = existing[name] ?? defaultDatum(type);
            const after = applyDiff(before, d, type, `${tableName}.${name}`);
            if (!after.ok) return after;
            row[name] = after.value;
          }
          t.value.rows.set(uuid, row);
          draft.changes.push({ table: tableName, uuid, kind: 'modify', old: existing, new: row });
          break;
        }
        case 'delete':
          if (!existing) return fail(path, 'delete of an unknown row');
          t.value.rows.delete(uuid);
          draft.changes.push({ table: tableName, uuid, kind: 'delete', old: existing });
          break;
      }
    }
  }
  return ok({ replica: { tables: draft.tables }, changes: draft.changes });
}
