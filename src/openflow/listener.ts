// OpenFlow transports. Passive targets (`ptcp:`, `pssl:`, `punix:`) accept
// switches that were given weft as their controller; active targets (`tcp:`,
// `ssl:`, `unix:`) are dialled and redialled with a backoff (see
// `src/transport/`). Each connected socket goes to the plane with a peer name.
import type { Socket } from 'node:net';
import { formatTarget, type ActiveTarget, type PassiveTarget } from '../config/target.js';
import { Dialer, type DialerOptions } from '../transport/dial.js';
import { Listener, bracket, hostOf, type Via } from '../transport/listen.js';
import type { TlsFiles } from '../transport/tls.js';

export type { DialerOptions } from '../transport/dial.js';
export type { TlsFiles } from '../transport/tls.js';

export type OnSocket = (socket: Socket, peer: string) => void;

/** A wrapper rather than a subclass: the plane hands out a peer name, not the listener's refused-handshake count. */
export class SwitchListener {
  readonly name: string;
  private readonly listener: Listener;

  constructor(
    readonly target: PassiveTarget,
    onSocket: OnSocket,
    tlsFiles?: TlsFiles,
  ) {
    this.name = formatTarget(target);
    const peerOf = (socket: Socket, via: Via): string =>
      via === 'unix' ? `unix:${(target as { path: string }).path}` : `${via}:${bracket(hostOf(socket.remoteAddress) ?? '?')}:${socket.remotePort}`;
    this.listener = new Listener(target, (socket, via) => onSocket(socket, peerOf(socket, via)), { tls: tlsFiles });
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  /** `ptcp:6653:0.0.0.0` with the real port when the config said 0. */
  address(): string {
    return this.listener.address();
  }

  port(): number | undefined {
    return this.listener.port();
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}

export class SwitchDialer extends Dialer {
  constructor(target: ActiveTarget, onSocket: OnSocket, options: DialerOptions = {}) {
    const name = formatTarget(target);
    super(target, (socket) => onSocket(socket, name), options);
  }
}
