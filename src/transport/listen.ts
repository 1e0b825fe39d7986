// Passive targets: `ptcp:`, `pssl:` and `punix:`, where Open vSwitch connects
// to weft (its manager for the OVSDB plane, its controller for the OpenFlow
// plane). Each accepted socket goes to the plane with how it came in; the
// plane names the peer its own way.
import { rmSync, statSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { formatTarget, type PassiveTarget } from '../config/target.js';
import { TLS_FILES, tlsContext, type TlsFiles } from './tls.js';

/** The transport an accepted socket came through. */
export type Via = 'tcp' | 'ssl' | 'unix';

/** `cn`: the verified client certificate's common name (pssl only). */
export type OnAccept = (socket: Socket, via: Via, cn?: string) => void;

export interface ListenerOptions {
  tls?: TlsFiles;
  /** A TLS client was refused during its handshake (no certificate, one the CA did not sign, garbage). */
  onRefused?(peer: string, reason: string): void;
  /** Most connections open at once on this listener. */
  maxConnections?: number;
  /** A TLS client that has not finished its handshake by then is dropped, ms. */
  handshakeTimeout?: number;
}

/** An IPv4 peer on a dual-stack socket shows as `::ffff:a.b.c.d`; admission and logs want `a.b.c.d`. */
export const hostOf = (address: string | undefined): string | undefined => address?.replace(/^::ffff:/, '');
export const bracket = (h: string): string => (h.includes(':') ? `[${h}]` : h);

export class Listener {
  private server: net.Server | undefined;
  readonly name: string;
  /** TLS handshakes refused since start. */
  refused = 0;

  /** `tlsSettings` names what `pssl:` without TLS files lacks, in the plane's own configuration words. */
  constructor(
    readonly target: PassiveTarget,
    private readonly onAccept: OnAccept,
    private readonly options: ListenerOptions = {},
    private readonly tlsSettings = TLS_FILES,
  ) {
    this.name = formatTarget(target);
  }

  async start(): Promise<void> {
    const t = this.target;
    let server: net.Server;
    if (t.scheme === 'pssl') {
      if (!this.options.tls) throw Object.assign(new Error(`${this.name} needs ${this.tlsSettings}`), { exitCode: 2 });
      server = tls.createServer({
        ...tlsContext(this.options.tls),
        requestCert: true,
        rejectUnauthorized: true,
        handshakeTimeout: this.options.handshakeTimeout ?? 10_000,
      });
      server.on('secureConnection', (s: tls.TLSSocket) => {
        const cn = s.getPeerCertificate()?.subject?.CN;
        this.accept(s, 'ssl', typeof cn === 'string' ? cn : undefined);
      });
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

  private accept(socket: Socket, via: Via, cn?: string): void {
    socket.setNoDelay(true);
    this.onAccept(socket, via, cn);
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
