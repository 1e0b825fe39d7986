// Datums (RFC 7047 §5.1) between the wire and friendly JS values, always by
// column type, because the wire form alone is ambiguous: a set of one
// element is sent bare, and a uuid is a string only when the type says so.
//
// Friendly values:
//   integer, real -> number (integers beyond 2^53 are rejected, not rounded)
//   boolean -> boolean, string -> string
//   uuid -> the uuid as a string; a named-uuid (insert's "uuid-name") -> NamedUuid
//   scalar column (min 1, max 1, no value type) -> the atom itself
//   any other set column, optional scalars included -> an array of atoms
//   map column -> a Map (never a plain object: keys are peer-controlled)

import { type Result, ok, fail, describe } from './errors.js';
import { type AtomJson, type BaseType, type ColumnType, type TableSchema, isScalar, isMap } from './schema.js';

export class NamedUuid {
  constructor(readonly name: string) {}
}
export const namedUuid = (name: string): NamedUuid => new NamedUuid(name);

export type Atom = number | boolean | string | NamedUuid;
export type Value = Atom | Atom[] | Map<Atom, Atom>;
export type Row = Record<string, Value>;

export type DatumJson = AtomJson | ['set', AtomJson[]] | ['map', [AtomJson, AtomJson][]];
export type RowJson = Record<string, DatumJson>;

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** A string that is equal for equal atoms, for duplicate and enum checks. */
function atomKey(a: Atom): string {
  if (a instanceof NamedUuid) return `n:${a.name}`;
  return `${typeof a}:${String(a)}`;
}

function countChars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function checkConstraints(a: Atom, base: BaseType, path: string): Result<Atom> {
  switch (base.type) {
    case 'integer':
      if (base.minInteger !== undefined && (a as number) < base.minInteger) return fail(path, `${a} is less than the minimum ${base.minInteger}`);
      if (base.maxInteger !== undefined && (a as number) > base.maxInteger) return fail(path, `${a} is greater than the maximum ${base.maxInteger}`);
      break;
    case 'real':
      if (base.minReal !== undefined && (a as number) < base.minReal) return fail(path, `${a} is less than the minimum ${base.minReal}`);
      if (base.maxReal !== undefined && (a as number) > base.maxReal) return fail(path, `${a} is greater than the maximum ${base.maxReal}`);
      break;
    case 'string': {
      const n = base.minLength !== undefined || base.maxLength !== undefined ? countChars(a as string) : 0;
      if (base.minLength !== undefined && n < base.minLength) return fail(path, `string is shorter than ${base.minLength} characters`);
      if (base.maxLength !== undefined && n > base.maxLength) return fail(path, `string is longer than ${base.maxLength} characters`);
      break;
    }
  }
  if (base.enum) {
    const key = atomKey(a);
    if (!base.enum.some((e) => atomKey(friendlyOf(e)) === key)) {
      return fail(path, `${JSON.stringify(a)} is not one of the allowed values`);
    }
  }
  return ok(a);
}

/** An enum atom, already type-checked by the schema parser, in friendly form. */
function friendlyOf(e: AtomJson): Atom {
  if (Array.isArray(e)) return e[0] === 'uuid' ? e[1] : new NamedUuid(e[1]);
  return e;
}

export function decodeAtom(json: unknown, base: BaseType, path: string): Result<Atom> {
  let a: Atom;
  switch (base.type) {
    case 'integer':
      if (typeof json !== 'number' || !Number.isSafeInteger(json)) return fail(path, `expected an integer, got ${describe(json)}`);
      a = json;
      break;
    case 'real':
      if (typeof json !== 'number' || !Number.isFinite(json)) return fail(path, `expected a real, got ${describe(json)}`);
      a = json;
      break;
    case 'boolean':
      if (typeof json !== 'boolean') return fail(path, `expected a boolean, got ${describe(json)}`);
      a = json;
      break;
    case 'string':
      if (typeof json !== 'string') return fail(path, `expected a string, got ${describe(json)}`);
      a = json;
      break;
    case 'uuid':
      if (Array.isArray(json) && json.length === 2 && json[0] === 'uuid' && isUuid(json[1])) a = json[1];
      else if (Array.isArray(json) && json.length === 2 && json[0] === 'named-uuid' && typeof json[1] === 'string' && NAME.test(json[1])) {
        a = new NamedUuid(json[1]);
      } else return fail(path, `expected ["uuid", ...] or ["named-uuid", ...], got ${describe(json)}`);
      break;
  }
  return checkConstraints(a, base, path);
}

export function encodeAtom(a: unknown, base: BaseType, path: string): Result<AtomJson> {
  switch (base.type) {
    case 'integer':
      if (typeof a !== 'number' || !Number.isSafeInteger(a)) return fail(path, `expected an integer, got ${describe(a)}`);
      break;
    case 'real':
      if (typeof a !== 'number' || !Number.isFinite(a)) return fail(path, `expected a real, got ${describe(a)}`);
      break;
    case 'boolean':
      if (typeof a !== 'boolean') return fail(path, `expected a boolean, got ${describe(a)}`);
      break;
    case 'string':
      if (typeof a !== 'string') return fail(path, `expected a string, got ${describe(a)}`);
      break;
    case 'uuid':
      if (a instanceof NamedUuid) {
        if (!NAME.test(a.name)) return fail(path, `"${a.name}" is not a valid uuid-name`);
      } else if (!isUuid(a)) return fail(path, `expected a uuid, got ${describe(a)}`);
      break;
  }
  const checked = checkConstraints(a as Atom, base, path);
  if (!checked.ok) return checked;
  if (base.type !== 'uuid') return ok(a as AtomJson);
  return ok(a instanceof NamedUuid ? ['named-uuid', a.name] : ['uuid', a as string]);
}

function checkCount(n: number, type: ColumnType, path: string): Result<void> {
  if (n < type.min) return fail(path, `expected at least ${type.min} element(s), got ${n}`);
  if (n > type.max) return fail(path, `expected at most ${type.max} element(s), got ${n}`);
  return ok(undefined);
}

/** Decodes a wire datum of the given column type; `path` names the column in errors. */
export function decodeDatum(json: unknown, type: ColumnType, path: string): Result<Value> {
  if (isMap(type)) {
    if (!Array.isArray(json) || json.length !== 2 || json[0] !== 'map' || !Array.isArray(json[1])) {
      return fail(path, `expected ["map", [...]], got ${describe(json)}`);
    }
    const pairs = json[1] as unknown[];
    const count = checkCount(pairs.length, type, path);
    if (!count.ok) return count;
    const map = new Map<Atom, Atom>();
    const seen = new Set<string>();
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i];
      if (!Array.isArray(pair) || pair.length !== 2) return fail(`${path}[${i}]`, 'expected a [key, value] pair');
      const k = decodeAtom(pair[0], type.key, `${path}[${i}].key`);
      if (!k.ok) return k;
      const v = decodeAtom(pair[1], type.value!, `${path}[${i}].value`);
      if (!v.ok) return v;
      const key = atomKey(k.value);
      if (seen.has(key)) return fail(`${path}[${i}]`, 'duplicate key in map');
      seen.add(key);
      map.set(k.value, v.value);
    }
    return ok(map);
  }
  let elements: unknown[];
  if (Array.isArray(json) && json[0] === 'set') {
    if (json.length !== 2 || !Array.isArray(json[1])) return fail(path, 'expected ["set", [...]]');
    elements = json[1] as unknown[];
  } else elements = [json];
  const count = checkCount(elements.length, type, path);
  if (!count.ok) return count;
  const atoms: Atom[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < elements.length; i++) {
    const a = decodeAtom(elements[i], type.key, type.max === 1 ? path : `${path}[${i}]`);
    if (!a.ok) return a;
    const key = atomKey(a.value);
    if (seen.has(key)) return fail(`${path}[${i}]`, 'duplicate element in set');
    seen.add(key);
    atoms.push(a.value);
  }
  return ok(isScalar(type) ? atoms[0]! : atoms);
}

/** Encodes a friendly value as OVS does: one-element sets bare, maps always tagged. */
export function encodeDatum(value: unknown, type: ColumnType, path: string): Result<DatumJson> {
  if (isMap(type)) {
    if (!(value instanceof Map)) return fail(path, `expected a Map, got ${describe(value)}`);
    const count = checkCount(value.size, type, path);
    if (!count.ok) return count;
    const pairs: [AtomJson, AtomJson][] = [];
    let i = 0;
    for (const [k, v] of value) {
      const kj = encodeAtom(k, type.key, `${path}[${i}].key`);
      if (!kj.ok) return kj;
      const vj = encodeAtom(v, type.value!, `${path}[${i}].value`);
      if (!vj.ok) return vj;
      pairs.push([kj.value, vj.value]);
      i++;
    }
    return ok(['map', pairs]);
  }
  if (isScalar(type)) return encodeAtom(value, type.key, path);
  if (!Array.isArray(value)) return fail(path, `expected an array, got ${describe(value)}`);
  const count = checkCount(value.length, type, path);
  if (!count.ok) return count;
  const atoms: AtomJson[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const a = encodeAtom(value[i], type.key, type.max === 1 ? path : `${path}[${i}]`);
    if (!a.ok) return a;
    const key = atomKey(value[i] as Atom);
    if (seen.has(key)) return fail(`${path}[${i}]`, 'duplicate element in set');
    seen.add(key);
    atoms.push(a.value);
  }
  return ok(atoms.length === 1 ? atoms[0]! : ['set', atoms]);
}

/** Validates a friendly value against a column type; the error names the column. */
export function validateDatum(value: unknown, type: ColumnType, path: string): Result<void> {
  const r = encodeDatum(value, type, path);
  return r.ok ? ok(undefined) : r;
}

function defaultAtom(base: BaseType): Atom {
  switch (base.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
  }
}

/** The value a column has when a row does not mention it (§5.1 default). */
export function defaultDatum(type: ColumnType): Value {
  if (isMap(type)) return new Map();
  if (type.min === 0) return [];
  const a = defaultAtom(type.key);
  return isScalar(type) ? a : [a];
}

/** Decodes the columns present in a wire row; unknown columns are an error. */
export function decodeRow(json: unknown, table: TableSchema, path = table.name): Result<Row> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail(path, `expected a row object, got ${describe(json)}`);
  const row: Row = {};
  for (const [name, datum] of Object.entries(json)) {
    const column = table.columns.get(name);
    if (!column) return fail(`${path}.${name}`, 'no such column');
    const v = decodeDatum(datum, column.type, `${table.name}.${name}`);
    if (!v.ok) return v;
    row[name] = v.value;
  }
  return ok(row);
}

/** Encodes a friendly row for insert/update/wait; unknown columns are an error. */
export function encodeRow(row: Record<string, unknown>, table: TableSchema): Result<RowJson> {
  const out: RowJson = {};
  for (const [name, value] of Object.entries(row)) {
    const column = table.columns.get(name);
    if (!column) return fail(`${table.name}.${name}`, 'no such column');
    const v = encodeDatum(value, column.type, `${table.name}.${name}`);
    if (!v.ok) return v;
    out[name] = v.value;
  }
  return ok(out);
}
