// Passive OVSDB targets: `ptcp:`, `pssl:` and `punix:`, where hypervisors
// connect after `ovs-vsctl set-manager`. Each accepted connection becomes a
// socket handed to the plane with what admission needs to know about it: the
// source address and, over TLS, the verified client certificate's CN.
import type { Socket } from 'node:net';
import { formatTarget, type PassiveTarget } from '../config/target.js';
import * as transport from '../transport/listen.js';
import { bracket, hostOf, type ListenerOptions } from '../transport/listen.js';

export type { ListenerOptions } from '../transport/listen.js';
export { tlsContext, type TlsFiles } from '../transport/tls.js';

/** What `pssl:` and `ssl:` without TLS files lack, in weft's configuration words. */
export const OVSDB_TLS_SETTINGS = 'ovsdbTlsCert, ovsdbTlsKey and ovsdbTlsCa';

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

function acceptedPeer(target: PassiveTarget, socket: Socket, via: transport.Via, cn: string | undefined): PeerInfo {
  const name = formatTarget(target);
  const address = hostOf(socket.remoteAddress);
  const info: PeerInfo =
    via === 'unix' || address === undefined
      ? { peer: `unix:${(target as { path?: string }).path ?? ''}`, target: name }
      : {
          peer: `${via}:${bracket(address)}:${socket.remotePort}`,
          address,
          target: name,
          ...(hostOf(socket.localAddress) ? { localAddress: hostOf(socket.localAddress)! } : {}),
        };
  if (cn !== undefined) info.cn = cn;
  return info;
}

export class Listener extends transport.Listener {
  constructor(target: PassiveTarget, onSocket: OnSocket, options: ListenerOptions = {}) {
    super(target, (socket, via, cn) => onSocket(socket, acceptedPeer(target, socket, via, cn)), options, OVSDB_TLS_SETTINGS);
  }
}
