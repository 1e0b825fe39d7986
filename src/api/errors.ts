// The API's error vocabulary: JSON-RPC's standard codes and weft's own range
// (-32000 to -32099, reserved by the spec for implementation-defined server
// errors). Every refusal names the field at fault in `data.issues` so that
// the CLI and scripts can point at it.
import type { ZodError } from 'zod';
import { isConflict, type ModelIssue } from '../model/index.js';

export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The object does not exist, or belongs to a tenant the token cannot see. */
  NotFound: -32000,
  /** The call clashes with stored state: a name, VLAN, VNI, CIDR or address in use, or a stale `ifRevision`. */
  Conflict: -32001,
  /** No token, or a token that is unknown or revoked. */
  Unauthorized: -32002,
  /** A valid token without the scope the method needs (a tenant token calling an admin method). */
  Forbidden: -32003,
  /** The connection exceeded its call rate; retry later. */
  RateLimited: -32004,
  /** The call needs something this connection cannot give (events need a WebSocket). */
  Unsupported: -32005,
  /** The store is closed or failing; nothing was changed. */
  Unavailable: -32006,
  /** A `wait: true` call whose change is stored, but not every affected switch confirmed it in time. */
  NotConfirmed: -32007,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ERROR_DESCRIPTIONS: Record<ErrorCode, string> = {
  [-32700]: 'Parse error: the body or message is not JSON.',
  [-32600]: 'Invalid request: not a JSON-RPC 2.0 request object, an empty or oversized batch, or a body over the size limit.',
  [-32601]: 'Method not found.',
  [-32602]: 'Invalid params: `data.issues` lists every bad field as `{path, message}`.',
  [-32603]: 'Internal error: a bug; the call changed nothing and the daemon logged it.',
  [-32000]: "Not found: the object does not exist, or belongs to another tenant (answered identically, so a tenant token cannot probe other tenants' objects).",
  [-32001]: 'Conflict: the call clashes with stored state (name, VLAN, VNI, overlapping CIDR, reserved address or MAC in use, stale `ifRevision`); `data.issues` names the field.',
  [-32002]: 'Unauthorized: no bearer token, or an unknown or revoked one.',
  [-32003]: 'Forbidden: the token is valid but lacks the scope the method needs.',
  [-32004]: 'Rate limited: the connection exceeded its call budget; slow down and retry.',
  [-32005]: 'Unsupported here: the method needs a WebSocket connection.',
  [-32006]: 'Unavailable: the store refused or is closed; nothing was changed.',
  [-32007]: 'Not confirmed: the change is stored, but the hosts in `data.hosts` did not confirm it with a barrier within the wait timeout; their switches catch up when they can.',
};

export interface Issue {
  /** Dotted path of the field, e.g. `subnets.0.cidr`; empty for the params as a whole. */
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: { issues?: Issue[] } & Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function pathString(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

/** One issue per bad field, unknown keys each named on their own. */
export function zodIssues(error: ZodError, prefix: readonly PropertyKey[] = []): Issue[] {
  const out: Issue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: pathString([...prefix, ...issue.path, key]), message: 'unknown field' });
    } else {
      const missing = issue.code === 'invalid_type' && issue.message.endsWith('received undefined');
      out.push({ path: pathString([...prefix, ...issue.path]), message: missing ? 'required' : issue.message });
    }
  }
  return out;
}

function summary(issues: Issue[]): string {
  const first = issues[0];
  if (!first) return '';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${first.path ? `${first.path}: ` : ''}${first.message}${more}`;
}

export function invalidParams(issues: Issue[]): ApiError {
  return new ApiError(ErrorCode.InvalidParams, `Invalid params: ${summary(issues)}`, { issues });
}

export function fromZod(error: ZodError, prefix: readonly PropertyKey[] = []): ApiError {
  return invalidParams(zodIssues(error, prefix));
}

export function notFound(what: string): ApiError {
  return new ApiError(ErrorCode.NotFound, `${what} not found`);
}

export function conflict(issues: Issue[]): ApiError {
  return new ApiError(ErrorCode.Conflict, `Conflict: ${summary(issues)}`, { issues });
}

export function forbidden(message: string): ApiError {
  return new ApiError(ErrorCode.Forbidden, message);
}

/**
 * Model invariant issues as one API error: any clash with another object
 * makes it a conflict (the caller must change or remove something stored),
 * otherwise the values themselves are wrong.
 */
export function fromModelIssues(issues: readonly ModelIssue[], prefix: readonly PropertyKey[] = []): ApiError {
  const mapped = issues.map((i) => ({ path: pathString([...prefix, ...i.path]), message: i.message }));
  return issues.some(isConflict) ? conflict(mapped) : invalidParams(mapped);
}
