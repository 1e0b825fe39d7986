// Connection targets are written the way Open vSwitch writes them, and the
// admin API listens on a plain HOST:PORT.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import {
  formatListen,
  formatTarget,
  parseListen,
  parseTarget,
  TargetError,
  type Listen,
  type Target,
  type TargetErrorReason,
} from '../../../src/config/target.js';

t.test('accepts every OVS target form', async (t) => {
  const cases: [string, Target][] = [
    ['ptcp:6640', { scheme: 'ptcp', port: 6640 }],
    ['ptcp:0', { scheme: 'ptcp', port: 0 }],
    ['ptcp:6640:198.19.1.254', { scheme: 'ptcp', port: 6640, host: '198.19.1.254' }],
    ['ptcp:6640:[::1]', { scheme: 'ptcp', port: 6640, host: '::1' }],
    ['pssl:6640:[2001:db8::1]', { scheme: 'pssl', port: 6640, host: '2001:db8::1' }],
    ['pssl:6653', { scheme: 'pssl', port: 6653 }],
    ['punix:/run/weft/ovsdb.sock', { scheme: 'punix', path: '/run/weft/ovsdb.sock' }],
    ['tcp:198.19.1.1:6640', { scheme: 'tcp', host: '198.19.1.1', port: 6640 }],
    ['tcp:[2001:db8::2]:6640', { scheme: 'tcp', host: '2001:db8::2', port: 6640 }],
    ['tcp:hv1.example.net:6640', { scheme: 'tcp', host: 'hv1.example.net', port: 6640 }],
    ['ssl:198.19.2.1:6653', { scheme: 'ssl', host: '198.19.2.1', port: 6653 }],
    ['unix:/var/run/openvswitch/db.sock', { scheme: 'unix', path: '/var/run/openvswitch/db.sock' }],
    ['unix:relative.sock', { scheme: 'unix', path: 'relative.sock' }],
  ];
  for (const [text, want] of cases) {
    t.same(parseTarget(text), want, text);
    t.equal(formatTarget(want), text, `${text} formats back to itself`);
  }
});

t.test('refuses malformed targets with a typed reason', async (t) => {
  const cases: [string, TargetErrorReason][] = [
    ['', 'empty'],
    ['   ', 'empty'],
    ['6640', 'syntax'],
    ['http:198.19.1.1:80', 'scheme'],
    ['PTCP:6640', 'scheme'],
    ['ptcp:', 'port'],
    ['ptcp:x', 'port'],
    ['ptcp:65536', 'port'],
    ['ptcp:-1', 'port'],
    ['ptcp:123456', 'port'],
    ['ptcp:6640:', 'address'],
    ['ptcp:6640:hv1.example.net', 'address'],
    ['ptcp:6640:::1', 'address'],
    ['ptcp:6640:[::1', 'address'],
    ['ptcp:6640:[198.19.1.1]', 'address'],
    ['tcp:198.19.1.1', 'syntax'],
    ['tcp:198.19.1.1:0', 'port'],
    ['tcp:198.19.1.1:', 'port'],
    ['tcp::6640', 'address'],
    ['tcp:2001:db8::1:6640', 'address'],
    ['tcp:[2001:db8::1:6640', 'syntax'],
    ['tcp:300.1.1.1:6640', 'address'],
    ['tcp:bad_name:6640', 'address'],
    ['unix:', 'path'],
    ['punix:', 'path'],
    ['punix:/a\0b', 'path'],
  ];
  for (const [text, reason] of cases) {
    t.throws(() => parseTarget(text), { name: 'TargetError', reason, input: text }, JSON.stringify(text));
  }
  const err = (() => {
    try {
      parseTarget('ptcp:x');
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof TargetError);
  t.match((err as Error).message, /^bad target "ptcp:x": port "x"/, 'the message quotes the input and names the part');
});

t.test('parses the API listener HOST:PORT', async (t) => {
  const cases: [string, Listen][] = [
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    ['localhost:8080', { host: 'localhost', port: 8080 }],
  ];
  for (const [text, want] of cases) {
    t.same(parseListen(text), want, text);
    t.equal(formatListen(want), text);
  }
  for (const [text, reason] of [
    ['', 'empty'],
    ['8080', 'syntax'],
    [':8080', 'syntax'],
    ['127.0.0.1:', 'port'],
    ['127.0.0.1:http', 'port'],
    ['::1:8080', 'address'],
    ['ptcp:8080', 'syntax'],
  ] as const) {
    t.throws(() => parseListen(text), { name: 'TargetError', reason }, text);
  }
});

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 1, max: 65535 });
const path = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0'));
const hostname = fc.domain();

const target: fc.Arbitrary<Target> = fc.oneof(
  fc.record({ scheme: fc.constantFrom('ptcp' as const, 'pssl' as const), port: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ scheme: fc.constantFrom('ptcp' as const, 'pssl' as const), port: fc.integer({ min: 0, max: 65535 }), host: fc.oneof(ipv4, ipv6) }),
  fc.record({ scheme: fc.constantFrom('punix' as const, 'unix' as const), path }),
  fc.record({ scheme: fc.constantFrom('tcp' as const, 'ssl' as const), host: fc.oneof(ipv4, ipv6, hostname), port }),
);

t.test('round trip: parseTarget(formatTarget(t)) is t', async (t) => {
  fc.assert(
    fc.property(target, (x) => isDeepStrictEqual(parseTarget(formatTarget(x)), { ...x })),
    { numRuns: 500 },
  );
  t.pass();
});

t.test('round trip: parseListen(formatListen(l)) is l', async (t) => {
  fc.assert(
    fc.property(fc.record({ host: fc.oneof(ipv4, ipv6, hostname), port: fc.integer({ min: 0, max: 65535 }) }), (l) =>
      isDeepStrictEqual(parseListen(formatListen(l)), { ...l }),
    ),
    { numRuns: 300 },
  );
  t.pass();
});

t.test('any string either parses or throws a TargetError, never anything else', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.constantFrom('ptcp:', 'tcp:[', 'ssl:', 'punix:').chain((p) => fc.string().map((s) => p + s))), (s) => {
      for (const parse of [parseTarget, parseListen]) {
        try {
          parse(s);
        } catch (err) {
          if (!(err instanceof TargetError)) throw err;
        }
      }
    }),
    { numRuns: 1000 },
  );
  t.pass();
});
