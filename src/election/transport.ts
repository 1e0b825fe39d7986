// How adverts travel: a datagram to every configured peer, datagrams in from
// anyone (authentication, not the source address, decides what counts). The
// UDP transport is production's; tests hand the service a fake network.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export interface Transport {
  /** Binds; rejects with Node's own error (EADDRINUSE...) when it cannot. */
  start(onDatagram: (bytes: Uint8Array, from: string) => void): Promise<void>;
  /** Sends one datagram to every peer; never throws (failures go to onError). */
  send(bytes: Uint8Array): void;
  close(): Promise<void>;
  /** The bound address, `host:port`, once started. */
  address(): string | undefined;
}

export interface UdpTransportOptions {
  listen: HostPort;
  peers: HostPort[];
  onError?: (error: Error, peer?: HostPort) => void;
}

function hostPort(h: string, p: number): string {
  return h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`;
}

export function udpTransport(options: UdpTransportOptions): Transport {
  let socket: Socket | undefined;
  return {
    start(onDatagram) {
      const s = createSocket({ type: isIPv6(options.listen.host) ? 'udp6' : 'udp4', reuseAddr: false });
      socket = s;
      return new Promise((resolve, reject) => {
        s.once('error', reject);
        s.bind(options.listen.port, options.listen.host, () => {
          s.off('error', reject);
          s.on('error', (e) => options.onError?.(e));
          s.on('message', (msg, rinfo) => onDatagram(msg, hostPort(rinfo.address, rinfo.port)));
          resolve();
        });
      });
    },
    send(bytes) {
      const s = socket;
      if (!s) return;
      for (const peer of options.peers) {
        try {
          s.send(bytes, peer.port, peer.host, (e) => {
            if (e) options.onError?.(e, peer);
          });
        } catch (e) {
          options.onError?.(e as Error, peer);
        }
      }
    },
    close() {
      const s = socket;
      socket = undefined;
      if (!s) return Promise.resolve();
      return new Promise((resolve) => s.close(() => resolve()));
    },
    address() {
      if (!socket) return undefined;
      try {
        const a = socket.address();
        return hostPort(a.address, a.port);
      } catch {
        return undefined;
      }
    },
  };
}
