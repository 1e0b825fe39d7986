// The switch session against a fake switch on a loopback connection:
// framing in any chunking, the version handshake, xid correlation,
// multipart reassembly, barriers, echo keepalive, and how each kind of bad
// peer ends in one close with a reason.
import t from 'tap';
import { encodeMessage, OFP_ERROR_CODES, OFPMPF_MORE, type FlowStats } from '../../../protocols/openflow/index.js';
import { OpenFlowError, RequestTimeoutError, SessionClosedError } from '../../../src/openflow/session.js';
import { DPID, handshake, pair } from './peer.js';

const disconnected = (s: { on(e: 'disconnected', fn: (r: string) => void): unknown }) => new Promise<string>((r) => s.on('disconnected', r));

t.test('the session says HELLO with an OpenFlow 1.3 version bitmap at once', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  session.start();
  const hello = await peer.next();
  t.same(hello, { type: 'hello', xid: hello.xid, versions: [4] });
});

t.test('after HELLO, FEATURES gives the datapath id and the session is up', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  t.equal(session.datapathId, DPID);
  t.equal(session.state, 'up');
  t.ok(peer.received.some((m) => m.type === 'set_config' && m.missSendLen === 0xffff), 'whole frames are asked for on a miss');
});

t.test('a HELLO without a bitmap negotiates by the header version', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  const up = new Promise((r) => session.on('connected', r));
  session.start();
  await peer.next();
  peer.send({ type: 'hello', xid: 7 });
  const fr = await peer.nextOf('features_request');
  peer.send({ type: 'features_reply', xid: fr.xid, datapathId: 5n, nBuffers: 0, nTables: 1, auxiliaryId: 0, capabilities: 0 });
  const pd = await peer.nextOf('multipart_request');
  peer.send({ type: 'multipart_reply', xid: pd.xid, flags: 0, body: { kind: 'port_desc', ports: [] } });
  await up;
  t.equal(session.datapathId, 5n);
});

t.test('a peer without OpenFlow 1.3 gets HELLO_FAILED/INCOMPATIBLE with a clear text and is closed', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  const gone = disconnected(session);
  session.start();
  await peer.next();
  // OpenFlow 1.0 and 1.5 in the bitmap, no 1.3.
  const hello = encodeMessage({ type: 'hello', xid: 3, versions: [1, 6] });
  hello[0] = 6;
  peer.raw(hello);
  const reason = await gone;
  t.match(reason, /OpenFlow 1\.3 only; the peer offered OpenFlow 1\.0, OpenFlow 1\.5/);
  await peer.closed;
  const err = peer.frames[1]!;
  t.equal(err[0], 4, 'the error speaks the lower of the two versions');
  t.equal(err[1], 1, 'OFPT_ERROR');
  t.equal(err.readUInt16BE(8), OFP_ERROR_CODES.OFPHFC_INCOMPATIBLE!.type);
  t.equal(err.readUInt16BE(10), OFP_ERROR_CODES.OFPHFC_INCOMPATIBLE!.code);
  t.match(err.subarray(12).toString(), /weft speaks OpenFlow 1\.3 only/);
});

t.test('framing: messages split across chunks and several in one chunk are all read', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  const replies = [session.barrier(), session.barrier(), session.barrier()];
  const xids: number[] = [];
  for (let i = 0; i < 3; i++) xids.push((await peer.nextOf('barrier_request')).xid);
  const bytes = Buffer.concat(xids.map((xid) => encodeMessage({ type: 'barrier_reply', xid })));
  // One byte at a time for the first, the other two in one write.
  for (let i = 0; i < 8; i++) {
    peer.raw(bytes.subarray(i, i + 1));
    await new Promise((r) => setImmediate(r));
  }
  peer.raw(bytes.subarray(8));
  await Promise.all(replies);
  t.pass('every barrier answered');
});

t.test('replies are matched by xid, in any order; an error rejects only its request', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  const a = session.request({ type: 'echo_request', data: new Uint8Array([1]) });
  const b = session.request({ type: 'barrier_request' }).catch((e: unknown) => e);
  const ea = await peer.nextOf('echo_request');
  const bb = await peer.nextOf('barrier_request');
  const { type, code } = OFP_ERROR_CODES.OFPBRC_BAD_TYPE!;
  peer.send({ type: 'error', xid: bb.xid, errorType: type, code, data: new Uint8Array(0) });
  peer.send({ type: 'echo_reply', xid: ea.xid, data: new Uint8Array([1]) });
  t.same((await a).type, 'echo_reply');
  const err = await b;
  t.ok(err instanceof OpenFlowError);
  t.equal((err as OpenFlowError).message, 'switch error OFPBRC_BAD_TYPE');
  t.equal(session.state, 'up', 'the session stays up');
});

t.test('a multipart reply in parts (MORE flag) is reassembled in order', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  const stat = (priority: number): FlowStats => ({
    tableId: 0,
    durationSec: 0,
    durationNsec: 0,
    priority,
    idleTimeout: 0,
    hardTimeout: 0,
    flags: 0,
    cookie: 1n,
    packetCount: 0n,
    byteCount: 0n,
    match: { fields: [] },
    instructions: [],
  });
  const reply = session.multipart({ kind: 'flow', request: { tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: { fields: [] } } });
  const req = await peer.nextOf('multipart_request');
  peer.send({ type: 'multipart_reply', xid: req.xid, flags: OFPMPF_MORE, body: { kind: 'flow', stats: [stat(1), stat(2)] } });
  peer.send({ type: 'multipart_reply', xid: req.xid, flags: OFPMPF_MORE, body: { kind: 'flow', stats: [stat(3)] } });
  peer.send({ type: 'multipart_reply', xid: req.xid, flags: 0, body: { kind: 'flow', stats: [stat(4)] } });
  const parts = await reply;
  t.same(
    parts.flatMap((p) => (p.kind === 'flow' ? p.stats.map((s) => s.priority) : [])),
    [1, 2, 3, 4],
  );
});

t.test('a request nobody answers times out; the session stays up', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  const err = await session.request({ type: 'barrier_request' }, 50).catch((e: unknown) => e);
  t.ok(err instanceof RequestTimeoutError);
  t.equal(session.state, 'up');
});

t.test('an ECHO_REQUEST from the switch is answered with its data and xid', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  peer.send({ type: 'echo_request', xid: 4242, data: new Uint8Array([9, 8, 7]) });
  const reply = await peer.nextOf('echo_reply');
  t.same(reply, { type: 'echo_reply', xid: 4242, data: new Uint8Array([9, 8, 7]) });
});

t.test('an idle switch gets our ECHO_REQUEST, and is dropped when it does not answer', async (t) => {
  const { session, peer, done } = await pair({ echoInterval: 60, echoTimeout: 60 });
  t.teardown(done);
  await handshake(peer, session);
  const gone = disconnected(session);
  await peer.nextOf('echo_request');
  t.match(await gone, /no answer to echo/);
});

t.test('an idle switch that answers our echo stays connected', async (t) => {
  const { session, peer, done } = await pair({ echoInterval: 40, echoTimeout: 200 });
  t.teardown(done);
  await handshake(peer, session);
  for (let i = 0; i < 3; i++) {
    const e = await peer.nextOf('echo_request');
    peer.send({ type: 'echo_reply', xid: e.xid, data: e.data });
  }
  t.equal(session.state, 'up');
});

t.test('bad peers: each ends its session with a reason, and pending requests reject', async (t) => {
  await t.test('a first message that is not HELLO', async (t) => {
    const { session, peer, done } = await pair();
    t.teardown(done);
    const gone = disconnected(session);
    session.start();
    peer.raw(encodeMessage({ type: 'barrier_request', xid: 1 }));
    t.match(await gone, /first message is of type 20, not HELLO/);
  });
  await t.test('garbage after the handshake', async (t) => {
    const { session, peer, done } = await pair();
    t.teardown(done);
    await handshake(peer, session);
    const gone = disconnected(session);
    const pending = session.barrier().catch((e: unknown) => e);
    peer.raw(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    t.match(await gone, /protocol violation: message of version 71/);
    t.ok((await pending) instanceof SessionClosedError);
  });
  await t.test('a length shorter than the header', async (t) => {
    const { session, peer, done } = await pair();
    t.teardown(done);
    await handshake(peer, session);
    const gone = disconnected(session);
    peer.raw(Buffer.from([4, 2, 0, 4, 0, 0, 0, 1]));
    t.match(await gone, /framing error: header length 4 is shorter than the header/);
  });
  await t.test('silence: no HELLO within the handshake timeout', async (t) => {
    const { session, done } = await pair({ handshakeTimeout: 50 });
    t.teardown(done);
    const gone = disconnected(session);
    session.start();
    t.match(await gone, /handshake not done within 50 ms \(state hello\)/);
  });
  await t.test('a framed message we cannot decode fails only its request', async (t) => {
    const { session, peer, done } = await pair();
    t.teardown(done);
    await handshake(peer, session);
    const reply = session.multipart({ kind: 'port_desc' });
    const req = await peer.nextOf('multipart_request');
    // A port description cut short: 16 bytes where 64 are needed.
    const bad = Buffer.alloc(16 + 16);
    bad.writeUInt8(4, 0);
    bad.writeUInt8(19, 1);
    bad.writeUInt16BE(bad.length, 2);
    bad.writeUInt32BE(req.xid, 4);
    bad.writeUInt16BE(13, 8);
    peer.raw(bad);
    const err = await reply.catch((e: unknown) => e);
    t.match(String(err), /OpenFlow decode error/);
    t.equal(session.state, 'up');
  });
});

t.test('a peer that closes ends the session once', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  let n = 0;
  const gone = new Promise<string>((r) =>
    session.on('disconnected', (reason) => {
      n++;
      r(reason);
    }),
  );
  peer.socket.destroy();
  t.match(await gone, /closed by peer/);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(n, 1);
});

t.test('a request or multipart on a closed session rejects, and leaves no rejection unhandled', async (t) => {
  const { session, peer, done } = await pair();
  t.teardown(done);
  await handshake(peer, session);
  const gone = disconnected(session);
  peer.socket.destroy();
  await gone;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));
  await t.rejects(async () => session.request({ type: 'barrier_request' }), SessionClosedError);
  await t.rejects(async () => session.multipart({ kind: 'port_desc' }), SessionClosedError);
  await new Promise((r) => setTimeout(r, 20));
  t.same(unhandled, [], 'the waits for their replies went with them');
});
