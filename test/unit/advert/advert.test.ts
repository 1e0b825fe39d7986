// The advert codec: a layout that is stable on the wire, a MAC over every
// byte, typed errors with offsets for anything else, and replay protection as
// a pure function of the receiver's state.
import fc from 'fast-check';
import t from 'tap';
import {
  acceptAdvert, ADVERT_LAYOUT, AdvertDecodeError, AdvertEncodeError, advertSize, decodeAdvert, encodeAdvert,
  MAC_LENGTH, MAX_ADVERT_BYTES, MAX_ENTRIES, openAdvert, splitEntries, verifyAdvert,
  type Advert, type AdvertEntry, type ReplayState,
} from '../../../protocols/advert/index.js';

const key = new TextEncoder().encode('a shared advert key, 32 bytes ok');
const otherKey = new TextEncoder().encode('another advert key of 32 bytes..');

function advert(over: Partial<Advert> = {}): Advert {
  return {
    version: 1, replicaId: 'weft-a', intervalMs: 200, boot: 1_700_000_000_000, seq: 7, timestamp: 1_700_000_000_500,
    entries: [
      { network: 'acme/web', priority: 150, term: 3, leader: true },
      { network: 'acme/db', priority: 0, term: 9, leader: false },
    ],
    ...over,
  };
}

function decodeError(fn: () => unknown): AdvertDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AdvertDecodeError) return e;
    throw e;
  }
  throw new Error('expected an AdvertDecodeError');
}

t.test('layout', async (t) => {
  t.test('fields sit where the table says', async (t) => {
    const wire = encodeAdvert(advert(), key);
    const hex = Buffer.from(wire).toString('hex');
    t.equal(hex.slice(0, 12), '574641440100', 'magic WFAD, version 1, no flags');
    t.equal(new DataView(wire.buffer).getUint16(ADVERT_LAYOUT.length.offset), wire.length);
    t.equal(new DataView(wire.buffer).getUint32(ADVERT_LAYOUT.interval.offset), 200);
    t.equal(hex.slice(ADVERT_LAYOUT.seq.offset * 2, (ADVERT_LAYOUT.seq.offset + 8) * 2), '0000000000000007');
    t.equal(wire[ADVERT_LAYOUT.replicaIdLength.offset], 6);
    t.equal(Buffer.from(wire.subarray(37, 43)).toString(), 'weft-a');
    t.equal(hex.slice(43 * 2, 45 * 2), '0002', 'two entries');
    t.equal(hex.slice(45 * 2, 46 * 2 + 8 * 2 + 20), '08' + Buffer.from('acme/web').toString('hex') + '96' + '01' + '0000000000000003');
    t.equal(wire.length, advertSize('weft-a', advert().entries));
  });

  t.test('the MAC is HMAC-SHA256 of everything before it', async (t) => {
    const { createHmac } = await import('node:crypto');
    const wire = encodeAdvert(advert(), key);
    const end = wire.length - MAC_LENGTH;
    t.same(Buffer.from(wire.subarray(end)), createHmac('sha256', key).update(wire.subarray(0, end)).digest());
    t.ok(verifyAdvert(wire, key));
    t.notOk(verifyAdvert(wire, otherKey));
  });
});

t.test('decoding', async (t) => {
  t.test('openAdvert returns what was encoded', async (t) => {
    t.same(openAdvert(encodeAdvert(advert(), key), key), advert());
  });

  t.test('another key is a forgery, found at the MAC', async (t) => {
    const wire = encodeAdvert(advert(), otherKey);
    const e = decodeError(() => openAdvert(wire, key));
    t.equal(e.kind, 'forged');
    t.equal(e.offset, wire.length - MAC_LENGTH);
  });

  t.test('one flipped bit anywhere is refused, never misread', async (t) => {
    const wire = encodeAdvert(advert(), key);
    for (let i = 0; i < wire.length; i++) {
      const bad = wire.slice();
      bad[i]! ^= 0x10;
      t.throws(() => openAdvert(bad, key), AdvertDecodeError);
    }
  });

  t.test('malformed adverts name the offset', async (t) => {
    t.match(decodeError(() => openAdvert(new Uint8Array(10), key)), { kind: 'malformed', offset: 10 });
    const wire = encodeAdvert(advert(), key);
    const magic = wire.slice();
    magic[0] = 0;
    t.match(decodeError(() => openAdvert(magic, key)), { kind: 'malformed', offset: 0 });
    const version = wire.slice();
    version[4] = 2;
    t.match(decodeError(() => openAdvert(version, key)), { kind: 'malformed', offset: 4 });
    t.match(decodeError(() => openAdvert(wire.subarray(0, wire.length - 1), key)), { kind: 'malformed', offset: 6 }, 'truncation shows in the length field');
  });

  t.test('structure errors behind a valid MAC are malformed, not thrown otherwise', async (t) => {
    // A sender with the key but a broken encoder: re-sign hand-made bytes.
    const { createHmac } = await import('node:crypto');
    const resign = (b: Uint8Array) => {
      const end = b.length - MAC_LENGTH;
      b.set(createHmac('sha256', key).update(b.subarray(0, end)).digest(), end);
      return b;
    };
    const wire = encodeAdvert(advert(), key);
    const count = wire.slice();
    count[44] = 3;
    t.match(decodeError(() => openAdvert(resign(count), key)), { kind: 'malformed', reason: /entry 2/ });
    const flags = wire.slice();
    flags[45 + 1 + 8 + 1] = 0x80;
    t.match(decodeError(() => openAdvert(resign(flags), key)), { kind: 'malformed', offset: 55, reason: /reserved flags/ });
    const utf = wire.slice();
    utf[37] = 0xff;
    t.match(decodeError(() => openAdvert(resign(utf), key)), { kind: 'malformed', offset: 37, reason: /UTF-8/ });
    const big = wire.slice();
    big[ADVERT_LAYOUT.seq.offset] = 0xff;
    t.match(decodeError(() => openAdvert(resign(big), key)), { kind: 'malformed', offset: ADVERT_LAYOUT.seq.offset });
  });
});

t.test('bounds', async (t) => {
  t.test('the encoder refuses what has no wire form', async (t) => {
    t.throws(() => encodeAdvert(advert({ replicaId: '' }), key), AdvertEncodeError);
    t.throws(() => encodeAdvert(advert({ replicaId: 'x'.repeat(65) }), key), AdvertEncodeError);
    t.throws(() => encodeAdvert(advert({ entries: [{ network: 'a/b', priority: 256, term: 0, leader: false }] }), key), AdvertEncodeError);
    t.throws(() => encodeAdvert(advert({ entries: [{ network: 'a/b', priority: 1, term: 2 ** 53, leader: false }] }), key), AdvertEncodeError);
    t.throws(() => encodeAdvert(advert({ seq: -1 }), key), AdvertEncodeError);
    t.throws(() => encodeAdvert(advert(), new Uint8Array(8)), AdvertEncodeError, 'a short key');
    const twice = { network: 'a/b', priority: 1, term: 0, leader: false };
    t.throws(() => encodeAdvert(advert({ entries: [twice, twice] }), key), AdvertEncodeError);
  });

  t.test('more entries than a datagram holds must be split', async (t) => {
    const many: AdvertEntry[] = Array.from({ length: MAX_ENTRIES }, (_, i) => ({ network: `tenant-${i}/network-${i}`, priority: 100, term: i, leader: false }));
    t.throws(() => encodeAdvert(advert({ entries: many }), key), /split/);
    const groups = splitEntries('weft-a', many);
    t.same(groups.flat(), many, 'every entry once, in order');
    for (const g of groups) {
      const wire = encodeAdvert(advert({ entries: g }), key);
      t.ok(wire.length <= 1400 && wire.length <= MAX_ADVERT_BYTES);
    }
    t.same(splitEntries('weft-a', []), [[]], 'no networks is still one advert');
  });
});

const entry: fc.Arbitrary<AdvertEntry> = fc.record({
  network: fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }).filter((s) => Buffer.byteLength(s) <= 255),
  priority: fc.nat(255),
  term: fc.maxSafeNat(),
  leader: fc.boolean(),
});
const anyAdvert: fc.Arbitrary<Advert> = fc.record({
  version: fc.constant(1),
  replicaId: fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }).filter((s) => Buffer.byteLength(s) <= 64),
  intervalMs: fc.integer({ min: 1, max: 600_000 }),
  boot: fc.maxSafeNat(),
  seq: fc.maxSafeNat(),
  timestamp: fc.maxSafeNat(),
  entries: fc.uniqueArray(entry, { maxLength: 30, selector: (e) => e.network }),
});

function onlyTyped(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    return e instanceof AdvertDecodeError;
  }
}

t.test('properties', async (t) => {
  t.test('round trip', async () => {
    fc.assert(fc.property(anyAdvert, (a) => {
      const wire = encodeAdvert(a, key);
      const back = openAdvert(wire, key);
      return JSON.stringify(back) === JSON.stringify(a) && JSON.stringify(decodeAdvert(wire).advert) === JSON.stringify(a);
    }));
  });

  t.test('random bytes only ever give a typed error', async () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => onlyTyped(() => openAdvert(b, key)) && onlyTyped(() => decodeAdvert(b))));
  });

  t.test('random bytes with a plausible header and the right length only ever give a typed error or an unverified value', async () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 72, maxLength: 600 }), (b) => {
      b.set([0x57, 0x46, 0x41, 0x44, 1, 0], 0);
      new DataView(b.buffer, b.byteOffset).setUint16(6, b.length);
      if (!onlyTyped(() => decodeAdvert(b))) return false;
      return decodeError(() => openAdvert(b, key)).kind === 'forged';
    }));
  });

  t.test('truncation and mutation give a typed error, or a value whose MAC fails', async () => {
    fc.assert(fc.property(anyAdvert, fc.nat(), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), (a, cut, edits) => {
      const wire = encodeAdvert(a, key);
      const short = wire.subarray(0, cut % wire.length);
      if (!onlyTyped(() => openAdvert(short, key)) || !onlyTyped(() => decodeAdvert(short))) return false;
      const bad = wire.slice();
      for (const [at, v] of edits) bad[at % bad.length] = v;
      const changed = Buffer.compare(bad, wire) !== 0;
      if (!onlyTyped(() => decodeAdvert(bad))) return false;
      if (changed && verifyAdvert(bad, key)) return false;
      return onlyTyped(() => openAdvert(bad, key));
    }));
  });
});

t.test('replay protection', async (t) => {
  const now = 1_700_000_000_500;
  const a = (seq: number, over: Partial<Advert> = {}) => advert({ seq, timestamp: now, ...over });
  function run(adverts: Advert[], at = now): Array<string> {
    let state: ReplayState = new Map();
    return adverts.map((x) => {
      const r = acceptAdvert(state, x, at);
      if (r.accepted) {
        state = r.state;
        return 'ok';
      }
      return r.reason;
    });
  }

  t.test('each sequence number of a boot is taken once, reordering within the window is fine', async (t) => {
    t.same(run([a(1), a(2), a(2), a(5), a(3), a(3), a(4), a(1)]), ['ok', 'ok', 'replayed', 'ok', 'ok', 'replayed', 'ok', 'replayed']);
  });

  t.test('older than the window is a replay', async (t) => {
    t.same(run([a(100), a(36), a(37)]), ['ok', 'replayed', 'ok']);
  });

  t.test('a restart (larger boot epoch) starts a new sequence; the old boot is then a replay', async (t) => {
    t.same(run([a(500), a(1, { boot: advert().boot + 1 }), a(501), a(2, { boot: advert().boot + 1 })]), ['ok', 'ok', 'replayed', 'ok']);
  });

  t.test('a smaller boot epoch is taken once the sender has been silent past the skew bound', async (t) => {
    const first = acceptAdvert(new Map(), a(500), now);
    t.ok(first.accepted);
    const state = first.accepted ? first.state : new Map();
    const back = a(1, { boot: advert().boot - 5000, timestamp: now + 20_000 });
    t.match(acceptAdvert(state, back, now + 5_000), { accepted: false }, 'timestamp too far out');
    t.match(acceptAdvert(state, { ...back, timestamp: now + 5_000 }, now + 5_000), { accepted: false, reason: 'replayed' });
    t.match(acceptAdvert(state, { ...back, timestamp: now + 11_000 }, now + 11_000), { accepted: true });
  });

  t.test('a timestamp beyond the skew bound is refused either way', async (t) => {
    t.same(run([a(1, { timestamp: now - 10_001 }), a(2, { timestamp: now + 10_001 }), a(3, { timestamp: now + 10_000 })]), ['skew', 'skew', 'ok']);
  });

  t.test('our own adverts looped back are refused', async (t) => {
    t.match(acceptAdvert(new Map(), a(1), now, { self: 'weft-a' }), { accepted: false, reason: 'self' });
  });

  t.test('senders are independent', async (t) => {
    t.same(run([a(5), a(5, { replicaId: 'weft-b' }), a(5)]), ['ok', 'ok', 'replayed']);
  });
});
