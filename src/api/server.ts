// The API's transports: HTTP POST /rpc (single calls and batches, keep-alive),
// WebSocket /rpc (calls and notifications), GET /healthz, over TLS when given
// a certificate. Every limit is enforced here or in the endpoint, and every
// misbehaviour ends with an answer or a closed connection, never an exception
// that reaches the process.
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearer, type TokenAuth } from './auth.js';
import { ErrorCode } from './errors.js';
import type { Principal, Session } from './registry.js';
import type { RpcConnection, RpcEndpoint } from './rpc.js';

export interface ServerLimits {
  /** Largest HTTP body or WebSocket message, in bytes. */
  maxBody: number;
  /** Interval of WebSocket pings; a client that has not answered the previous one is dropped. */
  pingInterval: number;
  /** A WebSocket whose unsent output exceeds this many bytes is dropped (a client that does not read). */
  maxBuffered: number;
  /** Most open connections (HTTP and WebSocket together). */
  maxConnections: number;
}

export interface ServerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ServeOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string };
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function rpcError(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
}

export class ApiServer {
  private server: http.Server | undefined;
  private readonly wss: WebSocketServer;
  private readonly httpConnections = new WeakMap<Socket, RpcConnection>();
  private readonly sockets = new Set<WebSocket>();
  private readonly principals = new WeakMap<WebSocket, Principal>();
  private pinger: NodeJS.Timeout | undefined;
  private unRevoke: (() => void) | undefined;
  private address: { host: string; port: number; secure: boolean } | undefined;

  constructor(
    private readonly endpoint: RpcEndpoint,
    private readonly auth: TokenAuth,
    private readonly limits: ServerLimits,
    private readonly log: ServerLog,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxBody, perMessageDeflate: false });
  }

  /** `http://HOST:PORT` or `https://...`, once listening. */
  url(): string | undefined {
    if (!this.address) return undefined;
    const host = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    return `${this.address.secure ? 'https' : 'http'}://${host}:${this.address.port}`;
  }

  async listen(options: ServeOptions): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    const server = options.tls
      ? https.createServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }, handler)
      : http.createServer(handler);
    server.maxConnections = this.limits.maxConnections;
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'api listener error'));
    this.server = server;
    const a = server.address() as AddressInfo;
    this.address = { host: a.address, port: a.port, secure: options.tls !== undefined };
    this.pinger = setInterval(() => this.ping(), this.limits.pingInterval);
    this.pinger.unref();
    this.unRevoke = this.auth.onRevoke((id) => {
      for (const ws of this.sockets) if (this.principals.get(ws)?.tokenId === id) ws.close(4001, 'token revoked');
    });
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    this.unRevoke?.();
    for (const ws of this.sockets) ws.close(1001, 'weft is stopping');
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => {
        for (const ws of this.sockets) ws.terminate();
        server.closeAllConnections();
      }, 1000).unref();
    });
  }

  private ping(): void {
    for (const ws of this.sockets) {
      const state = ws as WebSocket & { weftAlive?: boolean };
      if (state.weftAlive === false) {
        this.log.debug({}, 'api websocket client did not answer ping; dropping it');
        ws.terminate();
        continue;
      }
      state.weftAlive = false;
      ws.ping();
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => undefined);
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return this.reply(res, 405, JSON.stringify({ error: 'use GET' }), { allow: 'GET' });
      return this.reply(res, 200, JSON.stringify({ status: 'ok' }));
    }
    if (path !== '/rpc') return this.reply(res, 404, JSON.stringify({ error: 'not found; the API is at /rpc' }));
    if (req.method !== 'POST') return this.reply(res, 405, rpcError(ErrorCode.InvalidRequest, 'Invalid Request: use POST /rpc (or a WebSocket)'), { allow: 'POST' });

    const principal = this.auth.verify(bearer(req.headers.authorization));
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.limits.maxBody) return this.tooLarge(req, res);

    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > this.limits.maxBody) {
        over = true;
        this.tooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => req.socket.destroy());
    req.on('end', () => {
      if (over) return;
      if (!principal) {
        return this.reply(res, 401, rpcError(ErrorCode.Unauthorized, 'Unauthorized: send Authorization: Bearer TOKEN'), { 'www-authenticate': 'Bearer' });
      }
      const conn = this.httpConnection(req.socket, principal);
      this.endpoint.handle(Buffer.concat(chunks).toString('utf8'), conn).then(
        (answer) => (answer === undefined ? this.reply(res, 204, '') : this.reply(res, 200, answer)),
        (err: unknown) => {
          this.log.error({ err }, 'api request failed');
          this.reply(res, 500, rpcError(ErrorCode.InternalError, 'Internal error'));
        },
      );
    });
  }

  /** Calls on one keep-alive connection share a rate budget; a new token on the same socket gets its own context. */
  private httpConnection(socket: Socket, principal: Principal): RpcConnection {
    const known = this.httpConnections.get(socket);
    if (known && known.ctx.principal.tokenId === principal.tokenId) return known;
    const session: Session = { transport: 'http' };
    const conn = this.endpoint.newConnection({ principal, session });
    if (known) conn.bucket = known.bucket;
    this.httpConnections.set(socket, conn);
    return conn;
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse): void {
    this.reply(res, 413, rpcError(ErrorCode.InvalidRequest, `Invalid Request: the body exceeds ${this.limits.maxBody} bytes`), { connection: 'close' });
    res.on('finish', () => req.socket.destroy());
  }

  private reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    const refuse = (status: string, body: string) => {
      socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    if (path !== '/rpc') return refuse('404 Not Found', JSON.stringify({ error: 'the API is at /rpc' }));
    const principal = this.auth.verify(bearer(req.headers.authorization));
    if (!principal) return refuse('401 Unauthorized', rpcError(ErrorCode.Unauthorized, 'Unauthorized: send Authorization: Bearer TOKEN'));
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, principal));
  }

  private onSocket(ws: WebSocket, principal: Principal): void {
    this.sockets.add(ws);
    this.principals.set(ws, principal);
    const closers: (() => void)[] = [];
    const send = (text: string) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > this.limits.maxBuffered) {
        this.log.warn({}, 'api websocket client reads too slowly; dropping it');
        ws.terminate();
        return;
      }
      ws.send(text);
    };
    const session: Session = {
      transport: 'ws',
      notify: (method, params) => send(JSON.stringify({ jsonrpc: '2.0', method, params })),
      onClose: (fn) => closers.push(fn),
    };
    const conn = this.endpoint.newConnection({ principal, session });
    const state = ws as WebSocket & { weftAlive?: boolean };
    state.weftAlive = true;
    ws.on('pong', () => {
      state.weftAlive = true;
    });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      this.endpoint.handle(text, conn).then(
        (answer) => {
          if (answer !== undefined) send(answer);
        },
        (err: unknown) => {
          this.log.error({ err }, 'api websocket message failed');
          send(rpcError(ErrorCode.InternalError, 'Internal error'));
        },
      );
    });
    // An oversized or malformed frame: ws closes the socket (1009/1002) and reports it here.
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      this.sockets.delete(ws);
      for (const fn of closers.splice(0)) fn();
    });
  }
}
