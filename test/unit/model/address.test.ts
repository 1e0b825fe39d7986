// IPv4 and CIDR arithmetic: what counts as an address and a block, and the
// laws the invariants and the DHCP allocator rely on.
import fc from 'fast-check';
import t from 'tap';
import {
  canonicalCidr,
  cidrContains,
  cidrOf,
  intervalsOverlap,
  intToIpv4,
  ipv4ToInt,
  parseCidr,
  parseIpv4,
  prefixToNetmask,
} from '../../../src/model/address.js';
import { holds } from './holds.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const prefix = fc.integer({ min: 0, max: 32 });
/** A canonical block: any address with its host bits cleared. */
const block = fc.tuple(u32, prefix).map(([a, p]) => {
  const size = 2 ** (32 - p);
  return cidrOf(`${intToIpv4(a - (a % size))}/${p}`);
});

t.test('a dotted quad is four decimal octets 0-255 without leading zeros', async (t) => {
  const valid: [string, number][] = [
    ['0.0.0.0', 0],
    ['192.0.2.1', 0xc0000201],
    ['198.51.100.0', 0xc6336400],
    ['203.0.113.255', 0xcb0071ff],
    ['255.255.255.255', 0xffffffff],
  ];
  for (const [text, n] of valid) t.equal(parseIpv4(text), n, `${text} is ${n}`);

  const invalid = [
    '',
    '192.0.2',
    '192.0.2.1.5',
    '192.0.2.256',
    '256.0.2.1',
    '192.0.2.999',
    '192.0.02.1', // inet_aton reads leading zeros as octal: refused rather than guessed
    '00.0.0.0',
    '192.0.2.-1',
    ' 192.0.2.1',
    '192.0.2.1 ',
    '192.0. 2.1',
    '192.0.2.1/24',
    '0x7f.0.0.1',
    '3221225985', // one integer
    '::1',
    '2001:db8::1',
    '::ffff:192.0.2.1',
    'a.b.c.d',
  ];
  for (const text of invalid) t.equal(parseIpv4(text), undefined, `${JSON.stringify(text)} is refused`);
});

t.test('ipv4ToInt throws a RangeError for what parseIpv4 refuses', async (t) => {
  t.throws(() => ipv4ToInt('192.0.2.256'), RangeError);
  t.equal(ipv4ToInt('192.0.2.1'), 0xc0000201);
});

t.test('intToIpv4 and ipv4ToInt are inverses over every unsigned 32-bit integer', async (t) => {
  holds(t, 'any integer survives the round trip', fc.property(u32, (n) => ipv4ToInt(intToIpv4(n)) === n), 10_000);
  for (const n of [0, 1, 255, 256, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]) t.equal(ipv4ToInt(intToIpv4(n)), n, `${intToIpv4(n)} survives the round trip`);
});

t.test('a CIDR is a dotted quad, a slash and a prefix length 0-32 with no host bits set', async (t) => {
  t.same(parseCidr('0.0.0.0/0'), { network: 0, prefix: 0, first: 0, last: 0xffffffff }, '/0 is every address');
  t.same(parseCidr('192.0.2.7/32'), { network: 0xc0000207, prefix: 32, first: 0xc0000207, last: 0xc0000207 }, '/32 is one address');
  t.same(parseCidr('192.0.2.0/24'), { network: 0xc0000200, prefix: 24, first: 0xc0000200, last: 0xc00002ff });
  t.same(parseCidr('198.18.64.0/18'), { network: 0xc6124000, prefix: 18, first: 0xc6124000, last: 0xc6127fff });
  t.same(parseCidr('128.0.0.0/1'), { network: 0x80000000, prefix: 1, first: 0x80000000, last: 0xffffffff });

  const syntax = [
    '192.0.2.0',
    '192.0.2.0/',
    '192.0.2.0/33',
    '192.0.2.0/99',
    '192.0.2.0/100',
    '192.0.2.0/-1',
    '192.0.2.0/024',
    '192.0.2.0/ 24',
    '192.0.2.0/24 ',
    '192.0.2.0/0x18',
    '192.0.2.0/24/24',
    '192.0.2.0/255.255.255.0',
    '192.0.02.0/24',
    '192.0.2.256/24',
    '2001:db8::/32',
    '/24',
  ];
  for (const text of syntax) t.equal(parseCidr(text), 'syntax', `${JSON.stringify(text)} is not a CIDR`);
});

t.test('a CIDR with host bits set is refused on its own, with the block that was probably meant', async (t) => {
  const cases: [string, string][] = [
    ['192.0.2.1/24', '192.0.2.0/24'],
    ['192.0.2.255/25', '192.0.2.128/25'],
    ['198.51.100.77/30', '198.51.100.76/30'],
    ['203.0.113.9/0', '0.0.0.0/0'],
    ['255.255.255.255/1', '128.0.0.0/1'],
  ];
  for (const [text, meant] of cases) {
    t.equal(parseCidr(text), 'host-bits', `${text} has host bits set`);
    t.equal(canonicalCidr(text), meant, `${text} suggests ${meant}`);
  }
  t.equal(canonicalCidr('192.0.2.0/24'), '192.0.2.0/24', 'a canonical block suggests itself');
  for (const text of ['192.0.2.1', '192.0.2.1/33', '192.0.2.1/ 24', '192.0.2.1/0x18', '192.0.2.256/24']) {
    t.equal(canonicalCidr(text), undefined, `${JSON.stringify(text)} suggests nothing`);
  }
  t.throws(() => cidrOf('192.0.2.1/24'), RangeError, 'cidrOf takes canonical blocks only');
});

t.test('canonicalCidr of any address and prefix is a canonical block that contains the address', async (t) => {
  holds(
    t,
    'any address with any prefix',
    fc.property(u32, prefix, (a, p) => {
      const meant = canonicalCidr(`${intToIpv4(a)}/${p}`);
      if (meant === undefined) return false;
      const c = parseCidr(meant);
      return typeof c !== 'string' && c.prefix === p && cidrContains(c, a);
    }),
  );
});

t.test('a block contains exactly its 2^(32-prefix) addresses from its network address on', async (t) => {
  holds(
    t,
    'first, last, first-1 and last+1',
    fc.property(block, (c) => {
      const size = 2 ** (32 - c.prefix);
      return (
        c.first === c.network &&
        c.last - c.first + 1 === size &&
        c.first % size === 0 &&
        cidrContains(c, c.first) &&
        cidrContains(c, c.last) &&
        (c.first === 0 || !cidrContains(c, c.first - 1)) &&
        (c.last === 0xffffffff || !cidrContains(c, c.last + 1))
      );
    }),
  );
  holds(
    t,
    'membership is having the same network address',
    fc.property(block, u32, (c, a) => {
      const size = 2 ** (32 - c.prefix);
      const sameNetwork = Math.floor(a / size) === Math.floor(c.network / size);
      return cidrContains(c, a) === sameNetwork;
    }),
  );
});

t.test('two blocks overlap symmetrically, exactly when one contains the first address of the other', async (t) => {
  holds(
    t,
    'overlap of two random blocks',
    fc.property(block, block, (a, b) => {
      const overlap = intervalsOverlap(a, b);
      return overlap === intervalsOverlap(b, a) && overlap === (cidrContains(a, b.first) || cidrContains(b, a.first));
    }),
  );
});

t.test('two blocks that overlap are nested: one contains the other entirely', async (t) => {
  holds(
    t,
    'nesting of two random overlapping blocks',
    fc.property(block, block, (a, b) => {
      if (!intervalsOverlap(a, b)) return true;
      const [outer, inner] = a.prefix <= b.prefix ? [a, b] : [b, a];
      return cidrContains(outer, inner.first) && cidrContains(outer, inner.last);
    }),
  );
});

t.test('intervals overlap exactly when they share an address', async (t) => {
  const small = fc.tuple(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 24 })).map(([x, y]) => ({ first: Math.min(x, y), last: Math.max(x, y) }));
  holds(
    t,
    'overlap of two random intervals within 0-24',
    fc.property(small, small, (a, b) => {
      let shared = false;
      for (let n = a.first; n <= a.last; n++) if (n >= b.first && n <= b.last) shared = true;
      return intervalsOverlap(a, b) === shared;
    }),
  );
});

t.test('the netmask of a prefix length has that many leading one bits', async (t) => {
  const cases: [number, string][] = [
    [0, '0.0.0.0'],
    [1, '128.0.0.0'],
    [18, '255.255.192.0'],
    [24, '255.255.255.0'],
    [31, '255.255.255.254'],
    [32, '255.255.255.255'],
  ];
  for (const [p, mask] of cases) t.equal(prefixToNetmask(p), mask, `/${p} is ${mask}`);
  holds(
    t,
    'netmask bits',
    fc.property(prefix, (p) => {
      const m = ipv4ToInt(prefixToNetmask(p));
      return m.toString(2).padStart(32, '0') === '1'.repeat(p) + '0'.repeat(32 - p);
    }),
  );
});
