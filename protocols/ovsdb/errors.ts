// Every decoder in this package reports bad input as an OvsdbDecodeError
// (returned, never thrown), so a session can log it and close without a
// try/catch that would also swallow its own bugs.

export type DecodeErrorCode =
  | 'too-large' // a message beyond the configured size bound
  | 'too-deep' // nesting beyond the configured depth bound
  | 'syntax' // not JSON, or not UTF-8
  | 'unexpected' // JSON, but a top-level value that is not an object or array
  | 'dead' // the framer already failed; the stream cannot be resynchronised
  | 'invalid'; // well-formed JSON that is not the OVSDB value it should be

export class OvsdbDecodeError extends Error {
  override readonly name = 'OvsdbDecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
    /** Byte offset in the stream for framer errors; -1 for value-level errors. */
    readonly offset: number = -1,
    /** Where in the value the problem is, e.g. `Bridge.ports[2]` or `params[0]`. */
    readonly path: string = '',
  ) {
    super(path ? `${path}: ${message}` : offset >= 0 ? `${message} at byte ${offset}` : message);
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: OvsdbDecodeError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (path: string, message: string): { ok: false; error: OvsdbDecodeError } => ({
  ok: false,
  error: new OvsdbDecodeError('invalid', message, -1, path),
});

export function describe(json: unknown): string {
  if (json === null) return 'null';
  if (Array.isArray(json)) return 'an array';
  return typeof json === 'object' ? 'an object' : `${typeof json} ${truncate(JSON.stringify(json))}`;
}

function truncate(s: string | undefined): string {
  if (s === undefined) return '';
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

export function isObject(json: unknown): json is Record<string, unknown> {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}
