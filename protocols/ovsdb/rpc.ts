// JSON-RPC 1.0 as OVSDB uses it (RFC 7047 §4): requests carry an id,
// notifications an id of null, responses a result or an error. Builders
// return {method, params}; the session picks ids.

import { type Result, ok, fail, isObject, describe } from './errors.js';
import { type Operation, type OvsdbError, encodeOperation, decodeOvsdbError } from './operations.js';
import { type MonitorRequests, type MonitorCondRequests, encodeMonitorRequests } from './monitor.js';

export type Method =
  | 'list_dbs' | 'get_schema' | 'transact' | 'cancel' | 'monitor' | 'monitor_cond' | 'monitor_cond_since'
  | 'monitor_cancel' | 'update' | 'update2' | 'update3' | 'echo' | 'lock' | 'steal' | 'unlock' | 'locked'
  | 'stolen' | 'set_db_change_aware';

/** Any JSON but null; sessions use numbers, ovsdb-server echoes what it gets. */
export type RpcId = string | number | boolean | unknown[] | Record<string, unknown>;

export interface Call {
  method: Method;
  params: unknown[];
}

export type RpcMessage =
  | { kind: 'request'; id: RpcId; method: string; params: unknown[] }
  | { kind: 'notification'; method: string; params: unknown[] }
  | { kind: 'response'; id: RpcId | null; result: unknown }
  | { kind: 'error'; id: RpcId | null; error: OvsdbError };

// Calls ---------------------------------------------------------------------

export const listDbs = (): Call => ({ method: 'list_dbs', params: [] });
export const getSchema = (db: string): Call => ({ method: 'get_schema', params: [db] });
export const transact = (db: string, ops: Operation[]): Call => ({ method: 'transact', params: [db, ...ops.map(encodeOperation)] });
/** A notification: the server answers the cancelled transact with an error. */
export const cancel = (id: RpcId): Call => ({ method: 'cancel', params: [id] });
export const monitor = (db: string, monitorId: unknown, requests: MonitorRequests): Call => ({
  method: 'monitor',
  params: [db, monitorId, encodeMonitorRequests(requests)],
});
export const monitorCond = (db: string, monitorId: unknown, requests: MonitorCondRequests): Call => ({
  method: 'monitor_cond',
  params: [db, monitorId, encodeMonitorRequests(requests)],
});
export const monitorCondSince = (db: string, monitorId: unknown, requests: MonitorCondRequests, lastTxnId: string): Call => ({
  method: 'monitor_cond_since',
  params: [db, monitorId, encodeMonitorRequests(requests), lastTxnId],
});
export const monitorCancel = (monitorId: unknown): Call => ({ method: 'monitor_cancel', params: [monitorId] });
export const echo = (...params: unknown[]): Call => ({ method: 'echo', params });
export const lock = (lockId: string): Call => ({ method: 'lock', params: [lockId] });
export const steal = (lockId: string): Call => ({ method: 'steal', params: [lockId] });
export const unlock = (lockId: string): Call => ({ method: 'unlock', params: [lockId] });
export const setDbChangeAware = (aware = true): Call => ({ method: 'set_db_change_aware', params: [aware] });

// Envelopes ------------------------------------------------------------------

export const encodeRequest = (id: RpcId, call: Call): Record<string, unknown> => ({ id, method: call.method, params: call.params });
export const encodeNotification = (call: Call): Record<string, unknown> => ({ id: null, method: call.method, params: call.params });
export const encodeResponse = (id: RpcId | null, result: unknown): Record<string, unknown> => ({ id, result, error: null });
/** Shaped as ovsdb-server shapes it: no "result" member beside an error. */
export const encodeError = (id: RpcId | null, error: OvsdbError): Record<string, unknown> => ({
  id,
  error: error.details === undefined && error.syntax === undefined ? error.error : { ...error },
});

/** Classifies one framed JSON value. Unknown methods are the session's business, not an error here. */
export function decodeRpc(json: unknown): Result<RpcMessage> {
  if (!isObject(json)) return fail('message', `expected a JSON-RPC object, got ${describe(json)}`);
  const id = json.id;
  if (json.method !== undefined) {
    if (typeof json.method !== 'string') return fail('method', 'expected a string');
    if (!Array.isArray(json.params)) return fail('params', `expected an array, got ${describe(json.params)}`);
    if (id === undefined || id === null) return ok({ kind: 'notification', method: json.method, params: json.params });
    return ok({ kind: 'request', id: id as RpcId, method: json.method, params: json.params });
  }
  if (!('id' in json)) return fail('id', 'a response needs an id');
  if (json.error !== undefined && json.error !== null) {
    const e = decodeOvsdbError(json.error, 'error');
    return e.ok ? ok({ kind: 'error', id: id as RpcId | null, error: e.value }) : e;
  }
  if (!('result' in json)) return fail('result', 'a response needs a result or an error');
  return ok({ kind: 'response', id: id as RpcId | null, result: json.result });
}

// Typed replies and notifications --------------------------------------------

export function decodeListDbsResult(json: unknown): Result<string[]> {
  return Array.isArray(json) && json.every((s) => typeof s === 'string') ? ok(json) : fail('result', 'expected an array of database names');
}

/** The reply to lock and steal. */
export function decodeLockResult(json: unknown): Result<{ locked: boolean }> {
  return isObject(json) && typeof json.locked === 'boolean' ? ok({ locked: json.locked }) : fail('result', 'expected {"locked": boolean}');
}

/** The params of the `locked` and `stolen` notifications. */
export function decodeLockNotification(params: unknown[]): Result<string> {
  return params.length === 1 && typeof params[0] === 'string' ? ok(params[0]) : fail('params', 'expected [lock-id]');
}
