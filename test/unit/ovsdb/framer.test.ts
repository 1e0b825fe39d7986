import t from 'tap';
import fc from 'fast-check';
import { JsonFramer, frameAll, encodeMessage } from '../../../protocols/ovsdb/framer.js';
import { OvsdbDecodeError } from '../../../protocols/ovsdb/errors.js';
import { captureNames, streams } from './fixtures.js';

/** Feeds bytes in chunks cut at the given points and collects everything. */
function feed(bytes: Uint8Array, cuts: number[], framer = new JsonFramer()) {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const values: unknown[] = [];
  let error: OvsdbDecodeError | undefined;
  let at = 0;
  for (const p of [...points, bytes.length]) {
    const r = framer.push(bytes.subarray(at, p));
    values.push(...r.values);
    error ??= r.error;
    at = p;
  }
  error ??= framer.end();
  return { values, error };
}

t.test('every captured stream frames into the messages that were sent', async (t) => {
  let n = 0;
  for (const name of captureNames()) {
    for (const s of streams(name)) {
      const whole = frameAll(s.bytes);
      t.equal(whole.error, undefined, s.key);
      t.same(whole.values, s.values, s.key);
      const bytewise = feed(s.bytes, Array.from({ length: s.bytes.length }, (_, i) => i));
      t.same(bytewise.values, s.values, `${s.key} one byte at a time`);
      n++;
    }
  }
  t.ok(n >= 10, 'the captures hold a fair number of streams');
});

t.test('strings may hold brackets, quotes and escapes', async (t) => {
  const text = '{"a":"]}\\"[{","b":["\\\\",  "\\\\\\"]"]}[ "}" ]';
  t.same(frameAll(Buffer.from(text)).values, [{ a: ']}"[{', b: ['\\', '\\"]'] }, ['}']]);
});

t.test('a multi-byte UTF-8 character split across chunks survives', async (t) => {
  const bytes = Buffer.from('["é€😀"]', 'utf8');
  for (let cut = 0; cut <= bytes.length; cut++) {
    t.same(feed(bytes, [cut]).values, [['é€😀']], `cut at ${cut}`);
  }
});

t.test('whitespace between messages is skipped', async (t) => {
  t.same(frameAll(Buffer.from(' \n\t{}\r\n[1] ')).values, [{}, [1]]);
});

t.test('a message of exactly the size bound is accepted, one byte more is not', async (t) => {
  const msg = Buffer.from('["' + 'x'.repeat(96) + '"]');
  t.equal(msg.length, 100);
  t.same(frameAll(msg, { maxMessageBytes: 100 }).values.length, 1);
  const r = frameAll(msg, { maxMessageBytes: 99 });
  t.equal(r.error?.code, 'too-large');
  // Also when the message arrives in pieces and never ends.
  const framer = new JsonFramer({ maxMessageBytes: 1000 });
  let error: OvsdbDecodeError | undefined;
  let pushed = 0;
  while (!error && pushed < 10_000) {
    error = framer.push(Buffer.from(pushed === 0 ? '["' : 'yyyyyyyyyy')).error;
    pushed += 10;
  }
  t.equal(error?.code, 'too-large');
  t.ok(pushed <= 1010, 'stops buffering at the bound');
});

t.test('nesting is bounded and the error names the offending byte', async (t) => {
  const ok = '['.repeat(256) + ']'.repeat(256);
  t.equal(frameAll(Buffer.from(ok)).values.length, 1);
  const deep = '{}' + '['.repeat(257) + ']'.repeat(257);
  const r = frameAll(Buffer.from(deep));
  t.equal(r.error?.code, 'too-deep');
  t.equal(r.error?.offset, 2 + 256);
  t.same(r.values, [{}], 'the message before the fault is delivered');
  t.equal(frameAll(Buffer.from('[[[]]]'), { maxDepth: 2 }).error?.code, 'too-deep');
});

t.test('a top-level value must be an object or an array', async (t) => {
  for (const [text, offset] of [['{} 1', 3], ['{}"s"', 2], ['{}null', 2], ['{}}', 2]] as const) {
    const r = frameAll(Buffer.from(text));
    t.equal(r.error?.code, 'unexpected', text);
    t.equal(r.error?.offset, offset, text);
  }
});

t.test('malformed JSON is a syntax error at the start of its message', async (t) => {
  const r = frameAll(Buffer.from('{"a":1} {"a":}'));
  t.same(r.values, [{ a: 1 }]);
  t.equal(r.error?.code, 'syntax');
  t.equal(r.error?.offset, 8);
  t.match(r.error?.message, /at byte 8/);
});

t.test('invalid UTF-8 is a syntax error, not a replacement character', async (t) => {
  const r = frameAll(Buffer.from([0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d]));
  t.equal(r.error?.code, 'syntax');
  t.match(r.error?.message, /UTF-8/);
});

t.test('a stream that ends inside a message is an error; one that ends between is not', async (t) => {
  const framer = new JsonFramer();
  framer.push(Buffer.from('{"a":[1,'));
  t.notOk(framer.idle);
  t.equal(framer.end()?.code, 'syntax');
  const clean = new JsonFramer();
  clean.push(Buffer.from('{} '));
  t.ok(clean.idle);
  t.equal(clean.end(), undefined);
});

t.test('after an error the framer stays dead', async (t) => {
  const framer = new JsonFramer();
  t.equal(framer.push(Buffer.from('x')).error?.code, 'unexpected');
  const again = framer.push(Buffer.from('{}'));
  t.same(again.values, []);
  t.equal(again.error?.code, 'dead');
  t.equal(again.error?.offset, 0);
});

t.test('the framer does not keep a reference to the caller\'s buffer', async (t) => {
  const framer = new JsonFramer();
  const chunk = Buffer.from('{"a":"bc');
  framer.push(chunk);
  chunk.fill(0x20);
  t.same(framer.push(Buffer.from('"}')).values, [{ a: 'bc' }]);
});

const message = fc.oneof(
  fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 5 }),
  fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 }),
);
const whitespace = fc.stringMatching(/^[ \t\r\n]{0,3}$/);

t.test('property: any chunking of a valid stream yields the same values', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(message, whitespace), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (msgs, cuts) => {
        const text = msgs.map(([m, ws]) => JSON.stringify(m) + ws).join('');
        const r = feed(Buffer.from(text, 'utf8'), cuts);
        // JSON.stringify drops -0 to 0 and that is what a peer would see too.
        t.same(r.values, msgs.map(([m]) => JSON.parse(JSON.stringify(m))));
        t.equal(r.error, undefined);
        return r.error === undefined && r.values.length === msgs.length;
      },
    ),
    { numRuns: 300 },
  );
});

/** The only acceptable outcome of junk: values and at most an OvsdbDecodeError. */
function survives(bytes: Uint8Array, cuts: number[]): boolean {
  const r = feed(bytes, cuts, new JsonFramer({ maxMessageBytes: 4096, maxDepth: 16 }));
  return r.error === undefined || r.error instanceof OvsdbDecodeError;
}

t.test('fuzz: random bytes give values or a typed error, never a throw', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat()), survives), { numRuns: 500 });
  // Random bytes drawn from JSON's own alphabet reach deeper states.
  const jsonish = fc
    .array(fc.constantFrom(...'{}[]",:\\ 0a-é\u0000'.split('')), { maxLength: 300 })
    .map((cs) => Buffer.from(cs.join(''), 'utf8'));
  fc.assert(fc.property(jsonish, fc.array(fc.nat()), survives), { numRuns: 1000 });
  t.pass('no throw');
});

t.test('fuzz: truncated and mutated captures give a typed error, never a throw', async (t) => {
  const samples = captureNames().flatMap((n) => streams(n).map((s) => s.bytes));
  fc.assert(
    fc.property(
      fc.constantFrom(...samples),
      fc.nat(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      (sample, cut, flips, cuts) => {
        const bytes = Buffer.from(sample.subarray(0, 1 + (cut % sample.length)));
        for (const [at, v] of flips) bytes[at % bytes.length] = v;
        const r = feed(bytes, cuts);
        return r.error === undefined || r.error instanceof OvsdbDecodeError;
      },
    ),
    { numRuns: 500 },
  );
  // A cut strictly inside the last message must be reported.
  const one = encodeMessage({ id: 1, method: 'echo', params: [] });
  for (let cut = 1; cut < one.length; cut++) {
    t.equal(frameAll(one.subarray(0, cut)).error?.code, 'syntax', `cut at ${cut}`);
  }
});
