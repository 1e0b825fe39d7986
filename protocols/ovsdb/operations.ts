// The operations of a `transact` request (RFC 7047 §5.2), their results and
// errors. Operations carry wire rows and datums, so they can be built, sent
// and decoded without a schema; `condition`, `mutation` and `encodeRow` turn
// friendly values into wire form with the column type when there is one.

import { type Result, ok, fail, isObject, describe } from './errors.js';
import { type TableSchema, type ColumnType, isMap } from './schema.js';
import { type DatumJson, type RowJson, encodeDatum, isUuid } from './datum.js';

export const CONDITION_FUNCTIONS = ['==', '!=', '<', '<=', '>', '>=', 'includes', 'excludes'] as const;
export type ConditionFunction = (typeof CONDITION_FUNCTIONS)[number];
/** `true`/`false` are the constant conditions ovsdb-server accepts (RFC 7047bis). */
export type Condition = [column: string, fn: ConditionFunction, value: DatumJson] | boolean;

export const MUTATORS = ['+=', '-=', '*=', '/=', '%=', 'insert', 'delete'] as const;
export type Mutator = (typeof MUTATORS)[number];
export type Mutation = [column: string, mutator: Mutator, value: DatumJson];

export type Operation =
  | { op: 'insert'; table: string; row: RowJson; uuidName?: string; uuid?: string }
  | { op: 'select'; table: string; where: Condition[]; columns?: string[] }
  | { op: 'update'; table: string; where: Condition[]; row: RowJson }
  | { op: 'mutate'; table: string; where: Condition[]; mutations: Mutation[] }
  | { op: 'delete'; table: string; where: Condition[] }
  | {
      op: 'wait';
      table: string;
      where: Condition[];
      /** ovsdb-server treats absent as none; ovs-vsctl leaves it out with no rows. */
      columns?: string[];
      until: '==' | '!=';
      rows: RowJson[];
      /** Milliseconds; absent waits forever, 0 checks once. */
      timeout?: number;
    }
  | { op: 'commit'; durable: boolean }
  | { op: 'abort' }
  | { op: 'comment'; comment: string }
  | { op: 'assert'; lock: string };

/** The error strings of RFC 7047 §3.1 and §5.2; servers may send others. */
export const OVSDB_ERRORS = [
  'referential integrity violation',
  'constraint violation',
  'resources exhausted',
  'I/O error',
  'duplicate uuid-name',
  'domain error',
  'range error',
  'timed out',
  'not supported',
  'aborted',
  'not owner',
  'syntax error',
  'unknown database',
  'unknown method',
  'unknown monitor',
] as const;

export interface OvsdbError {
  error: string;
  details?: string;
  syntax?: string;
}

export type OperationResult =
  | { kind: 'insert'; uuid: string }
  | { kind: 'select'; rows: RowJson[] }
  | { kind: 'count'; count: number }
  | { kind: 'empty' }
  | { kind: 'error'; error: OvsdbError };

export type TransactOutcome =
  | { ok: true; results: OperationResult[] }
  /** `index` is the failed operation, or `ops.length` for an error found at commit. */
  | { ok: false; index: number; error: OvsdbError; results: (OperationResult | null)[] };

// Builders taking friendly values -------------------------------------------

/**
 * A condition on a column, its value encoded by the column's type. Ordering
 * functions compare scalars; `includes`/`excludes` take a (sub)set or map.
 */
export function condition(table: TableSchema, column: string, fn: ConditionFunction, value: unknown): Result<Condition> {
  const col = table.columns.get(column);
  if (!col) return fail(`${table.name}.${column}`, 'no such column');
  const path = `${table.name}.${column}`;
  let type: ColumnType = col.type;
  if (fn === 'includes' || fn === 'excludes') type = { ...type, min: 0, max: Infinity };
  else if (fn !== '==' && fn !== '!=') {
    if (isMap(type) || type.max !== 1 || (type.key.type !== 'integer' && type.key.type !== 'real')) {
      return fail(path, `"${fn}" applies only to integer or real scalars`);
    }
  }
  const v = encodeDatum(value, type, path);
  return v.ok ? ok([column, fn, v.value]) : v;
}

/**
 * A mutation, its value encoded by the type the mutator needs: an atom for
 * arithmetic (unconstrained: only the result is checked), a set or map of
 * any size for insert, and for deleting from a map either a Map or an array
 * of keys.
 */
export function mutation(table: TableSchema, column: string, mutator: Mutator, value: unknown): Result<Mutation> {
  const col = table.columns.get(column);
  const path = `${table.name}.${column}`;
  if (!col) return fail(path, 'no such column');
  let type: ColumnType;
  if (mutator === 'insert' || mutator === 'delete') {
    type = { ...col.type, min: 0, max: Infinity };
    if (mutator === 'delete' && isMap(col.type) && Array.isArray(value)) type = { key: col.type.key, min: 0, max: Infinity };
  } else {
    if (isMap(col.type) || (col.type.key.type !== 'integer' && col.type.key.type !== 'real')) {
      return fail(path, `"${mutator}" applies only to integer or real columns`);
    }
    type = { key: { type: col.type.key.type }, min: 1, max: 1 };
  }
  const v = encodeDatum(value, type, path);
  return v.ok ? ok([column, mutator, v.value]) : v;
}

// Wire encoding ---------------------------------------------------------------

export function encodeOperation(op: Operation): Record<string, unknown> {
  switch (op.op) {
    case 'insert': {
      const out: Record<string, unknown> = { op: 'insert', table: op.table, row: op.row };
      if (op.uuidName !== undefined) out['uuid-name'] = op.uuidName;
      if (op.uuid !== undefined) out.uuid = op.uuid;
      return out;
    }
    case 'select':
      return op.columns ? { op: 'select', table: op.table, where: op.where, columns: op.columns } : { op: 'select', table: op.table, where: op.where };
    case 'update':
      return { op: 'update', table: op.table, where: op.where, row: op.row };
    case 'mutate':
      return { op: 'mutate', table: op.table, where: op.where, mutations: op.mutations };
    case 'delete':
      return { op: 'delete', table: op.table, where: op.where };
    case 'wait': {
      const out: Record<string, unknown> = { op: 'wait', table: op.table, where: op.where, until: op.until, rows: op.rows };
      if (op.columns !== undefined) out.columns = op.columns;
      if (op.timeout !== undefined) out.timeout = op.timeout;
      return out;
    }
    case 'commit':
      return { op: 'commit', durable: op.durable };
    case 'abort':
      return { op: 'abort' };
    case 'comment':
      return { op: 'comment', comment: op.comment };
    case 'assert':
      return { op: 'assert', lock: op.lock };
  }
}

// Wire decoding (what a server, or a test, receives) ---------------------------

const isString = (v: unknown): v is string => typeof v === 'string';
const isRow = (v: unknown): v is RowJson => isObject(v);

function decodeWhere(json: unknown, path: string): Result<Condition[]> {
  if (!Array.isArray(json)) return fail(path, `expected an array of conditions, got ${describe(json)}`);
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (typeof c === 'boolean') continue;
    if (!Array.isArray(c) || c.length !== 3 || !isString(c[0]) || !(CONDITION_FUNCTIONS as readonly unknown[]).includes(c[1])) {
      return fail(`${path}[${i}]`, 'expected [column, function, value]');
    }
  }
  return ok(json as Condition[]);
}

function decodeColumns(json: unknown, path: string): Result<string[]> {
  return Array.isArray(json) && json.every(isString) ? ok(json) : fail(path, 'expected an array of column names');
}

export function decodeOperation(json: unknown, path = 'op'): Result<Operation> {
  if (!isObject(json)) return fail(path, `expected an operation object, got ${describe(json)}`);
  const op = json.op;
  const table = json.table;
  const needTable = (): Result<string> => (isString(table) ? ok(table) : fail(`${path}.table`, 'expected a table name'));
  switch (op) {
    case 'insert': {
      const t = needTable();
      if (!t.ok) return t;
      if (!isRow(json.row ?? {})) return fail(`${path}.row`, 'expected a row object');
      const out: Operation = { op, table: t.value, row: (json.row ?? {}) as RowJson };
      if (json['uuid-name'] !== undefined) {
        if (!isString(json['uuid-name'])) return fail(`${path}.uuid-name`, 'expected a string');
        out.uuidName = json['uuid-name'];
      }
      if (json.uuid !== undefined) {
        if (!isUuid(json.uuid)) return fail(`${path}.uuid`, 'expected a uuid');
        out.uuid = json.uuid;
      }
      return ok(out);
    }
    case 'select':
    case 'update':
    case 'mutate':
    case 'delete':
    case 'wait': {
      const t = needTable();
      if (!t.ok) return t;
      const where = decodeWhere(json.where, `${path}.where`);
      if (!where.ok) return where;
      if (op === 'delete') return ok({ op, table: t.value, where: where.value });
      if (op === 'select') {
        if (json.columns === undefined) return ok({ op, table: t.value, where: where.value });
        const columns = decodeColumns(json.columns, `${path}.columns`);
        return columns.ok ? ok({ op, table: t.value, where: where.value, columns: columns.value }) : columns;
      }
      if (op === 'update') {
        return isRow(json.row) ? ok({ op, table: t.value, where: where.value, row: json.row }) : fail(`${path}.row`, 'expected a row object');
      }
      if (op === 'mutate') {
        const ms = json.mutations;
        if (!Array.isArray(ms)) return fail(`${path}.mutations`, 'expected an array');
        for (let i = 0; i < ms.length; i++) {
          const m = ms[i];
          if (!Array.isArray(m) || m.length !== 3 || !isString(m[0]) || !(MUTATORS as readonly unknown[]).includes(m[1])) {
            return fail(`${path}.mutations[${i}]`, 'expected [column, mutator, value]');
          }
        }
        return ok({ op, table: t.value, where: where.value, mutations: ms as Mutation[] });
      }
      if (json.until !== '==' && json.until !== '!=') return fail(`${path}.until`, 'expected "==" or "!="');
      if (!Array.isArray(json.rows) || !json.rows.every(isRow)) return fail(`${path}.rows`, 'expected an array of rows');
      const out: Operation = { op, table: t.value, where: where.value, until: json.until, rows: json.rows };
      if (json.columns !== undefined) {
        const columns = decodeColumns(json.columns, `${path}.columns`);
        if (!columns.ok) return columns;
        out.columns = columns.value;
      }
      if (json.timeout !== undefined) {
        if (typeof json.timeout !== 'number' || !Number.isInteger(json.timeout) || json.timeout < 0) return fail(`${path}.timeout`, 'expected milliseconds');
        out.timeout = json.timeout;
      }
      return ok(out);
    }
    case 'commit':
      return typeof json.durable === 'boolean' ? ok({ op, durable: json.durable }) : fail(`${path}.durable`, 'expected a boolean');
    case 'abort':
      return ok({ op });
    case 'comment':
      return isString(json.comment) ? ok({ op, comment: json.comment }) : fail(`${path}.comment`, 'expected a string');
    case 'assert':
      return isString(json.lock) ? ok({ op, lock: json.lock }) : fail(`${path}.lock`, 'expected a lock name');
    default:
      return fail(`${path}.op`, `unknown operation ${describe(op)}`);
  }
}

/** An error object (RFC 7047 §3.1) from a result, or a bare error string. */
export function decodeOvsdbError(json: unknown, path: string): Result<OvsdbError> {
  if (isString(json)) return ok({ error: json });
  if (!isObject(json) || !isString(json.error)) return fail(path, `expected an error, got ${describe(json)}`);
  const e: OvsdbError = { error: json.error };
  if (json.details !== undefined) {
    if (!isString(json.details)) return fail(`${path}.details`, 'expected a string');
    e.details = json.details;
  }
  if (json.syntax !== undefined) {
    if (!isString(json.syntax)) return fail(`${path}.syntax`, 'expected a string');
    e.syntax = json.syntax;
  }
  return ok(e);
}

export function encodeOperationResult(r: OperationResult): Record<string, unknown> {
  switch (r.kind) {
    case 'insert':
      return { uuid: ['uuid', r.uuid] };
    case 'select':
      return { rows: r.rows };
    case 'count':
      return { count: r.count };
    case 'empty':
      return {};
    case 'error':
      return { ...r.error };
  }
}

export function decodeOperationResult(json: unknown, path = 'result'): Result<OperationResult> {
  if (!isObject(json)) return fail(path, `expected a result object, got ${describe(json)}`);
  if (json.error !== undefined && json.error !== null) {
    const e = decodeOvsdbError(json, path);
    return e.ok ? ok({ kind: 'error', error: e.value }) : e;
  }
  if (json.uuid !== undefined) {
    const u = json.uuid;
    return Array.isArray(u) && u.length === 2 && u[0] === 'uuid' && isUuid(u[1]) ? ok({ kind: 'insert', uuid: u[1] }) : fail(`${path}.uuid`, 'expected ["uuid", ...]');
  }
  if (json.rows !== undefined) {
    return Array.isArray(json.rows) && json.rows.every(isRow) ? ok({ kind: 'select', rows: json.rows }) : fail(`${path}.rows`, 'expected an array of rows');
  }
  if (json.count !== undefined) {
    return typeof json.count === 'number' && Number.isSafeInteger(json.count) && json.count >= 0 ? ok({ kind: 'count', count: json.count }) : fail(`${path}.count`, 'expected a count');
  }
  return ok({ kind: 'empty' });
}

/**
 * Reads a transact reply (§4.1.3): one result per operation up to the first
 * failure, `null` after it, and possibly one more error for a fault found
 * only at commit, such as a referential integrity violation.
 */
export function decodeTransactResult(json: unknown, opCount: number): Result<TransactOutcome> {
  if (!Array.isArray(json)) return fail('result', `expected an array, got ${describe(json)}`);
  if (json.length < opCount || json.length > opCount + 1) {
    return fail('result', `expected ${opCount} or ${opCount + 1} results, got ${json.length}`);
  }
  const results: (OperationResult | null)[] = [];
  let failure: { index: number; error: OvsdbError } | undefined;
  for (let i = 0; i < json.length; i++) {
    if (json[i] === null && failure) {
      results.push(null);
      continue;
    }
    const r = decodeOperationResult(json[i], `result[${i}]`);
    if (!r.ok) return r;
    if (r.value.kind === 'error') failure ??= { index: i, error: r.value.error };
    else if (i === opCount) return fail(`result[${i}]`, 'an extra result must be an error');
    results.push(r.value);
  }
  if (failure) return ok({ ok: false, ...failure, results });
  return ok({ ok: true, results: results as OperationResult[] });
}
