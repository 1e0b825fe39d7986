// Passive OVSDB targets: `ptcp:`, `pssl:` and `punix:`, where hypervisors
// connect after `ovs-vsctl set-manager`. Each accepted connection becomes a
// socket handed to the plane with what admission needs to know about it: the
// source address and, over TLS, the verified client certificate's CN.
import { readFileSync, rmSync, statSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { formatTarget, type PassiveTarget } from '../config/target.js';

/** TLS material for `pssl:`/`ssl:`: PEM files. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** CA that signs the peers' certificates; peers without one are refused. */
  ca: string;
}

/** Who is on the other end of a connection, as far as the transport knows. */
export interface PeerInfo {
  /** `tcp:198.19.1.1:50312`, `ssl:...`, `unix:/path` */
  peer: string;
  /** The source IP for tcp and ssl. */
  address?: string;
  /** The verified client certificate's common name (pssl only). */
  cn?: string;
  /** Our own address on this connection, for the default OpenFlow controller target. */
  localAddress?: string;
  /** The configured target the connection came through. */
  target: string;
}

export type OnSocket = (socket: Socket, info: PeerInfo) => void;

export interface ListenerOptions {
  tls?: TlsFiles;
  /** A TLS client was refused during its handshake (no certificate, one the CA did not sign, garbage). */
  onRefused?(peer: string, reason: string): void;
  /** Most connections open at once on this listener. */
  maxConnections?: number;
  /** A TLS client that has not finished its handshake by then is dropped, ms. */
  handshakeTimeout?: number;
}

export function tlsContext(files: TlsFiles): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(files.ca) };
}

const hostOf = (address: string | undefined): string | undefined => address?.replace(/^::ffff:/, '');
const bracket = (h: string): string => (h.includes(':') ? `[${h}]` : h);

export class Listener {
  private server: net.Server | undefined;
  readonly name: string;
  /** TLS handshakes refused since start. */
  refused = 0;

  constructor(
    readonly target: PassiveTarget,
    private readonly onSocket: OnSocket,
    private readonly options: ListenerOptions = {},
  ) {
    this.name = formatTarget(target);
  }

  async start(): Promise<void> {
    const t = this.target;
    let server: net.Server;
    if (t.scheme === 'pssl') {
      if (!this.options.tls) throw Object.assign(new Error(`${this.name} needs ovsdbTlsCert, ovsdbTlsKey and ovsdbTlsCa`), { exitCode: 2 });
      server = tls.createServer({
        ...tlsContext(this.options.tls),
        requestCert: true,
        rejectUnauthorized: true,
        handshakeTimeout: this.options.handshakeTimeout ?? 10_000,
      });
      server.on('secureConnection', (s: tls.TLSSocket) => this.accept(s, 'ssl', s.getPeerCertificate()?.subject?.CN));
      // A failed handshake (no or untrusted certificate, garbage) concerns that client only.
      server.on('tlsClientError', (err, s) => {
        this.refused++;
        this.options.onRefused?.(`ssl:${bracket(hostOf(s.remoteAddress) ?? '?')}:${s.remotePort ?? '?'}`, err.message);
        s.destroy();
      });
    } else {
      server = net.createServer((s) => this.accept(s, t.scheme === 'punix' ? 'unix' : 'tcp'));
    }
    server.maxConnections = this.options.maxConnections ?? 4096;
    if (t.scheme === 'punix') removeStaleSocket(t.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = () => {
        server.off('error', reject);
        // Errors after listening (EMFILE on accept) must not crash the daemon.
        server.on('error', () => undefined);
        resolve();
      };
      if (t.scheme === 'punix') server.listen(t.path, done);
      else server.listen({ port: t.port, host: t.host ?? '0.0.0.0' }, done);
    });
    this.server = server;
  }

  private accept(socket: Socket, scheme: 'tcp' | 'ssl' | 'unix', cn?: string | string[]): void {
    socket.setNoDelay(true);
    const address = hostOf(socket.remoteAddress);
    const info: PeerInfo =
      scheme === 'unix' || address === undefined
        ? { peer: `unix:${(this.target as { path?: string }).path ?? ''}`, target: this.name }
        : {
            peer: `${scheme}:${bracket(address)}:${socket.remotePort}`,
            address,
            target: this.name,
            ...(hostOf(socket.localAddress) ? { localAddress: hostOf(socket.localAddress)! } : {}),
          };
    if (typeof cn === 'string') info.cn = cn;
    this.onSocket(socket, info);
  }

  /** `ptcp:6640:0.0.0.0` with the real port when the config said 0. */
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

/** A socket file left by a previous run would make listen fail with EADDRINUSE; only a socket is removed. */
function removeStaleSocket(path: string): void {
  try {
    if (statSync(path).isSocket()) rmSync(path);
  } catch {
    /* absent */
  }
}
