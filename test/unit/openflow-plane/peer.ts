// A fake switch on the other end of a loopback connection, for the session's
// unit tests: it records every message the session sends and lets a test
// answer by hand, in any chunking.
import type { Socket } from 'node:net';
import { decodeMessage, encodeMessage, messageLength, type Message } from '../../../protocols/openflow/index.js';
import { Session, type SessionOptions } from '../../../src/openflow/session.js';
import { Inbox, loopbackPair } from '../../harness/loopback.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface Peer {
  socket: Socket;
  received: Message[];
  /** Every frame as sent, decodable or not. */
  frames: Buffer[];
  /** The next message the session sent (waits for it). */
  next(): Promise<Message>;
  /** The next message of this type, skipping others (echoes, set_config). */
  nextOf<T extends Message['type']>(type: T): Promise<Extract<Message, { type: T }>>;
  send(m: Message): void;
  raw(bytes: Uint8Array): void;
  closed: Promise<void>;
}

export const DPID = 0x0000aabbccddeeffn;

export async function pair(options: SessionOptions = {}): Promise<{ session: Session; peer: Peer; done(): void }> {
  const { dialled: client, accepted: socket } = await loopbackPair();
  const inbox = new Inbox<Message>();
  const frames: Buffer[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (;;) {
      const len = messageLength(buf);
      if (len === undefined) break;
      const frame = Buffer.from(buf.subarray(0, len));
      buf = buf.subarray(len);
      frames.push(frame);
      let m: Message;
      try {
        m = decodeMessage(frame);
      } catch {
        continue;
      }
      inbox.push(m);
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  const next = () => inbox.next();
  const peer: Peer = {
    socket,
    received: inbox.received,
    frames,
    next,
    async nextOf(type) {
      for (;;) {
        const m = await next();
        if (m.type === type) return m as never;
      }
    },
    send: (m) => socket.write(encodeMessage(m)),
    raw: (b) => socket.write(b),
    closed,
  };
  const session = new Session(client, { peer: 'test', ...options });
  return {
    session,
    peer,
    done: () => {
      session.close();
      socket.destroy();
    },
  };
}

export type Body = DistributiveOmit<Message, 'xid'>;

/** Plays the switch's side of the handshake: HELLO, FEATURES_REPLY, an empty port description. */
export async function handshake(peer: Peer, session: Session): Promise<void> {
  const up = new Promise<bigint>((r) => session.on('connected', r));
  session.start();
  const hello = await peer.next();
  if (hello.type !== 'hello') throw new Error(`expected hello, got ${hello.type}`);
  peer.send({ type: 'hello', xid: 1, versions: [1, 4] });
  const fr = await peer.nextOf('features_request');
  peer.send({ type: 'features_reply', xid: fr.xid, datapathId: DPID, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0 });
  const pd = await peer.nextOf('multipart_request');
  peer.send({ type: 'multipart_reply', xid: pd.xid, flags: 0, body: { kind: 'port_desc', ports: [] } });
  await up;
}
