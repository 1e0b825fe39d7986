// Active OVSDB targets: `tcp:`, `ssl:` and `unix:`. weft dials the
// hypervisor's ovsdb-server and keeps dialling with a backoff (see
// `src/transport/dial.ts`); each session is handed to the plane with what
// admission needs to know about the peer.
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { formatTarget, type ActiveTarget } from '../config/target.js';
import * as transport from '../transport/dial.js';
import { hostOf } from '../transport/listen.js';
import { OVSDB_TLS_SETTINGS, type OnSocket, type PeerInfo } from './listener.js';

export type { DialerOptions } from '../transport/dial.js';

function dialledPeer(target: ActiveTarget, socket: Socket): PeerInfo {
  const name = formatTarget(target);
  const local = hostOf(socket.localAddress);
  return {
    peer: name,
    target: name,
    ...(target.scheme !== 'unix' ? { address: hostOf(socket.remoteAddress) ?? target.host } : {}),
    ...(target.scheme !== 'unix' && local ? { localAddress: local } : {}),
    ...(socket instanceof tls.TLSSocket && typeof socket.getPeerCertificate()?.subject?.CN === 'string'
      ? { cn: socket.getPeerCertificate().subject.CN as string }
      : {}),
  };
}

/**
 * Dials one target until stopped. `onSocket` gets each connected socket; the
 * dialer redials when that socket closes.
 */
export class Dialer extends transport.Dialer {
  constructor(target: ActiveTarget, onSocket: OnSocket, options: transport.DialerOptions = {}) {
    super(target, (socket) => onSocket(socket, dialledPeer(target, socket)), options, OVSDB_TLS_SETTINGS);
  }
}
