// OVSDB peers send JSON texts back to back with no delimiter (RFC 7047 §3.1
// leaves framing to JSON itself). The framer finds the end of each text by
// tracking only string state and bracket depth, then hands the slice to
// JSON.parse: scanning bytes is cheap, and JSON.parse is faster than any
// parser we could write. Bytes are kept raw until a value is complete, so a
// UTF-8 sequence split across chunks is never decoded in halves.

import { OvsdbDecodeError } from './errors.js';

export interface FramerOptions {
  /** Largest JSON text accepted, in bytes. */
  maxMessageBytes?: number;
  /** Deepest nesting of arrays and objects accepted. */
  maxDepth?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 256;

export interface FrameResult {
  /** Values completed by this chunk, in stream order. */
  values: unknown[];
  /** Set once the stream is broken; values before the fault are still delivered. */
  error?: OvsdbDecodeError;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class JsonFramer {
  private readonly maxBytes: number;
  private readonly maxDepth: number;
  /** Chunks (or their tails) that hold the value being scanned. */
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  /** Stream offset of the first byte of the value being scanned. */
  private valueStart = 0;
  /** Stream offset of the first byte of the next chunk. */
  private consumed = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private failure: OvsdbDecodeError | undefined;

  constructor(options: FramerOptions = {}) {
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** The error that killed the framer, if any. */
  get error(): OvsdbDecodeError | undefined {
    return this.failure;
  }

  /** True when no partial value is buffered: the stream may end here cleanly. */
  get idle(): boolean {
    return this.failure === undefined && this.depth === 0;
  }

  push(chunk: Uint8Array): FrameResult {
    const values: unknown[] = [];
    if (this.failure) return { values, error: this.deadError() };
    const base = this.consumed;
    this.consumed += chunk.length;
    let from = 0; // start of the unbuffered part of the current value in chunk
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (depth === 0) {
        if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
        if (b !== OPEN_BRACE && b !== OPEN_BRACKET) {
          return this.die(values, 'unexpected', 'expected "{" or "[" at the start of a message', base + i);
        }
        from = i;
        this.valueStart = base + i;
        depth = 1;
        continue;
      }
      if (b === QUOTE) inString = true;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (++depth > this.maxDepth) {
          return this.die(values, 'too-deep', `nesting deeper than ${this.maxDepth}`, base + i);
        }
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        if (--depth === 0) {
          const size = this.partBytes + (i + 1 - from);
          if (size > this.maxBytes) {
            return this.die(values, 'too-large', `message larger than ${this.maxBytes} bytes`, base + i);
          }
          const parsed = this.parse(chunk.subarray(from, i + 1));
          if (parsed instanceof OvsdbDecodeError) return this.fail(values, parsed);
          values.push(parsed);
        }
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    if (depth > 0) {
      const tail = chunk.subarray(from);
      this.partBytes += tail.length;
      if (this.partBytes > this.maxBytes) {
        return this.die(values, 'too-large', `message larger than ${this.maxBytes} bytes`, this.valueStart + this.maxBytes);
      }
      // Copy: the caller may reuse its buffer, and we may hold this for long.
      if (tail.length > 0) this.parts.push(Uint8Array.prototype.slice.call(tail));
    }
    return { values };
  }

  /** The stream ended: an error if it ended inside a value. */
  end(): OvsdbDecodeError | undefined {
    if (this.failure) return this.failure;
    if (this.depth > 0) {
      this.failure = new OvsdbDecodeError('syntax', 'stream ended inside a message', this.consumed);
      this.release();
    }
    return this.failure;
  }

  private parse(last: Uint8Array): unknown {
    let bytes = last;
    if (this.parts.length > 0) {
      this.parts.push(last);
      bytes = Buffer.concat(this.parts, this.partBytes + last.length);
      this.release();
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return new OvsdbDecodeError('syntax', 'message is not valid UTF-8', this.valueStart);
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      return new OvsdbDecodeError('syntax', `invalid JSON (${(e as Error).message})`, this.valueStart);
    }
  }

  private die(values: unknown[], code: 'too-large' | 'too-deep' | 'unexpected', message: string, offset: number): FrameResult {
    return this.fail(values, new OvsdbDecodeError(code, message, offset));
  }

  private fail(values: unknown[], error: OvsdbDecodeError): FrameResult {
    this.failure = error;
    this.release();
    return { values, error };
  }

  private deadError(): OvsdbDecodeError {
    return new OvsdbDecodeError('dead', `stream already failed: ${this.failure!.message}`, this.failure!.offset);
  }

  private release(): void {
    this.parts = [];
    this.partBytes = 0;
  }
}

/** Frames a whole byte string at once: every value, or the first error. */
export function frameAll(bytes: Uint8Array, options?: FramerOptions): { values: unknown[]; error?: OvsdbDecodeError } {
  const framer = new JsonFramer(options);
  const result = framer.push(bytes);
  const error = result.error ?? framer.end();
  return error ? { values: result.values, error } : { values: result.values };
}

/** Encodes one value for the wire. OVSDB needs no separator between texts. */
export function encodeMessage(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
