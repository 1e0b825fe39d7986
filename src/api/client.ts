// A small client of the admin API, over HTTP (keep-alive) or one WebSocket
// (pipelined calls, notifications). The CLI, the tests and the benchmark use
// it; deploy/examples/ws-client.mjs shows the same protocol with `ws` alone.
import http from 'node:http';
import https from 'node:https';
import { WebSocket } from 'ws';

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: { issues?: { path: string; message: string }[] } & Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export interface ClientOptions {
  /** Base URL of the daemon, e.g. `http://127.0.0.1:8080`; `/rpc` is appended. */
  url: string;
  token?: string;
  /** Milliseconds before a call fails (default 30 s). */
  timeout?: number;
  /** PEM CA certificate(s) to trust for an https/wss daemon, besides the system's. */
  ca?: string | Buffer;
}

interface Response {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

function settle<T>(r: Response): T {
  if (r.error) throw new RpcError(r.error.code, r.error.message, r.error.data as RpcError['data']);
  return r.result as T;
}

export interface ApiClient {
  call<T = unknown>(method: string, params?: object): Promise<T>;
  close(): Promise<void>;
}

/** Calls over HTTP POST, reusing one keep-alive connection. */
export class HttpClient implements ApiClient {
  private readonly agent: http.Agent;
  private readonly target: URL;
  private next = 1;

  constructor(private readonly options: ClientOptions) {
    this.target = new URL('/rpc', options.url);
    const secure = this.target.protocol === 'https:';
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(options.ca ? { ca: options.ca } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Posts raw text and returns the status and body as received (tests send malformed bodies with it). */
  post(body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    const request = this.target.protocol === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = request(
        this.target,
        {
          method: 'POST',
          agent: this.agent,
          timeout: this.options.timeout ?? 30_000,
          headers: {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${this.target.href} within the timeout`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async call<T = unknown>(method: string, params: object = {}): Promise<T> {
    const id = this.next++;
    const { status, body } = await this.post(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    let response: Response;
    try {
      response = JSON.parse(body) as Response;
    } catch {
      throw new Error(`${this.target.href} answered HTTP ${status} without JSON-RPC`);
    }
    return settle<T>(response);
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** Calls over one WebSocket; calls are pipelined, answers matched by id. */
export class WsClient implements ApiClient {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(method: string, params: unknown) => void>();
  private closed: Error | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.onMessage(data.toString()));
    socket.on('close', (code, reason) => this.fail(new Error(`connection closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`)));
    socket.on('error', (err) => this.fail(err));
  }

  static connect(options: ClientOptions): Promise<WsClient> {
    const url = new URL('/rpc', options.url);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      handshakeTimeout: options.timeout ?? 30_000,
      perMessageDeflate: false,
      ...(options.ca ? { ca: options.ca } : {}),
    });
    return new Promise((resolve, reject) => {
      socket.once('open', () => {
        socket.off('error', reject);
        resolve(new WsClient(socket));
      });
      socket.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Response;
            if (body.error) return reject(new RpcError(body.error.code, body.error.message));
          } catch {
            /* not JSON: reported below */
          }
          reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`));
        });
      });
      socket.once('error', reject);
    });
  }

  /** Listens to notifications (e.g. `event`). */
  onNotification(listener: (method: string, params: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    for (const m of Array.isArray(message) ? message : [message]) {
      const r = m as Response & { method?: string; params?: unknown };
      if (typeof r.method === 'string') {
        for (const l of this.listeners) l(r.method, r.params);
        continue;
      }
      const waiter = typeof r.id === 'number' ? this.pending.get(r.id) : undefined;
      if (waiter) {
        this.pending.delete(r.id as number);
        waiter.resolve(r);
      }
    }
  }

  private fail(err: Error): void {
    this.closed ??= err;
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
  }

  /** Sends raw text (tests use it for malformed messages). */
  sendRaw(text: string): void {
    this.socket.send(text);
  }

  async call<T = unknown>(method: string, params: object = {}): Promise<T> {
    if (this.closed) throw this.closed;
    const id = this.next++;
    const response = await new Promise<Response>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
    return settle<T>(response);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
