// Properties of the OpenFlow codec: every value survives a round trip, and
// no input, however broken, makes a decoder throw anything but a typed
// error that names an offset inside the input.
import t from 'tap';
import fc from 'fast-check';
import {
  decodeMatch,
  decodeMessage,
  encodeMatch,
  encodeMessage,
  formatFlow,
  messageLength,
  OpenFlowDecodeError,
  Reader,
  Writer,
  type Message,
} from '../../../protocols/openflow/index.js';
import { flowModBody, match, message } from './arbitraries.js';
import { bytes, golden } from './fixtures.js';

const runs = { numRuns: 300 };

/** Decodes, and fails the property if anything but a well-formed typed error comes out. */
function decodeOrTypedError(buf: Uint8Array): Message | OpenFlowDecodeError {
  try {
    return decodeMessage(buf);
  } catch (e) {
    if (!(e instanceof OpenFlowDecodeError)) throw e;
    if (e.offset < 0 || e.offset > buf.length) throw new Error(`offset ${e.offset} outside a ${buf.length}-byte input`);
    if (e.reason.startsWith('internal decoder fault')) throw new Error(e.reason);
    return e;
  }
}

t.test('a match survives encode then decode', async () => {
  fc.assert(
    fc.property(match, (m) => {
      const w = new Writer();
      encodeMatch(w, m);
      const buf = w.finish();
      if (buf.length % 8 !== 0) throw new Error('match not padded to 8 bytes');
      const r = new Reader(buf);
      const back = decodeMatch(r);
      if (r.remaining !== 0) throw new Error('match decoder left bytes');
      t.same(back, m);
    }),
    runs,
  );
});

t.test('every message survives encode then decode, with the length the header says', async () => {
  fc.assert(
    fc.property(message, (m) => {
      const buf = encodeMessage(m);
      if (messageLength(buf) !== buf.length) throw new Error('header length differs from the encoding');
      const back = decodeMessage(buf);
      if (!fc.stringify(back).includes(m.type)) throw new Error(`type changed to ${back.type}`);
      t.same(back, m);
      t.same(encodeMessage(back), buf);
    }),
    runs,
  );
});

t.test('a flow renders the same text before and after the wire', async () => {
  fc.assert(
    fc.property(flowModBody, fc.integer({ min: 0, max: 0xffffffff }), (f, xid) => {
      const back = decodeMessage(encodeMessage({ ...f, xid }));
      if (back.type !== 'flow_mod') throw new Error(back.type);
      t.equal(formatFlow(back), formatFlow(f));
    }),
    runs,
  );
});

t.test('random bytes give a message or a typed error', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (buf) => {
      decodeOrTypedError(buf);
    }),
    { numRuns: 2000 },
  );
  // A plausible header makes the body decoders do the work.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 300 }), (type, body) => {
      const buf = new Uint8Array(8 + body.length);
      buf.set([4, type, (buf.length >> 8) & 0xff, buf.length & 0xff]);
      buf.set(body, 8);
      decodeOrTypedError(buf);
    }),
    { numRuns: 3000 },
  );
});

const valid = fc.oneof(
  message.map((m) => encodeMessage(m)),
  fc.constantFrom(...golden.flatMap((c) => c.messages)).map(bytes),
);

t.test('a truncated message is a typed error or, when the header is patched, a message', async () => {
  fc.assert(
    fc.property(valid, fc.nat(), fc.boolean(), (full, cut, patch) => {
      const len = full.length === 0 ? 0 : cut % full.length;
      const buf = full.slice(0, len);
      if (patch && len >= 4) buf.set([(len >> 8) & 0xff, len & 0xff], 2);
      const r = decodeOrTypedError(buf);
      if (!patch && !(r instanceof OpenFlowDecodeError)) throw new Error('a cut message decoded');
    }),
    { numRuns: 2000 },
  );
});

t.test('mutated bytes of a valid message give a message or a typed error', async () => {
  fc.assert(
    fc.property(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (full, edits) => {
      const buf = full.slice();
      for (const [at, v] of edits) buf[at % buf.length] = v;
      const r = decodeOrTypedError(buf);
      if (!(r instanceof OpenFlowDecodeError)) encodeMessage(r);
    }),
    { numRuns: 3000 },
  );
});

t.test('a decode error names where decoding stopped', async (tt) => {
  const flow = bytes(golden[4]!.messages[0]!);
  const cut = flow.slice(0, 60);
  cut.set([0, 60], 2);
  const e = decodeOrTypedError(cut);
  tt.type(e, OpenFlowDecodeError);
  if (e instanceof OpenFlowDecodeError) {
    tt.ok(e.offset >= 48 && e.offset <= 60, `offset ${e.offset} inside the match`);
    tt.match(e.message, /offset \d+/);
  }
  const short = decodeOrTypedError(bytes('0400'));
  tt.match(short, { name: 'OpenFlowDecodeError', offset: 2 });
  const badLen = decodeOrTypedError(bytes('0400000400000000'));
  tt.match(badLen, { offset: 2, reason: /shorter than the header/ });
});
