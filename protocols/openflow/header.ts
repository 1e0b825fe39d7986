// The OpenFlow 1.3 common header, the bounded reader and writer every codec
// in this directory uses, and the one error type decoders raise.

export const OFP_VERSION = 4;
export const OFP_HEADER_LEN = 8;
/** The largest message the 16-bit length field can describe. */
export const OFP_MAX_LEN = 0xffff;

/** Message type numbers of OpenFlow 1.3 (ofp_type). */
export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  GROUP_MOD: 15,
  PORT_MOD: 16,
  TABLE_MOD: 17,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  QUEUE_GET_CONFIG_REQUEST: 22,
  QUEUE_GET_CONFIG_REPLY: 23,
  ROLE_REQUEST: 24,
  ROLE_REPLY: 25,
  GET_ASYNC_REQUEST: 26,
  GET_ASYNC_REPLY: 27,
  SET_ASYNC: 28,
  METER_MOD: 29,
} as const;

/**
 * A malformed input. `offset` is the byte position, from the start of the
 * buffer handed to the decoder, where decoding could not go on.
 */
export class OpenFlowDecodeError extends Error {
  override readonly name = 'OpenFlowDecodeError';
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`OpenFlow decode error at offset ${offset}: ${reason}`);
  }
}

/**
 * A cursor over [start, end) of a buffer. Every read is checked against
 * `end`, so a length field cannot make a decoder look at bytes that belong
 * to a neighbour or lie past the buffer.
 */
export class Reader {
  private readonly view: DataView;
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    // Sub-readers share their parent's view: a flow-stats reply makes one per entry, field list and action.
    view?: DataView,
  ) {
    this.view = view ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(reason: string, at = this.pos): never {
    throw new OpenFlowDecodeError(at, reason);
  }

  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) this.fail(`${what}: needs ${n} bytes, ${this.remaining} left`);
  }

  u8(what = 'u8'): number {
    if (this.pos + 1 > this.end) this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'u16'): number {
    if (this.pos + 2 > this.end) this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    if (this.pos + 4 > this.end) this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    if (this.pos + 8 > this.end) this.need(8, what);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  /** An unsigned big-endian integer of `n` bytes (n ≤ 16). */
  uint(n: number, what = 'uint'): bigint {
    this.need(n, what);
    const at = this.pos;
    this.pos += n;
    // Up to 6 bytes fit a double exactly: one BigInt per value instead of one per byte.
    if (n <= 6) {
      let v = 0;
      for (let i = 0; i < n; i++) v = v * 256 + this.buf[at + i]!;
      return BigInt(v);
    }
    if (n === 8) return this.view.getBigUint64(at);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.buf[at + i]!);
    return v;
  }

  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.copy(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * A plain Uint8Array copy of [from, to): decoded values never alias the
   * input (Buffer.slice would), so callers may reuse their buffers.
   */
  copy(from: number, to: number): Uint8Array {
    if (from < 0 || to > this.end || from > to) this.fail(`range [${from}, ${to}) is outside the input`, from);
    return new Uint8Array(this.buf.subarray(from, to));
  }

  skip(n: number, what = 'padding'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** A reader over the next `n` bytes; this reader moves past them. */
  sub(n: number, what: string): Reader {
    this.need(n, what);
    const r = new Reader(this.buf, this.pos, this.pos + n, this.view);
    this.pos += n;
    return r;
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** A NUL-padded fixed-width string. */
  str(n: number, what = 'string'): string {
    const b = this.bytes(n, what);
    const z = b.indexOf(0);
    return new TextDecoder().decode(z < 0 ? b : b.subarray(0, z));
  }
}

const U64_MAX = 0xffffffffffffffffn;
const textEncoder = new TextEncoder();

/**
 * A growing big-endian byte sink. Give it the size it will probably reach
 * (a bundle of ten thousand flow-mods is about 1.3 MB) and it never copies.
 */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
    this.view = new DataView(this.buf.buffer);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    if (this.length + 1 > this.buf.length) this.grow(1);
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    if (this.length + 2 > this.buf.length) this.grow(2);
    this.view.setUint16(this.length, v & 0xffff);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    if (this.length + 4 > this.buf.length) this.grow(4);
    this.view.setUint32(this.length, v >>> 0);
    this.length += 4;
    return this;
  }

  u64(v: bigint): this {
    if (this.length + 8 > this.buf.length) this.grow(8);
    this.view.setBigUint64(this.length, v >= 0n && v <= U64_MAX ? v : BigInt.asUintN(64, v));
    this.length += 8;
    return this;
  }

  uint(v: bigint, n: number): this {
    if (this.length + n > this.buf.length) this.grow(n);
    const at = this.length;
    this.length += n;
    // Values of up to 6 bytes are exact as doubles: no BigInt per byte.
    if (n <= 6 && v >= 0n && v < 0x1000000000000n) {
      let x = Number(v);
      for (let i = n - 1; i >= 0; i--) {
        this.buf[at + i] = x % 256;
        x = Math.floor(x / 256);
      }
      return this;
    }
    if (n === 8) {
      this.view.setBigUint64(at, BigInt.asUintN(64, v));
      return this;
    }
    for (let i = n - 1; i >= 0; i--) {
      this.buf[at + i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return this;
  }

  bytes(b: Uint8Array): this {
    if (this.length + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  zeros(n: number): this {
    if (this.length + n > this.buf.length) this.grow(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
    return this;
  }

  /** Zero padding so that (length - from) is a multiple of 8. */
  pad8(from = 0): this {
    return this.zeros((8 - ((this.length - from) % 8)) % 8);
  }

  str(s: string, n: number): this {
    const b = textEncoder.encode(s).subarray(0, n - 1);
    this.bytes(b);
    return this.zeros(n - b.length);
  }

  setU16(at: number, v: number): this {
    this.view.setUint16(at, v & 0xffff);
    return this;
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  /**
   * The bytes in [from, to) without a copy. They stay valid and unchanged
   * after later writes (which only append, into this buffer or a new one),
   * so they can be handed to a socket while the writer goes on.
   */
  view8(from = 0, to = this.length): Uint8Array {
    return this.buf.subarray(from, to);
  }
}

export interface Header {
  version: number;
  type: number;
  length: number;
  xid: number;
}

export function encodeHeader(w: Writer, type: number, xid: number): number {
  const at = w.length;
  w.u8(OFP_VERSION).u8(type).u16(0).u32(xid);
  return at;
}

/** Writes the length of the message that started at `at`; rejects oversize ones. */
export function finishLength(w: Writer, at: number, what: string): void {
  const len = w.length - at;
  if (len > OFP_MAX_LEN) throw new RangeError(`${what} is ${len} bytes, more than an OpenFlow length can hold`);
  w.setU16(at + 2, len);
}

export function decodeHeader(r: Reader): Header {
  const start = r.pos;
  const version = r.u8('header version');
  const type = r.u8('header type');
  const length = r.u16('header length');
  const xid = r.u32('header xid');
  if (length < OFP_HEADER_LEN) r.fail(`header length ${length} is shorter than the header`, start + 2);
  return { version, type, length, xid };
}

/**
 * How many bytes the first message in `buf` occupies, or undefined when
 * more bytes are needed. Lets a stream reader frame messages without
 * decoding them.
 */
export function messageLength(buf: Uint8Array, offset = 0): number | undefined {
  if (buf.length - offset < OFP_HEADER_LEN) return undefined;
  const len = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  if (len < OFP_HEADER_LEN) throw new OpenFlowDecodeError(offset + 2, `header length ${len} is shorter than the header`);
  return buf.length - offset < len ? undefined : len;
}
