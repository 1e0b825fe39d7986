import t, { type Test } from 'tap';
import fc from 'fast-check';
import { PacketDecodeError, parseUdpFrame, tryDecode } from '../../../protocols/packet/index.js';
import {
  BOOTP_MIN_LENGTH, BOOTREPLY, BOOTREQUEST, DHCP_LAYOUT, DHCP_MESSAGE_TYPE, DhcpDecodeError, DhcpEncodeError, FQDN_FLAG,
  decodeDhcpMessage, decodeNameList, encodeDhcpMessage, encodeNameList, getOption,
  type DhcpMessage, type DhcpOption,
} from '../../../protocols/dhcp/index.js';
import { goldenFrame, goldenNames } from '../../fixtures/dhcp/frames.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const payloadOf = (name: string) => parseUdpFrame(goldenFrame(name)).udp.payload;
const golden = (name: string) => decodeDhcpMessage(payloadOf(name));
const json = (v: unknown) => JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));

function decodeOnly(bytes: Uint8Array): DhcpMessage | undefined {
  try {
    return decodeDhcpMessage(bytes);
  } catch (e) {
    if (e instanceof DhcpDecodeError) return undefined;
    throw e;
  }
}

/** Asserts that decoding fails with a DhcpDecodeError matching `want` (its offset, layer). */
function rejects(t: Test, decode: () => unknown, want: { offset: number; layer?: string }, what = 'decode error'): void {
  const r = tryDecode(decode);
  t.match(r, { ok: false, error: { ...want } }, what);
  if (!r.ok) t.type(r.error, DhcpDecodeError, what);
}

function baseMessage(options: DhcpOption[]): DhcpMessage {
  return {
    op: BOOTREPLY, htype: 1, hops: 0, xid: 0x12345678, secs: 0, broadcast: true, reservedFlags: 0,
    ciaddr: '0.0.0.0', yiaddr: '192.0.2.100', siaddr: '192.0.2.2', giaddr: '0.0.0.0',
    chaddr: '02:00:5e:00:02:01', sname: '', file: '', options,
  };
}

t.test('golden frames from real clients and servers', async (t) => {
  t.test('dhclient DHCPDISCOVER: type, hostname, client id, requested options', async (t) => {
    const m = golden('dhclient-discover');
    t.equal(m.op, BOOTREQUEST);
    t.equal(m.chaddr, '02:00:5e:00:02:01');
    t.equal(getOption(m, 'messageType'), DHCP_MESSAGE_TYPE.DISCOVER);
    t.equal(getOption(m, 'hostname'), 'vm-dhclient');
    t.same(getOption(m, 'clientId'), { type: 1, id: hex('02005e000201') });
    t.same(getOption(m, 'parameterRequestList'), [1, 28, 2, 3, 15, 6, 119, 12, 26, 121]);
  });
  t.test('dhclient DHCPREQUEST names the server and the offered address', async (t) => {
    const m = golden('dhclient-request');
    t.equal(getOption(m, 'messageType'), DHCP_MESSAGE_TYPE.REQUEST);
    t.equal(getOption(m, 'serverId'), '192.0.2.2');
    t.equal(getOption(m, 'requestedIp'), '192.0.2.112');
    t.equal(m.xid, golden('dhclient-discover').xid, 'same transaction as the discover');
  });
  t.test('dhclient DHCPRELEASE carries the released address in ciaddr', async (t) => {
    const m = golden('dhclient-release');
    t.equal(getOption(m, 'messageType'), DHCP_MESSAGE_TYPE.RELEASE);
    t.equal(m.ciaddr, '192.0.2.112');
  });
  t.test('udhcpc DHCPDISCOVER: max size, FQDN, vendor class kept raw', async (t) => {
    const m = golden('udhcpc-discover');
    t.equal(getOption(m, 'messageType'), DHCP_MESSAGE_TYPE.DISCOVER);
    t.equal(getOption(m, 'maxMessageSize'), 576);
    t.equal(getOption(m, 'hostname'), 'vm-udhcpc');
    t.same(getOption(m, 'clientId'), { type: 1, id: hex('02005e000202') });
    t.same(getOption(m, 'clientFqdn'), { flags: FQDN_FLAG.S, rcode1: 0, rcode2: 0, name: 'vm-udhcpc.example.com' });
    t.same(getOption(m, 'parameterRequestList'), [1, 3, 6, 12, 15, 26, 28, 42, 119, 121]);
    const vendor = m.options.find((o) => o.name === 'raw' && o.code === 60);
    t.match(Buffer.from(vendor?.name === 'raw' ? vendor.data : []).toString(), /^udhcp /);
  });
  t.test('dnsmasq DHCPOFFER and DHCPACK carry the configured options', async (t) => {
    for (const [name, type, ip] of [
      ['dnsmasq-offer-to-dhclient', DHCP_MESSAGE_TYPE.OFFER, '192.0.2.112'],
      ['dnsmasq-ack-to-dhclient', DHCP_MESSAGE_TYPE.ACK, '192.0.2.112'],
      ['dnsmasq-ack-to-udhcpc', DHCP_MESSAGE_TYPE.ACK, '192.0.2.113'],
    ] as const) {
      const m = golden(name);
      t.equal(m.op, BOOTREPLY, name);
      t.equal(getOption(m, 'messageType'), type, name);
      t.equal(m.yiaddr, ip, name);
      t.equal(getOption(m, 'serverId'), '192.0.2.2');
      t.equal(getOption(m, 'leaseTime'), 3600);
      t.equal(getOption(m, 'subnetMask'), '255.255.255.0');
      t.same(getOption(m, 'router'), ['192.0.2.2']);
      t.same(getOption(m, 'dnsServers'), ['192.0.2.53', '192.0.2.54']);
      t.equal(getOption(m, 'interfaceMtu'), 1450);
      t.same(getOption(m, 'domainSearch'), ['example.com', 'lab.example.com', 'example.net']);
      t.same(getOption(m, 'classlessRoutes'), [
        { destination: '198.51.100.0/24', router: '192.0.2.1' },
        { destination: '0.0.0.0/0', router: '192.0.2.2' },
      ]);
    }
  });
  t.test('every golden message re-encodes to the very bytes that were captured', async (t) => {
    for (const name of goldenNames) {
      const bytes = payloadOf(name);
      t.same(Buffer.from(encodeDhcpMessage(decodeDhcpMessage(bytes))), Buffer.from(bytes), name);
    }
  });
});

t.test('option framing', async (t) => {
  t.test('an option longer than 255 bytes is split on encode and joined on decode (RFC 3396)', async (t) => {
    const data = Uint8Array.from({ length: 600 }, (_, i) => i & 255);
    const wire = encodeDhcpMessage(baseMessage([{ name: 'raw', code: 224, data }]), { maxMessageSize: 1500 });
    const at = DHCP_LAYOUT.options;
    t.same([wire[at], wire[at + 1], wire[at + 257], wire[at + 258], wire[at + 514], wire[at + 515]], [224, 255, 224, 255, 224, 90]);
    t.same(decodeDhcpMessage(wire).options, [{ name: 'raw', code: 224, data }]);
  });
  t.test('instances of one code far apart are joined in order', async (t) => {
    const m = baseMessage([]);
    const wire = new Uint8Array(encodeDhcpMessage(m));
    wire.set(hex('0c0376 6d2d 3501 05 0c02 3031 ff'), DHCP_LAYOUT.options);
    const back = decodeDhcpMessage(wire);
    t.same(back.options, [{ name: 'hostname', value: 'vm-01' }, { name: 'messageType', value: 5 }]);
  });
  t.test('option overload: options continue in file, then sname', async (t) => {
    const wire = new Uint8Array(encodeDhcpMessage(baseMessage([])));
    wire.set(hex('3401 03 3501 02 ff'), DHCP_LAYOUT.options);
    wire.set(hex('0c02 7669 ff'), DHCP_LAYOUT.file);
    wire.set(hex('0f0b 6578616d706c652e636f6d ff'), DHCP_LAYOUT.sname);
    const back = decodeDhcpMessage(wire);
    t.same(back.options, [{ name: 'messageType', value: 2 }, { name: 'hostname', value: 'vi' }, { name: 'domainName', value: 'example.com' }]);
    t.equal(back.file, '');
    t.equal(back.sname, '');
  });
  t.test('overload in file or a bad overload value is an error naming the offset', async (t) => {
    const wire = new Uint8Array(encodeDhcpMessage(baseMessage([])));
    wire.set(hex('3401 04 ff'), DHCP_LAYOUT.options);
    rejects(t, () => decodeDhcpMessage(wire), { offset: DHCP_LAYOUT.options + 1 });
    wire.set(hex('3401 01 ff'), DHCP_LAYOUT.options);
    wire.set(hex('3401 01 ff'), DHCP_LAYOUT.file);
    rejects(t, () => decodeDhcpMessage(wire), { offset: DHCP_LAYOUT.file });
  });
  t.test('an option running past the end is an error at its length byte', async (t) => {
    const wire = new Uint8Array(encodeDhcpMessage(baseMessage([])));
    wire.set(hex('0cff'), DHCP_LAYOUT.options);
    rejects(t, () => decodeDhcpMessage(wire), { layer: 'dhcp', offset: DHCP_LAYOUT.options + 1 });
  });
  t.test('no magic cookie, an unknown op, a long hlen are errors', async (t) => {
    const wire = encodeDhcpMessage(baseMessage([]));
    for (const [at, value] of [[DHCP_LAYOUT.cookie, 0], [DHCP_LAYOUT.op, 3], [DHCP_LAYOUT.hlen, 17]]) {
      const bad = new Uint8Array(wire);
      bad[at!] = value!;
      rejects(t, () => decodeDhcpMessage(bad), { offset: at! }, `byte ${at}`);
    }
  });
});

t.test('message size', async (t) => {
  const many = (n: number): DhcpOption[] => [
    { name: 'messageType', value: DHCP_MESSAGE_TYPE.ACK },
    ...Array.from({ length: n }, (_, i): DhcpOption => ({ name: 'raw', code: 224 + (i % 30), data: new Uint8Array(40).fill(i) })),
  ];
  t.test('a small reply is padded to the BOOTP minimum of 300 bytes', async (t) => {
    t.equal(encodeDhcpMessage(baseMessage(many(0))).length, BOOTP_MIN_LENGTH);
  });
  t.test('a reply fits 576 bytes by default, using file and sname when needed', async (t) => {
    const m = baseMessage(many(10));
    const wire = encodeDhcpMessage(m);
    t.ok(wire.length <= 576 - 28);
    t.equal(wire[DHCP_LAYOUT.options], 52, 'overload comes first');
    t.same(json(decodeDhcpMessage(wire).options), json(mergeByCode(m.options)));
  });
  t.test("a reply fits the client's larger maximum without overload", async (t) => {
    const m = baseMessage(many(10));
    const wire = encodeDhcpMessage(m, { maxMessageSize: 1500 });
    t.not(wire[DHCP_LAYOUT.options], 52);
    t.ok(wire.length <= 1500 - 28);
  });
  t.test('a maximum below 576 counts as 576', async (t) => {
    t.ok(encodeDhcpMessage(baseMessage(many(10)), { maxMessageSize: 300 }).length <= 548);
  });
  t.test('a reply that cannot fit is an encode error', async (t) => {
    t.throws(() => encodeDhcpMessage(baseMessage(many(20))), DhcpEncodeError);
    t.throws(() => encodeDhcpMessage({ ...baseMessage(many(10)), file: 'pxelinux.0' }), DhcpEncodeError);
  });
});

/** What decoding makes of a list where a code repeats: one option, data joined. */
function mergeByCode(options: DhcpOption[]): DhcpOption[] {
  const out: DhcpOption[] = [];
  for (const o of options) {
    const prev = o.name === 'raw' ? out.find((p) => p.name === 'raw' && p.code === o.code) : undefined;
    if (prev?.name === 'raw' && o.name === 'raw') prev.data = Uint8Array.from([...prev.data, ...o.data]);
    else out.push(o.name === 'raw' ? { ...o } : o);
  }
  return out;
}

t.test('domain search (RFC 3397)', async (t) => {
  t.test('compresses like the RFC example', async (t) => {
    const wire = encodeNameList(['eng.example.com', 'marketing.example.com'], 'domainSearch');
    t.equal(Buffer.from(wire).toString('hex'), '03656e67076578616d706c6503636f6d00' + '096d61726b6574696e67c004');
    t.same(decodeNameList(wire, 0), ['eng.example.com', 'marketing.example.com']);
  });
  t.test('a pointer loop is an error, not a hang', async (t) => {
    rejects(t, () => decodeNameList(hex('01 61 c0 00'), 7), { layer: 'dhcp', offset: 7 });
    t.throws(() => decodeNameList(hex('c0 00'), 0), DhcpDecodeError);
  });
  t.test('a long chain of pointers is an error, in bounded work', async (t) => {
    const chain = [0];
    for (let i = 0; i < 30000; i++) chain.push(0xc0 | ((2 * i - 1 < 0 ? 0 : 2 * i - 1) >> 8), (2 * i - 1 < 0 ? 0 : 2 * i - 1) & 255);
    rejects(t, () => decodeNameList(Uint8Array.from(chain), 0), { offset: 0 });
  });
  t.test('a pointer past the option is an error', async (t) => {
    t.throws(() => decodeNameList(hex('01 61 c0 09'), 0), DhcpDecodeError);
  });
  t.test('a long list is split over several option instances and joined again', async (t) => {
    const names = Array.from({ length: 30 }, (_, i) => `zone${i}.tenant${i}.example.org`);
    const m = baseMessage([{ name: 'domainSearch', value: names }]);
    t.same(getOption(decodeDhcpMessage(encodeDhcpMessage(m, { maxMessageSize: 1500 })), 'domainSearch'), names);
  });
});

t.test('classless static routes (RFC 3442) use only the significant octets', async (t) => {
  const m = baseMessage([{ name: 'classlessRoutes', value: [
    { destination: '0.0.0.0/0', router: '192.0.2.1' },
    { destination: '198.51.100.0/24', router: '192.0.2.2' },
    { destination: '203.0.113.128/25', router: '192.0.2.3' },
  ] }]);
  const wire = encodeDhcpMessage(m);
  const at = DHCP_LAYOUT.options;
  t.equal(Buffer.from(wire.subarray(at, at + 2 + 5 + 8 + 9)).toString('hex'),
    '7916' + '00c0000201' + '18c63364c0000202' + '19cb007180c0000203');
  t.throws(() => encodeDhcpMessage(baseMessage([{ name: 'classlessRoutes', value: [{ destination: '198.51.100.1/24', router: '192.0.2.1' }] }])), DhcpEncodeError);
});

// Arbitraries for every typed option and for whole messages.
const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const u = (bits: number) => fc.nat(2 ** bits - 1);
const latin = (min: number, max: number) => fc.array(fc.integer({ min: 1, max: 255 }), { minLength: min, maxLength: max }).map((a) => String.fromCharCode(...a));
const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.'));
const route = fc.tuple(fc.nat(32), fc.nat(0xffffffff), ip).map(([w, n, router]) => {
  const net = w === 0 ? 0 : (n & ((0xffffffff << (32 - w)) >>> 0)) >>> 0;
  return { destination: `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${w}`, router };
});
const typed = {
  subnetMask: ip, router: fc.array(ip, { minLength: 1, maxLength: 5 }), dnsServers: fc.array(ip, { minLength: 1, maxLength: 5 }),
  hostname: latin(1, 60), domainName: latin(1, 60), interfaceMtu: u(16), broadcastAddress: ip, requestedIp: ip,
  leaseTime: u(32), messageType: u(8), serverId: ip, parameterRequestList: fc.array(u(8), { maxLength: 40 }),
  maxMessageSize: u(16), renewalTime: u(32), rebindingTime: u(32),
  clientId: fc.record({ type: u(8), id: fc.uint8Array({ maxLength: 30 }) }),
  clientFqdn: fc.oneof(
    fc.record({ flags: u(8).map((f) => f | FQDN_FLAG.E), rcode1: u(8), rcode2: u(8), name: fc.tuple(name, fc.boolean()).map(([n, full]) => (full ? n + '.' : n)) }),
    fc.record({ flags: u(8).map((f) => f & ~FQDN_FLAG.E), rcode1: u(8), rcode2: u(8), name: latin(0, 40) }),
  ),
  relayAgentInfo: fc.array(fc.record({ code: u(8), data: fc.uint8Array({ maxLength: 20 }) }), { maxLength: 4 }),
  domainSearch: fc.array(name, { minLength: 1, maxLength: 12 }),
  classlessRoutes: fc.array(route, { maxLength: 8 }),
} as const;
const typedOption: fc.Arbitrary<DhcpOption> = fc.oneof(
  ...Object.entries(typed).map(([n, arb]) => (arb as fc.Arbitrary<unknown>).map((value) => ({ name: n, value }) as DhcpOption)),
);
const rawCode = fc.integer({ min: 1, max: 254 }).filter((c) => ![1, 3, 6, 12, 15, 26, 28, 50, 51, 52, 53, 54, 55, 57, 58, 59, 61, 81, 82, 119, 121].includes(c));
const rawOption = fc.record({ name: fc.constant('raw' as const), code: rawCode, data: fc.uint8Array({ maxLength: 300 }) });
const message: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom(BOOTREQUEST, BOOTREPLY), htype: u(8), hops: u(8), xid: u(32), secs: u(16),
  broadcast: fc.boolean(), reservedFlags: u(15), ciaddr: ip, yiaddr: ip, siaddr: ip, giaddr: ip,
  chaddr: fc.uint8Array({ maxLength: 16 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')),
  sname: fc.oneof(fc.constant(''), latin(1, 63)), file: fc.oneof(fc.constant(''), latin(1, 127)),
  // One option per code: repeated codes are joined on decode by design (RFC 3396).
  options: fc.uniqueArray(fc.oneof(typedOption, rawOption), { maxLength: 12, selector: (o) => (o.name === 'raw' ? `raw${o.code}` : o.name) }),
});

t.test('round trips', async (t) => {
  t.test('every typed option alone', async (t) => {
    for (const [n, arb] of Object.entries(typed)) {
      fc.assert(fc.property(arb as fc.Arbitrary<unknown>, (value) => {
        const m = baseMessage([{ name: n, value } as DhcpOption]);
        const back = decodeDhcpMessage(encodeDhcpMessage(m, { maxMessageSize: 0xffff }));
        if (json(back.options) !== json(m.options)) throw new Error(`${n}: ${json(back.options)} != ${json(m.options)}`);
      }), { numRuns: 200 });
      t.pass(n);
    }
  });
  t.test('whole messages, with the default and the largest size limit', async (t) => {
    fc.assert(fc.property(message, (m) => {
      const back = decodeDhcpMessage(encodeDhcpMessage(m, { maxMessageSize: 0xffff }));
      if (json(back) !== json(m)) throw new Error(`${json(back)} != ${json(m)}`);
      try {
        const small = encodeDhcpMessage(m);
        if (small.length > 548 || small.length < BOOTP_MIN_LENGTH) throw new Error(`length ${small.length}`);
        const again = decodeDhcpMessage(small);
        if (json(again.options) !== json(m.options)) throw new Error('options lost with overload');
      } catch (e) {
        if (!(e instanceof DhcpEncodeError)) throw e;
      }
    }), { numRuns: 500 });
    t.pass();
  });
});

t.test('fuzz: a DhcpDecodeError or a value, never another throw or a hang', async (t) => {
  const payloads = goldenNames.map(payloadOf);
  const stable = (bytes: Uint8Array) => {
    const m = decodeOnly(bytes);
    if (!m) return;
    // Whatever decodes re-encodes to something that decodes to the same value.
    const back = decodeDhcpMessage(encodeDhcpMessage(m, { maxMessageSize: 0xffff }));
    if (json(back) !== json(m)) throw new Error('decoded value does not survive re-encoding');
  };
  t.test('random bytes', async (t) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => void decodeOnly(b)), { numRuns: 3000 });
    t.pass();
  });
  t.test('random options after a valid header', async (t) => {
    const head = payloadOf('dhclient-discover').subarray(0, DHCP_LAYOUT.options);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (tail) => stable(Uint8Array.from([...head, ...tail]))), { numRuns: 3000 });
    t.pass();
  });
  t.test('every truncation of every golden message', async (t) => {
    for (const p of payloads) for (let n = 0; n <= p.length; n++) stable(p.subarray(0, n));
    t.pass();
  });
  t.test('mutated golden messages', async (t) => {
    fc.assert(fc.property(fc.constantFrom(...payloads), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 10 }), (p, edits) => {
      const m = new Uint8Array(p);
      for (const [at, v] of edits) m[DHCP_LAYOUT.options + (at % (m.length - DHCP_LAYOUT.options))] = v;
      stable(m);
    }), { numRuns: 3000 });
    t.pass();
  });
  t.test('a decode error is also a PacketDecodeError within the buffer', async (t) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      try { decodeDhcpMessage(b); } catch (e) {
        if (!(e instanceof PacketDecodeError) || e.offset < 0 || e.offset > b.length) throw e;
      }
    }), { numRuns: 1000 });
    t.pass();
  });
});
