// Active targets: `tcp:`, `ssl:` and `unix:`. weft dials the peer and keeps
// dialling: after a failed attempt or a lost session it waits, doubling the
// wait from 1 s up to 8 s as OVS's own reconnect does, and starts again from
// 1 s once a session has lasted.
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { formatTarget, type ActiveTarget } from '../config/target.js';
import { TLS_FILES, tlsContext, type TlsFiles } from './tls.js';

export interface DialerOptions {
  tls?: TlsFiles;
  minBackoff?: number;
  maxBackoff?: number;
  connectTimeout?: number;
  /** Called on each failed attempt, for logs. */
  onFailure?(reason: string, retryIn: number): void;
}

/**
 * Dials one target until stopped. `onConnect` gets each connected socket; the
 * dialer redials when that socket closes.
 */
export class Dialer {
  readonly name: string;
  private stopped = true;
  private backoff: number;
  private timer: NodeJS.Timeout | undefined;
  private socket: Socket | undefined;
  private readonly min: number;
  private readonly max: number;

  /** `tlsSettings` names what `ssl:` without TLS files lacks, in the plane's own configuration words. */
  constructor(
    readonly target: ActiveTarget,
    private readonly onConnect: (socket: Socket) => void,
    private readonly options: DialerOptions = {},
    private readonly tlsSettings = TLS_FILES,
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
      const startedAt = Date.now();
      socket.once('close', () => {
        this.socket = undefined;
        // A session that lasted a while was a success: start the backoff over.
        if (Date.now() - startedAt > this.max) this.backoff = this.min;
        this.retry('session ended');
      });
      this.onConnect(socket);
    };
    try {
      if (t.scheme === 'unix') socket = net.connect({ path: t.path }, onConnect);
      else if (t.scheme === 'tcp') socket = net.connect({ host: t.host, port: t.port }, onConnect);
      else {
        if (!this.options.tls) throw new Error(`${this.name} needs ${this.tlsSettings}`);
        // OVS checks the peer's certificate against the CA, not its name; so do we.
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
