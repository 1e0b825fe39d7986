// One JSON-RPC 1.0 connection to an ovsdb-server, whichever side opened it:
// weft is always the client (it asks, the server answers and notifies). The
// session owns the socket and guarantees that whatever the peer does (goes
// silent, sends garbage, a 100 MB message, one byte a second, stops reading)
// ends in one `close` with a reason and never in an exception or an
// unhandled rejection that reaches the process.
import type { Duplex } from 'node:stream';
import {
  JsonFramer,
  decodeRpc,
  encodeError,
  encodeMessage,
  encodeNotification,
  encodeRequest,
  encodeResponse,
  type Call,
  type OvsdbError,
} from '../../protocols/ovsdb/index.js';

export interface SessionOptions {
  /**
   * Inactivity probe, ms (OVS's default is 5 s; 0 turns it off): after this
   * long without a complete message from the peer the session sends an echo,
   * and it drops the peer after another probe interval still without one.
   * Only complete messages count, so a peer that dribbles bytes without ever
   * finishing a message is dropped like a silent one.
   */
  probeInterval?: number;
  /** A request without an answer after this many ms fails with a timeout, ms. */
  requestTimeout?: number;
  /** Largest message accepted from the peer, bytes. */
  maxMessageBytes?: number;
  /** Unsent output beyond this many bytes means the peer does not read: drop it. */
  maxBufferedBytes?: number;
  /** Most requests in flight at once; more are refused at once rather than queued without bound. */
  maxPending?: number;
}

export const DEFAULT_SESSION_OPTIONS: Required<SessionOptions> = {
  probeInterval: 5_000,
  requestTimeout: 30_000,
  maxMessageBytes: 32 * 1024 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxPending: 1024,
};

/** The server answered a request with an error. */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly method: string,
    readonly error: OvsdbError,
  ) {
    super(`${method}: ${error.error}${error.details ? ` (${error.details})` : ''}`);
  }
}

/** The session closed (or was closed) before the request was answered. */
export class SessionClosedError extends Error {
  override name = 'SessionClosedError';
}

/** No answer within the request timeout. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
}

interface Pending {
  method: string;
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export type NotificationHandler = (method: string, params: unknown[]) => void;

export interface SessionStats {
  /** Requests sent, by method. */
  sent: Record<string, number>;
  received: number;
}

export class Session {
  private readonly opts: Required<SessionOptions>;
  private readonly framer: JsonFramer;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closedReason: string | undefined;
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  private readonly notificationHandlers: NotificationHandler[] = [];
  private probeTimer: NodeJS.Timeout | undefined;
  /** Time of the last complete message from the peer. */
  private lastHeard = Date.now();
  private probing = false;
  readonly stats: SessionStats = { sent: {}, received: 0 };
  readonly connectedAt = new Date();

  constructor(
    private readonly socket: Duplex,
    /** How logs and the API name the peer (`tcp:198.19.1.1:50312`, `unix:/run/db.sock`). */
    readonly peer: string,
    options: SessionOptions = {},
  ) {
    this.opts = { ...DEFAULT_SESSION_OPTIONS, ...options };
    this.framer = new JsonFramer({ maxMessageBytes: this.opts.maxMessageBytes });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.close(this.framer.idle ? 'peer closed the connection' : 'peer closed the connection inside a message'));
    socket.on('close', () => this.close('connection closed'));
    socket.on('error', (err: NodeJS.ErrnoException) => this.close(`socket error: ${err.code ?? err.message}`));
    if (this.opts.probeInterval > 0) this.armProbe();
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  get closeReason(): string | undefined {
    return this.closedReason;
  }

  onNotification(handler: NotificationHandler): void {
    this.notificationHandlers.push(handler);
  }

  /** Runs once when the session ends, at once if it already has. */
  onClose(handler: (reason: string) => void): void {
    if (this.closedReason !== undefined) handler(this.closedReason);
    else this.closeHandlers.push(handler);
  }

  /** Sends a request and resolves with its result; rejects with RpcError, RequestTimeoutError or SessionClosedError. */
  request(call: Call, timeout = this.opts.requestTimeout): Promise<unknown> {
    if (this.closedReason !== undefined) return Promise.reject(new SessionClosedError(`session closed: ${this.closedReason}`));
    if (this.pending.size >= this.opts.maxPending) return Promise.reject(new Error(`more than ${this.opts.maxPending} requests in flight`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeoutError(`${call.method}: no answer within ${timeout} ms`));
      }, timeout);
      timer.unref();
      this.pending.set(id, { method: call.method, resolve, reject, timer });
      this.stats.sent[call.method] = (this.stats.sent[call.method] ?? 0) + 1;
      this.write(encodeRequest(id, call));
    });
  }

  /** Sends a notification (no answer expected), e.g. `cancel`. */
  notify(call: Call): void {
    if (this.closedReason === undefined) this.write(encodeNotification(call));
  }

  /** Ends the session; pending requests reject with SessionClosedError. Idempotent. */
  close(reason = 'closed by weft'): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new SessionClosedError(`${p.method}: session closed: ${reason}`));
    }
    this.pending.clear();
    // A peer that never reads would keep end() waiting; destroy frees the socket at once.
    this.socket.destroy();
    for (const h of this.closeHandlers.splice(0)) {
      try {
        h(reason);
      } catch {
        /* a close handler's bug must not stop the others */
      }
    }
  }

  private write(message: unknown): void {
    const socket = this.socket as Duplex & { writableLength: number };
    socket.write(encodeMessage(message));
    if (socket.writableLength > this.opts.maxBufferedBytes) this.close(`peer does not read: more than ${this.opts.maxBufferedBytes} bytes unsent`);
  }

  private onData(chunk: Buffer): void {
    if (this.closedReason !== undefined) return;
    const { values, error } = this.framer.push(chunk);
    for (const v of values) {
      if (this.closedReason !== undefined) return;
      this.lastHeard = Date.now();
      this.probing = false;
      this.stats.received++;
      this.onMessage(v);
    }
    if (error) this.close(`malformed input: ${error.message}`);
  }

  private onMessage(json: unknown): void {
    const m = decodeRpc(json);
    if (!m.ok) return this.close(`malformed JSON-RPC: ${m.error.message}`);
    const msg = m.value;
    switch (msg.kind) {
      case 'request':
        // The server's keepalive: answer at once, or it drops us (LAB.md pitfall 5).
        if (msg.method === 'echo') this.write(encodeResponse(msg.id, msg.params));
        else this.write(encodeError(msg.id, { error: 'unknown method', details: `weft does not serve ${msg.method.slice(0, 64)}` }));
        return;
      case 'notification':
        for (const h of this.notificationHandlers) h(msg.method, msg.params);
        return;
      case 'response':
      case 'error': {
        const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
        // Answers to our own probes (string ids) and late answers after a timeout land here too.
        if (!p) return;
        this.pending.delete(msg.id as number);
        clearTimeout(p.timer);
        if (msg.kind === 'response') p.resolve(msg.result);
        else p.reject(new RpcError(p.method, msg.error));
        return;
      }
    }
  }

  private armProbe(): void {
    const interval = this.opts.probeInterval;
    const silent = Date.now() - this.lastHeard;
    const wait = Math.max(0, (this.probing ? 2 * interval : interval) - silent);
    this.probeTimer = setTimeout(() => this.probe(), wait);
    this.probeTimer.unref();
  }

  private probe(): void {
    if (this.closedReason !== undefined) return;
    const silent = Date.now() - this.lastHeard;
    const interval = this.opts.probeInterval;
    if (silent >= 2 * interval && this.probing) return this.close(`inactivity probe: no message for ${silent} ms`);
    if (silent >= interval && !this.probing) {
      this.probing = true;
      // A string id never collides with request ids; the answer counts as activity.
      this.write(encodeRequest('echo', { method: 'echo', params: [] }));
      this.stats.sent.echo = (this.stats.sent.echo ?? 0) + 1;
    }
    if (this.closedReason === undefined) this.armProbe();
  }
}
