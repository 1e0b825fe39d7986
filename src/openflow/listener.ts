// OpenFlow transports. Passive targets (`ptcp:`, `pssl:`, `punix:`) accept
// switches that were given weft as their controller; active targets (`tcp:`,
// `ssl:`, `unix:`) are dialled and redialled with a backoff that doubles from
// 1 s to 8 s, as OVS's own reconnect does, and starts over once a connection
// has lasted. Each connected socket goes to the plane with a peer name.
import { readFileSync, rmSync, statSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { formatTarget, type ActiveTarget, type PassiveTarget } from '../config/target.js';

/** PEM files for `pssl:` and `ssl:`. OVS has one SSL table for manager and controller connections, so the OVSDB plane's files fit. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

export type OnSocket = (socket: Socket, peer: string) => void;

function tlsContext(files: TlsFiles): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(files.ca) };
}

const bracket = (h: string): string => (h.includes(':') ? `[${h}]` : h);
const hostOf = (a: string | undefined): string => (a ?? '?').replace(/^::ffff:/, '');

export class SwitchListener {
  readonly name: string;
  private server: net.Server | undefined;

  constructor(
    readonly target: PassiveTarget,
    private readonly onSocket: OnSocket,
    private readonly tlsFiles?: TlsFiles,
  ) {
    this.name = formatTarget(target);
  }

  async start(): Promise<void> {
    const t = this.target;
    let server: net.Server;
    if (t.scheme === 'pssl') {
      if (!this.tlsFiles) throw Object.assign(new Error(`${this.name} needs a TLS certificate, key and CA`), { exitCode: 2 });
      server = tls.createServer({ ...tlsContext(this.tlsFiles), requestCert: true, rejectUnauthorized: true, handshakeTimeout: 10_000 });
      server.on('secureConnection', (s: tls.TLSSocket) => this.accept(s, 'ssl'));
      server.on('tlsClientError', (_err, s) => s.destroy());
    } else {
      server = net.createServer((s) => this.accept(s, t.scheme === 'punix' ? 'unix' : 'tcp'));
    }
    server.maxConnections = 4096;
    if (t.scheme === 'punix') removeStaleSocket(t.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        resolve();
      };
      if (t.scheme === 'punix') server.listen(t.path, done);
      else server.listen({ port: t.port, host: t.host ?? '0.0.0.0' }, done);
    });
    this.server = server;
  }

  private accept(socket: Socket, scheme: 'tcp' | 'ssl' | 'unix'): void {
    socket.setNoDelay(true);
    const peer = scheme === 'unix' ? `unix:${(this.target as { path: string }).path}` : `${scheme}:${bracket(hostOf(socket.remoteAddress))}:${socket.remotePort}`;
    this.onSocket(socket, peer);
  }

  /** `ptcp:6653:0.0.0.0` with the real port when the config said 0. */
  address(): string {
    const t = this.target;
    if (t.scheme === 'punix' || !this.server) return this.name;
    const a = this.server.address() as AddressInfo | null;
    return a ? `${t.scheme}:${a.port}:${bracket(a.address)}` : this.name;
  }

  port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.target.scheme === 'punix') rmSync(this.target.path, { force: true });
  }
}

function removeStaleSocket(path: string): void {
  try {
    if (statSync(path).isSocket()) rmSync(path);
  } catch {
    /* absent */
  }
}

export interface DialerOptions {
  tls?: TlsFiles;
  minBackoff?: number;
  maxBackoff?: number;
  connectTimeout?: number;
  onFailure?(reason: string, retryIn: number): void;
}

export class SwitchDialer {
  readonly name: string;
  private stopped = true;
  private backoff: number;
  private timer: NodeJS.Timeout | undefined;
  private socket: Socket | undefined;
  private readonly min: number;
  private readonly max: number;

  constructor(
    readonly target: ActiveTarget,
    private readonly onSocket: OnSocket,
    private readonly options: DialerOptions = {},
  ) {
    this.name = formatTarget(target);
    this.min = options.minBackoff ?? 1_000;
    this.max = options.maxBackoff ?? 8_000;
    this.backoff = this.min;
  }

  start(): void {
    this.stopped = false;
    this.dial();
  }

  private dial(): void {
    if (this.stopped) return;
    const t = this.target;
    let socket: Socket;
    let connected = false;
    const onConnect = () => {
      connected = true;
      socket.setTimeout(0);
      socket.setNoDelay(true);
      const since = Date.now();
      socket.once('close', () => {
        this.socket = undefined;
        if (Date.now() - since > this.max) this.backoff = this.min;
        this.retry('session ended');
      });
      this.onSocket(socket, this.name);
    };
    try {
      if (t.scheme === 'unix') socket = net.connect({ path: t.path }, onConnect);
      else if (t.scheme === 'tcp') socket = net.connect({ host: t.host, port: t.port }, onConnect);
      else {
        if (!this.options.tls) throw new Error(`${this.name} needs a TLS certificate, key and CA`);
        socket = tls.connect({ host: t.host, port: t.port, ...tlsContext(this.options.tls), checkServerIdentity: () => undefined }, onConnect);
      }
    } catch (err) {
      this.retry(err instanceof Error ? err.message : String(err));
      return;
    }
    this.socket = socket;
    socket.setTimeout(this.options.connectTimeout ?? 10_000, () => socket.destroy(new Error('connect timeout')));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (connected) return;
      this.socket = undefined;
      socket.destroy();
      this.retry(err.code ?? err.message);
    });
  }

  private retry(reason: string): void {
    if (this.stopped || this.timer) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.max, this.backoff * 2);
    this.options.onFailure?.(reason, wait);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dial();
    }, wait);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.socket?.destroy();
    this.socket = undefined;
  }
}
