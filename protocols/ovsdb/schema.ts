// Database schemas as `get_schema` returns them (RFC 7047 §3.2), parsed into
// a shape the datum codec can use directly: every column type normalised to
// {key, value?, min, max} and "unlimited" to Infinity.

import { type Result, ok, fail, isObject, describe } from './errors.js';

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';
const ATOMIC_TYPES: readonly string[] = ['integer', 'real', 'boolean', 'string', 'uuid'];

/** A wire atom: what may appear inside a set, a map or bare (§5.1). */
export type AtomJson = number | boolean | string | ['uuid', string] | ['named-uuid', string];

export interface BaseType {
  type: AtomicType;
  /** Allowed values, as wire atoms; absent when any value of the type is allowed. */
  enum?: AtomJson[];
  minInteger?: number;
  maxInteger?: number;
  minReal?: number;
  maxReal?: number;
  minLength?: number;
  maxLength?: number;
  refTable?: string;
  refType?: 'strong' | 'weak';
}

export interface ColumnType {
  key: BaseType;
  value?: BaseType;
  min: number;
  /** Infinity for "unlimited". */
  max: number;
}

export interface ColumnSchema {
  name: string;
  type: ColumnType;
  ephemeral: boolean;
  mutable: boolean;
}

export interface TableSchema {
  name: string;
  /** Includes the implicit `_uuid` and `_version` columns. */
  columns: Map<string, ColumnSchema>;
  maxRows?: number;
  isRoot: boolean;
  indexes: string[][];
}

export interface DatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Map<string, TableSchema>;
}

export const UUID_TYPE: ColumnType = { key: { type: 'uuid' }, min: 1, max: 1 };

/** Scalar: exactly one atom. Anything else is a set (no value type) or a map. */
export const isScalar = (t: ColumnType): boolean => !t.value && t.min === 1 && t.max === 1;
export const isMap = (t: ColumnType): boolean => t.value !== undefined;
export const isSet = (t: ColumnType): boolean => !t.value && !(t.min === 1 && t.max === 1);

// RFC 7047 §3.1 <id>; also keeps "__proto__" and friends out of row objects.
const ID = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const validId = (s: unknown): s is string => typeof s === 'string' && ID.test(s) && !FORBIDDEN.has(s);

function parseBaseType(json: unknown, path: string): Result<BaseType> {
  if (typeof json === 'string') {
    return ATOMIC_TYPES.includes(json) ? ok({ type: json as AtomicType }) : fail(path, `unknown atomic type "${json}"`);
  }
  if (!isObject(json)) return fail(path, `expected an atomic type, got ${describe(json)}`);
  const type = json.type;
  if (typeof type !== 'string' || !ATOMIC_TYPES.includes(type)) return fail(`${path}.type`, 'unknown atomic type');
  const base: BaseType = { type: type as AtomicType };
  const num = (k: 'minInteger' | 'maxInteger' | 'minReal' | 'maxReal' | 'minLength' | 'maxLength') => {
    const v = json[k];
    if (v === undefined) return true;
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    base[k] = v;
    return true;
  };
  for (const k of ['minInteger', 'maxInteger', 'minReal', 'maxReal', 'minLength', 'maxLength'] as const) {
    if (!num(k)) return fail(`${path}.${k}`, 'expected a number');
  }
  if (json.refTable !== undefined) {
    if (type !== 'uuid' || !validId(json.refTable)) return fail(`${path}.refTable`, 'expected a table name on a uuid');
    base.refTable = json.refTable;
    const refType = json.refType ?? 'strong';
    if (refType !== 'strong' && refType !== 'weak') return fail(`${path}.refType`, 'expected "strong" or "weak"');
    base.refType = refType;
  }
  if (json.enum !== undefined) {
    // An enum is itself a datum of the base type: one atom or ["set", [...]].
    const e = json.enum;
    const atoms = Array.isArray(e) && e[0] === 'set' && e.length === 2 && Array.isArray(e[1]) ? (e[1] as unknown[]) : [e];
    for (const a of atoms) {
      if (!atomMatchesType(a, base.type)) return fail(`${path}.enum`, `${describe(a)} is not a ${base.type}`);
    }
    base.enum = atoms as AtomJson[];
  }
  return ok(base);
}

/** Whether a wire atom has the given atomic type (named-uuid counts as uuid). */
export function atomMatchesType(a: unknown, type: AtomicType): a is AtomJson {
  switch (type) {
    case 'integer':
      return typeof a === 'number' && Number.isInteger(a);
    case 'real':
      return typeof a === 'number' && Number.isFinite(a);
    case 'boolean':
      return typeof a === 'boolean';
    case 'string':
      return typeof a === 'string';
    case 'uuid':
      return Array.isArray(a) && a.length === 2 && (a[0] === 'uuid' || a[0] === 'named-uuid') && typeof a[1] === 'string';
  }
}

export function parseColumnType(json: unknown, path = 'type'): Result<ColumnType> {
  if (!isObject(json)) {
    const key = parseBaseType(json, path);
    return key.ok ? ok({ key: key.value, min: 1, max: 1 }) : key;
  }
  const key = parseBaseType(json.key, `${path}.key`);
  if (!key.ok) return key;
  const t: ColumnType = { key: key.value, min: 1, max: 1 };
  if (json.value !== undefined) {
    const value = parseBaseType(json.value, `${path}.value`);
    if (!value.ok) return value;
    t.value = value.value;
  }
  if (json.min !== undefined) {
    if (json.min !== 0 && json.min !== 1) return fail(`${path}.min`, 'expected 0 or 1');
    t.min = json.min;
  }
  if (json.max !== undefined) {
    if (json.max === 'unlimited') t.max = Infinity;
    else if (typeof json.max === 'number' && Number.isInteger(json.max) && json.max >= 1) t.max = json.max;
    else return fail(`${path}.max`, 'expected a positive integer or "unlimited"');
  }
  if (t.min > t.max) return fail(path, 'min exceeds max');
  return ok(t);
}

export function parseSchema(json: unknown): Result<DatabaseSchema> {
  if (!isObject(json)) return fail('schema', `expected an object, got ${describe(json)}`);
  if (!validId(json.name)) return fail('schema.name', 'expected an identifier');
  const version = json.version ?? '0.0.0';
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+$/.test(version)) return fail('schema.version', 'expected x.y.z');
  if (json.cksum !== undefined && typeof json.cksum !== 'string') return fail('schema.cksum', 'expected a string');
  if (!isObject(json.tables)) return fail('schema.tables', 'expected an object');
  const tables = new Map<string, TableSchema>();
  for (const [name, tj] of Object.entries(json.tables)) {
    const path = name;
    if (!validId(name) || name.startsWith('_')) return fail(path, 'invalid table name');
    if (!isObject(tj) || !isObject(tj.columns)) return fail(`${path}.columns`, 'expected an object');
    const columns = new Map<string, ColumnSchema>();
    columns.set('_uuid', { name: '_uuid', type: UUID_TYPE, ephemeral: false, mutable: false });
    columns.set('_version', { name: '_version', type: UUID_TYPE, ephemeral: false, mutable: false });
    for (const [cname, cj] of Object.entries(tj.columns)) {
      const cpath = `${name}.${cname}`;
      if (!validId(cname) || cname.startsWith('_')) return fail(cpath, 'invalid column name');
      if (!isObject(cj)) return fail(cpath, 'expected an object');
      const type = parseColumnType(cj.type, `${cpath}.type`);
      if (!type.ok) return type;
      if (cj.ephemeral !== undefined && typeof cj.ephemeral !== 'boolean') return fail(`${cpath}.ephemeral`, 'expected a boolean');
      if (cj.mutable !== undefined && typeof cj.mutable !== 'boolean') return fail(`${cpath}.mutable`, 'expected a boolean');
      columns.set(cname, { name: cname, type: type.value, ephemeral: cj.ephemeral === true, mutable: cj.mutable !== false });
    }
    const table: TableSchema = { name, columns, isRoot: tj.isRoot === true, indexes: [] };
    if (tj.maxRows !== undefined) {
      if (typeof tj.maxRows !== 'number' || !Number.isInteger(tj.maxRows) || tj.maxRows < 1) return fail(`${path}.maxRows`, 'expected a positive integer');
      table.maxRows = tj.maxRows;
    }
    if (tj.indexes !== undefined) {
      if (!Array.isArray(tj.indexes)) return fail(`${path}.indexes`, 'expected an array');
      for (const index of tj.indexes) {
        if (!Array.isArray(index) || index.length === 0 || !index.every((c) => typeof c === 'string' && columns.has(c))) {
          return fail(`${path}.indexes`, 'expected arrays of column names');
        }
        table.indexes.push(index as string[]);
      }
    }
    tables.set(name, table);
  }
  for (const table of tables.values()) {
    for (const col of table.columns.values()) {
      for (const base of [col.type.key, col.type.value]) {
        if (base?.refTable && !tables.has(base.refTable)) {
          return fail(`${table.name}.${col.name}`, `refTable ${base.refTable} is not a table of this schema`);
        }
      }
    }
  }
  const schema: DatabaseSchema = { name: json.name, version, tables };
  if (typeof json.cksum === 'string') schema.cksum = json.cksum;
  return ok(schema);
}

function encodeBaseType(b: BaseType): unknown {
  const keys = Object.keys(b).filter((k) => k !== 'type');
  if (keys.length === 0) return b.type;
  const out: Record<string, unknown> = { type: b.type };
  if (b.enum) out.enum = b.enum.length === 1 ? b.enum[0] : ['set', b.enum];
  for (const k of ['minInteger', 'maxInteger', 'minReal', 'maxReal', 'minLength', 'maxLength', 'refTable', 'refType'] as const) {
    if (b[k] !== undefined) out[k] = b[k];
  }
  return out;
}

export function encodeColumnType(t: ColumnType): unknown {
  const key = encodeBaseType(t.key);
  if (isScalar(t) && typeof key === 'string') return key;
  const out: Record<string, unknown> = { key };
  if (t.value) out.value = encodeBaseType(t.value);
  if (t.min !== 1) out.min = t.min;
  if (t.max !== 1) out.max = t.max === Infinity ? 'unlimited' : t.max;
  return out;
}

/** The schema as `get_schema` would send it (implicit columns left out). */
export function encodeSchema(s: DatabaseSchema): unknown {
  const tables: Record<string, unknown> = {};
  for (const t of s.tables.values()) {
    const columns: Record<string, unknown> = {};
    for (const c of t.columns.values()) {
      if (c.name.startsWith('_')) continue;
      const cj: Record<string, unknown> = { type: encodeColumnType(c.type) };
      if (c.ephemeral) cj.ephemeral = true;
      if (!c.mutable) cj.mutable = false;
      columns[c.name] = cj;
    }
    const tj: Record<string, unknown> = { columns };
    if (t.isRoot) tj.isRoot = true;
    if (t.maxRows !== undefined) tj.maxRows = t.maxRows;
    if (t.indexes.length > 0) tj.indexes = t.indexes;
    tables[t.name] = tj;
  }
  const out: Record<string, unknown> = { name: s.name, version: s.version, tables };
  if (s.cksum !== undefined) out.cksum = s.cksum;
  return out;
}
