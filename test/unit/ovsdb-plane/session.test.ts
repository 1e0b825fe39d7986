// The session against a fake ovsdb-server on the other end of a loopback
// connection: what it answers, what it asks, and how each kind of bad peer
// ends in one close with a reason and nothing thrown.
import type { Socket } from 'node:net';
import t from 'tap';
import { JsonFramer, echo, transact } from '../../../protocols/ovsdb/index.js';
import { RequestTimeoutError, RpcError, Session, SessionClosedError, type SessionOptions } from '../../../src/ovsdb/session.js';
import { Inbox, loopbackPair } from '../../harness/loopback.js';

interface Peer {
  socket: Socket;
  /** Every JSON value the session sent. */
  received: unknown[];
  next(): Promise<Record<string, unknown>>;
  send(v: unknown): void;
}

async function pair(options: SessionOptions = {}): Promise<{ session: Session; peer: Peer; done(): void }> {
  const { dialled: client, accepted: socket } = await loopbackPair();
  const framer = new JsonFramer();
  const inbox = new Inbox<unknown>();
  socket.on('data', (c: Buffer) => {
    for (const v of framer.push(c).values) inbox.push(v);
  });
  socket.on('error', () => undefined);
  const peer: Peer = {
    socket,
    received: inbox.received,
    next: () => inbox.next() as Promise<Record<string, unknown>>,
    send: (v) => socket.write(typeof v === 'string' ? v : JSON.stringify(v)),
  };
  const session = new Session(client, 'tcp:test', options);
  return {
    session,
    peer,
    done: () => {
      session.close();
      socket.destroy();
    },
  };
}

const closed = (s: Session) => new Promise<string>((r) => s.onClose(r));

t.test('a request is answered by the response with its id', async (t) => {
  const { session, peer, done } = await pair();
  const answer = session.request(transact('Open_vSwitch', [{ op: 'comment', comment: 'x' }]));
  const req = await peer.next();
  t.equal(req.method, 'transact');
  peer.send({ id: req.id, result: [{}], error: null });
  t.same(await answer, [{}]);
  done();
});

t.test('an error answer rejects with RpcError naming the method', async (t) => {
  const { session, peer, done } = await pair();
  const answer = session.request(echo());
  const req = await peer.next();
  peer.send({ id: req.id, result: null, error: 'unknown method' });
  await t.rejects(answer, RpcError);
  done();
});

t.test("the server's echo is answered at once with the same params", async (t) => {
  const { peer, done } = await pair();
  peer.send({ id: 'echo', method: 'echo', params: ['hello'] });
  t.same(await peer.next(), { id: 'echo', result: ['hello'], error: null });
  done();
});

t.test('an idle peer is probed with an echo, and kept while it answers', async (t) => {
  const { session, peer, done } = await pair({ probeInterval: 40 });
  for (let i = 0; i < 3; i++) {
    const probe = await peer.next();
    t.equal(probe.method, 'echo', `probe ${i + 1}`);
    peer.send({ id: probe.id, result: [], error: null });
  }
  t.notOk(session.closed, 'a peer that answers probes stays');
  done();
});

t.test('a silent peer is dropped after a second probe interval', async (t) => {
  const { session, done } = await pair({ probeInterval: 30 });
  t.match(await closed(session), /inactivity probe/);
  done();
});

t.test('a peer that dribbles bytes without finishing a message is dropped as silent', async (t) => {
  const { session, peer, done } = await pair({ probeInterval: 30 });
  peer.send('{"id":1,"result":');
  const drip = setInterval(() => peer.socket.write(' '), 5);
  t.match(await closed(session), /inactivity probe/);
  clearInterval(drip);
  done();
});

t.test('garbage closes the session with the framer error, and pending requests reject', async (t) => {
  const { session, peer, done } = await pair();
  const answer = session.request(echo());
  await peer.next();
  peer.send('hello, not json');
  t.match(await closed(session), /malformed input/);
  await t.rejects(answer, SessionClosedError);
  await t.rejects(session.request(echo()), SessionClosedError, 'later requests reject too');
  done();
});

t.test('a message beyond the size bound closes the session', async (t) => {
  const { session, peer, done } = await pair({ maxMessageBytes: 1024 });
  peer.send(`{"id":null,"method":"update","params":["${'x'.repeat(4096)}"]}`);
  t.match(await closed(session), /larger than 1024 bytes/);
  done();
});

t.test('JSON that is not JSON-RPC closes the session', async (t) => {
  const { session, peer, done } = await pair();
  peer.send('[1,2,3]');
  t.match(await closed(session), /malformed JSON-RPC/);
  done();
});

t.test('a peer that closes mid-message ends the session with that reason', async (t) => {
  const { session, peer, done } = await pair();
  peer.socket.end('{"id":1,');
  t.match(await closed(session), /closed/);
  done();
});

t.test('an unanswered request times out without closing the session', async (t) => {
  const { session, peer, done } = await pair();
  await t.rejects(session.request(echo(), 20), RequestTimeoutError);
  t.notOk(session.closed);
  await peer.next();
  done();
});

t.test('a request of an unknown method from the server gets an error, not a crash', async (t) => {
  const { session, peer, done } = await pair();
  peer.send({ id: 7, method: 'frobnicate', params: [] });
  const answer = await peer.next();
  t.equal(answer.id, 7);
  t.ok(answer.error);
  t.notOk(session.closed);
  done();
});
