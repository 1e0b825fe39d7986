// One OpenFlow 1.3 connection to a switch, over any stream socket: framing by
// the header's length, the version handshake, FEATURES for the datapath id,
// the role claim (role.ts), echo keepalive, and request/reply correlation by
// xid with timeouts, multipart reassembly and barriers. Whatever a bad peer
// does (garbage, a wrong length, another version, silence) ends this session
// only, with one 'disconnected' event and a reason.
import type { Socket } from 'node:net';
import {
  decodeMessage,
  encodeMessage,
  writeMessage,
  Writer,
  errorName,
  messageLength,
  OFP_ERROR_CODES,
  OFP_VERSION,
  OFPMPF_MORE,
  OFPT,
  OpenFlowDecodeError,
  type Message,
  type MultipartReplyBody,
  type MultipartRequestBody,
  type PortDesc,
} from '../../protocols/openflow/index.js';
import { claimRole, EQUAL, type RoleClaim } from './role.js';

/** Distributes a `Message` type over its union so callers can pass one message body without an xid. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type Outgoing = DistributiveOmit<Message, 'xid'>;

export type PacketIn = Extract<Message, { type: 'packet_in' }>;
export type FlowRemoved = Extract<Message, { type: 'flow_removed' }>;
export type PortStatus = Extract<Message, { type: 'port_status' }>;
export type OfError = Extract<Message, { type: 'error' }>;

export interface SessionOptions {
  /** Idle time before we send our own ECHO_REQUEST, ms (OVS's inactivity probe default is 5 s). */
  echoInterval?: number;
  /** No byte from the peer for this long after our echo: the session is dead, ms. */
  echoTimeout?: number;
  /** HELLO, FEATURES and the role claim must be done by then, ms. */
  handshakeTimeout?: number;
  /** Default timeout of a request, ms. */
  requestTimeout?: number;
  /** Most bytes a reassembled multipart reply may hold (10,000 flows take about 2 MB). */
  maxMultipartBytes?: number;
  /** The role to claim once the datapath id is known. */
  role?: RoleClaim;
  /** For logs: where the peer is. */
  peer?: string;
}

/** The switch answered a request with OFPT_ERROR. */
export class OpenFlowError extends Error {
  override name = 'OpenFlowError';
  constructor(
    readonly errorType: number,
    readonly code: number,
    readonly data: Uint8Array,
  ) {
    super(`switch error ${errorName(errorType, code)}`);
  }
}

export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
}

export class SessionClosedError extends Error {
  override name = 'SessionClosedError';
}

export interface SessionEvents {
  connected: (dpid: bigint) => void;
  disconnected: (reason: string) => void;
  packetIn: (m: PacketIn) => void;
  portStatus: (m: PortStatus) => void;
  flowRemoved: (m: FlowRemoved) => void;
  /** An asynchronous OFPT_ERROR (one that answers no pending request), or a message we could not decode. */
  error: (e: OpenFlowError | OpenFlowDecodeError) => void;
}

interface Pending {
  /** Takes one reply (of `bytes` on the wire); true when the request is answered in full. */
  take(m: Message, bytes: number): boolean;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Errors for a tracked one-way message are collected, not thrown. */
  collect?: OfError[];
}

export type SessionState = 'hello' | 'features' | 'role' | 'up' | 'closed';

const XID_MAX = 0xffffffff;

export class Session {
  readonly peer: string;
  state: SessionState = 'hello';
  datapathId: bigint | undefined;
  /** Port descriptions from FEATURES time on, kept current by PORT_STATUS. */
  readonly ports = new Map<number, PortDesc>();
  nTables = 0;
  private readonly opts: Required<Omit<SessionOptions, 'peer'>>;
  private buffered: Buffer | undefined;
  private nextXid = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly handlers: { [K in keyof SessionEvents]: SessionEvents[K][] } = {
    connected: [],
    disconnected: [],
    packetIn: [],
    portStatus: [],
    flowRemoved: [],
    error: [],
  };
  private lastRx = Date.now();
  private echoSentAt: number | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private corked = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  closeReason: string | undefined;

  constructor(
    private readonly socket: Socket,
    options: SessionOptions = {},
  ) {
    this.peer = options.peer ?? 'peer';
    this.opts = {
      echoInterval: options.echoInterval ?? 5_000,
      echoTimeout: options.echoTimeout ?? 5_000,
      handshakeTimeout: options.handshakeTimeout ?? 10_000,
      requestTimeout: options.requestTimeout ?? 30_000,
      maxMultipartBytes: options.maxMultipartBytes ?? 256 * 1024 * 1024,
      role: options.role ?? EQUAL,
    };
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.close(`socket error: ${err.code ?? err.message}`));
    socket.on('close', () => this.close('connection closed by peer'));
    socket.on('end', () => this.close('connection closed by peer'));
  }

  on<K extends keyof SessionEvents>(event: K, fn: SessionEvents[K]): this {
    this.handlers[event].push(fn);
    return this;
  }

  private emit<K extends keyof SessionEvents>(event: K, ...args: Parameters<SessionEvents[K]>): void {
    for (const fn of this.handlers[event]) (fn as (...a: Parameters<SessionEvents[K]>) => void)(...args);
  }

  /** Sends our HELLO at once (the switch drops a controller that is silent for about a second) and arms the timers. */
  start(): this {
    this.send({ type: 'hello', versions: [OFP_VERSION] });
    this.handshakeTimer = setTimeout(() => this.close(`handshake not done within ${this.opts.handshakeTimeout} ms (state ${this.state})`), this.opts.handshakeTimeout);
    const tick = Math.max(50, Math.min(this.opts.echoInterval, this.opts.echoTimeout) / 2);
    this.keepalive = setInterval(() => this.checkAlive(), tick);
    this.keepalive.unref();
    return this;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  private xid(): number {
    const x = this.nextXid;
    this.nextXid = this.nextXid >= XID_MAX ? 1 : this.nextXid + 1;
    return x;
  }

  /** Encodes and writes one message; returns its xid. */
  send(m: Outgoing, xid = this.xid()): number {
    if (this.closed) throw new SessionClosedError(`session ${this.peer} is closed: ${this.closeReason}`);
    const w = new Writer(m.type === 'packet_out' ? 64 + m.data.length : 256);
    writeMessage(w, m, xid);
    this.write(w.view8());
    return xid;
  }

  /**
   * Messages sent in one turn of the event loop (the packet-outs answering a
   * batch of packet-ins) leave in one socket write instead of one each.
   */
  private write(bytes: Uint8Array): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  /**
   * Writes many messages (a bulk install is thousands of flow-mods) in one
   * buffer and one socket write; returns their xids. The whole batch is
   * encoded first, so a flow that cannot be encoded sends none of it. Errors
   * that answer them are collected by `track` when asked.
   */
  sendMany(messages: Outgoing[], xids = this.reserveXids(messages.length)): number[] {
    if (this.closed) throw new SessionClosedError(`session ${this.peer} is closed: ${this.closeReason}`);
    // About 130 bytes per bundled flow-mod of the pipeline: sized so that a bulk install rarely grows the buffer.
    const w = new Writer(messages.length * 160 + 64);
    for (let i = 0; i < messages.length; i++) writeMessage(w, messages[i]!, xids[i]!);
    this.write(w.view8());
    return xids;
  }

  /**
   * Sends a request and resolves with the reply of the same xid (the whole
   * reassembled reply for a multipart request). An OFPT_ERROR with that xid
   * rejects with OpenFlowError.
   */
  request(m: Outgoing, timeout = this.opts.requestTimeout): Promise<Message> {
    const xid = this.xid();
    return this.sendFor(m, xid, this.expect(xid, timeout, `${m.type} (xid ${xid})`));
  }

  /**
   * Sends a request whose reply `reply` waits for. When the send throws (the
   * session closed meanwhile), the wait goes with it: its rejection would
   * otherwise be nobody's, an unhandled rejection.
   */
  private sendFor<T>(m: Outgoing, xid: number, reply: Promise<T>): Promise<T> {
    try {
      this.send(m, xid);
    } catch (e) {
      this.forget(xid);
      reply.catch(() => undefined);
      throw e;
    }
    return reply;
  }

  /** A pending entry for the reply to `xid`, a message the caller sends itself (pipelined, or inside a batch). */
  expect(xid: number, timeout = this.opts.requestTimeout, what = `xid ${xid}`): Promise<Message> {
    return this.wait(xid, timeout, what, (resolve) => (m) => (resolve(m), true));
  }

  private wait<T>(xid: number, timeout: number, what: string, taker: (resolve: (v: T) => void, reject: (e: Error) => void) => Pending['take']): Promise<T> {
    if (this.closed) return Promise.reject(new SessionClosedError(`session ${this.peer} is closed: ${this.closeReason}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        reject(new RequestTimeoutError(`${this.peer}: no answer to ${what} within ${timeout} ms`));
      }, timeout);
      this.pending.set(xid, { take: taker(resolve, reject), reject, timer });
    });
  }

  /** xids for messages the caller sends later with `send` or `sendMany`, so it can wait for their replies first. */
  reserveXids(n: number): number[] {
    return Array.from({ length: n }, () => this.xid());
  }

  /**
   * Collects the OFPT_ERRORs that answer one-way messages (flow-mods) sent
   * with these xids, until `untrack`. A barrier after them proves that every
   * error they caused has arrived (the switch answers in order).
   */
  track(xids: number[]): OfError[] {
    const errors: OfError[] = [];
    // One entry shared by every xid of the batch: a bulk install tracks ten thousand of them.
    const entry: Pending = { take: () => false, reject: () => undefined, timer: undefined, collect: errors };
    for (const xid of xids) this.pending.set(xid, entry);
    return errors;
  }

  /** Stops waiting for the reply to `xid` (its request failed some other way). */
  forget(xid: number): void {
    this.settle(xid);
  }

  untrack(xids: number[]): void {
    for (const xid of xids) if (this.pending.get(xid)?.collect) this.pending.delete(xid);
  }

  /** A multipart request; resolves with every part's body, in order, once the last part (no MORE flag) arrived. */
  multipart(body: MultipartRequestBody, timeout = this.opts.requestTimeout): Promise<MultipartReplyBody[]> {
    const xid = this.xid();
    const parts: MultipartReplyBody[] = [];
    let bytes = 0;
    const reply = this.wait<MultipartReplyBody[]>(xid, timeout, `multipart ${body.kind} (xid ${xid})`, (resolve, reject) => (m, len) => {
      if (m.type !== 'multipart_reply') {
        reject(new Error(`${this.peer}: multipart ${body.kind} answered by ${m.type}`));
        return true;
      }
      bytes += len;
      if (bytes > this.opts.maxMultipartBytes) {
        reject(new Error(`${this.peer}: multipart reply exceeds ${this.opts.maxMultipartBytes} bytes`));
        return true;
      }
      parts.push(m.body);
      if (m.flags & OFPMPF_MORE) return false;
      resolve(parts);
      return true;
    });
    return this.sendFor({ type: 'multipart_request', flags: 0, body }, xid, reply);
  }

  /** Resolves once the switch has processed everything sent before it. */
  async barrier(timeout = this.opts.requestTimeout): Promise<void> {
    await this.request({ type: 'barrier_request' }, timeout);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastRx = Date.now();
    this.echoSentAt = undefined;
    let buf = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    let off = 0;
    try {
      for (;;) {
        // The 16-bit length field bounds a message at 64 KiB, so the buffer never holds more than that plus one chunk.
        // Judge a header by its first bytes, before waiting for a length that garbage may have made up.
        const version = buf[off];
        if (version !== undefined && this.state !== 'hello' && version !== OFP_VERSION) {
          this.close(`protocol violation: message of version ${version} after negotiating OpenFlow 1.3`);
          return;
        }
        const type = buf[off + 1];
        if (type !== undefined && this.state === 'hello' && type !== OFPT.HELLO) {
          this.close(`protocol violation: first message is of type ${type}, not HELLO`);
          return;
        }
        const len = messageLength(buf, off);
        if (len === undefined) break;
        const raw = buf.subarray(off, off + len);
        off += len;
        this.onMessage(raw);
        if (this.closed) return;
      }
    } catch (e) {
      if (e instanceof OpenFlowDecodeError) {
        this.close(`framing error: ${e.reason} at byte ${e.offset}`);
        return;
      }
      throw e;
    }
    buf = buf.subarray(off);
    this.buffered = buf.length > 0 ? Buffer.from(buf) : undefined;
  }

  private onMessage(raw: Uint8Array): void {
    if (this.state === 'hello') return this.onHello(raw);
    let m: Message;
    try {
      m = decodeMessage(raw);
    } catch (e) {
      if (!(e instanceof OpenFlowDecodeError)) throw e;
      // A framed message we cannot read concerns that message only: fail its request, keep the session.
      const xid = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(4);
      const p = this.pending.get(xid);
      if (p && !p.collect) {
        this.settle(xid);
        p.reject(e);
      } else this.emit('error', e);
      return;
    }
    this.dispatch(m, raw.length);
  }

  private onHello(raw: Uint8Array): void {
    const type = raw[1];
    if (type !== OFPT.HELLO) {
      this.close(`protocol violation: first message is of type ${type}, not HELLO`);
      return;
    }
    const peerVersion = raw[0]!;
    let versions: number[] | undefined;
    try {
      const m = decodeMessage(raw);
      if (m.type === 'hello') versions = m.versions;
    } catch {
      versions = undefined;
    }
    // With a bitmap, the common versions decide; without one, the lower header version does (OF1.3 §6.3.1).
    const ok = versions ? versions.includes(OFP_VERSION) : peerVersion >= OFP_VERSION;
    if (!ok) {
      const offered = versions ? versions.map(versionName).join(', ') : versionName(peerVersion);
      const text = `weft speaks OpenFlow 1.3 only; the peer offered ${offered}`;
      const { type: errorType, code } = OFP_ERROR_CODES.OFPHFC_INCOMPATIBLE!;
      const bytes = encodeMessage({ type: 'error', xid: new DataView(raw.buffer, raw.byteOffset).getUint32(4), errorType, code, data: new TextEncoder().encode(text) });
      // The peer parses the error in the version it speaks, as OVS does for its own HELLO_FAILED.
      bytes[0] = Math.min(peerVersion, OFP_VERSION);
      this.socket.end(bytes);
      this.close(`version negotiation failed: ${text}`, false);
      return;
    }
    this.state = 'features';
    void this.handshake();
  }

  private async handshake(): Promise<void> {
    try {
      const f = await this.request({ type: 'features_request' });
      if (f.type !== 'features_reply') throw new Error(`FEATURES_REQUEST answered by ${f.type}`);
      this.datapathId = f.datapathId;
      this.nTables = f.nTables;
      // Whole frames to the controller on a table miss, too (a DHCP request is bigger than the default 128 bytes).
      this.send({ type: 'set_config', flags: 0, missSendLen: 0xffff });
      const ports = await this.multipart({ kind: 'port_desc' });
      for (const part of ports) if (part.kind === 'port_desc') for (const p of part.ports) this.ports.set(p.portNo, p);
      this.state = 'role';
      await claimRole(this, this.opts.role);
      if (this.closed) return;
      clearTimeout(this.handshakeTimer);
      this.state = 'up';
      this.emit('connected', f.datapathId);
    } catch (e) {
      this.close(`handshake failed: ${(e as Error).message}`);
    }
  }

  private settle(xid: number): void {
    const p = this.pending.get(xid);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(xid);
  }

  private dispatch(m: Message, bytes: number): void {
    switch (m.type) {
      case 'echo_request':
        this.send({ type: 'echo_reply', data: m.data }, m.xid);
        return;
      case 'packet_in':
        this.emit('packetIn', m);
        return;
      case 'port_status':
        if (m.reason === 1) this.ports.delete(m.port.portNo);
        else this.ports.set(m.port.portNo, m.port);
        this.emit('portStatus', m);
        return;
      case 'flow_removed':
        this.emit('flowRemoved', m);
        return;
      case 'error': {
        const p = this.pending.get(m.xid);
        const err = new OpenFlowError(m.errorType, m.code, m.data);
        if (p?.collect) p.collect.push(m);
        else if (p) {
          this.settle(m.xid);
          p.reject(err);
        } else this.emit('error', err);
        return;
      }
      default:
        break;
    }
    const p = this.pending.get(m.xid);
    if (p && !p.collect && p.take(m, bytes)) this.settle(m.xid);
  }

  private checkAlive(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.echoSentAt !== undefined) {
      if (now - this.echoSentAt >= this.opts.echoTimeout) this.close(`no answer to echo within ${this.opts.echoTimeout} ms`);
      return;
    }
    if (now - this.lastRx >= this.opts.echoInterval) {
      this.echoSentAt = now;
      this.send({ type: 'echo_request', data: new Uint8Array(0) });
    }
  }

  /** Closes the connection (idempotent); pending requests reject with SessionClosedError. */
  close(reason = 'closed by weft', destroy = true): void {
    if (this.closed) return;
    this.state = 'closed';
    this.closeReason = reason;
    clearTimeout(this.handshakeTimer);
    clearInterval(this.keepalive);
    this.buffered = undefined;
    if (destroy) this.socket.destroy();
    else setTimeout(() => this.socket.destroy(), 1000).unref();
    const err = new SessionClosedError(`session ${this.peer} closed: ${reason}`);
    for (const [xid, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(xid);
      if (!p.collect) p.reject(err);
    }
    this.emit('disconnected', reason);
  }
}

function versionName(v: number): string {
  return v >= 1 && v <= 6 ? `OpenFlow 1.${v - 1}` : `version ${v}`;
}
