import t from 'tap';
import fc from 'fast-check';
import {
  ARP_OP, BROADCAST_MAC, ETHERTYPE, IP_PROTOCOL, LAYOUT, PacketDecodeError, PacketEncodeError,
  buildUdpFrame, decodeArp, decodeEthernet, decodeIpv4, decodeUdp, encodeArp, encodeEthernet,
  encodeIpv4, encodeUdp, internetChecksum, parseUdpFrame, tryDecode,
  type ArpPacket, type EthernetFrame, type Ipv4Packet,
} from '../../../protocols/packet/index.js';
import { goldenFrame, goldenNames } from '../../fixtures/dhcp/frames.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1:'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const vlan = fc.record({ pcp: fc.nat(7), dei: fc.boolean(), vid: fc.nat(4095) });

function decodeOnly(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof PacketDecodeError)) throw e;
  }
}

const clientFrame = () => goldenFrame('dhclient-discover');
const serverFrame = () => goldenFrame('dnsmasq-offer-to-dhclient');

t.test('the field layout table matches the header sizes', async (t) => {
  t.equal(LAYOUT.ethernet.etherType.offset + 2, LAYOUT.ethernet.headerLength);
  t.equal(LAYOUT.vlan.etherType.offset + 2, LAYOUT.vlan.headerLength);
  t.equal(LAYOUT.arp.tpa.offset + 4, LAYOUT.arp.length);
  t.equal(LAYOUT.ipv4.dst.offset + 4, LAYOUT.ipv4.minHeaderLength);
  t.equal(LAYOUT.udp.checksum.offset + 2, LAYOUT.udp.headerLength);
});

t.test('the Internet checksum of data that carries its checksum is zero', async (t) => {
  const header = hex('4500 0030 1234 4000 4011 0000 c000 0202 c000 0264');
  const sum = internetChecksum(header);
  header[10] = sum >> 8;
  header[11] = sum & 255;
  t.equal(internetChecksum(header), 0);
  t.equal(internetChecksum(hex('01')), 0xfeff, 'an odd byte is padded with zero');
});

t.test('a DHCPDISCOVER that dhclient broadcast parses down to its UDP payload', async (t) => {
  const { ethernet, ipv4, udp } = parseUdpFrame(clientFrame());
  t.equal(ethernet.dst, BROADCAST_MAC);
  t.equal(ethernet.src, '02:00:5e:00:02:01');
  t.equal(ethernet.etherType, ETHERTYPE.IPV4);
  t.equal(ipv4.src, '0.0.0.0');
  t.equal(ipv4.dst, '255.255.255.255');
  t.equal(ipv4.protocol, IP_PROTOCOL.UDP);
  t.equal(ipv4.options.length, 0);
  t.same([udp.srcPort, udp.dstPort], [68, 67]);
  t.equal(udp.payload.length, 300);
});

t.test('every golden frame parses with both checksums verified', async (t) => {
  t.ok(goldenNames.length >= 9);
  for (const name of goldenNames) {
    const frame = goldenFrame(name);
    const { udp } = parseUdpFrame(frame);
    t.not(frame[LAYOUT.ethernet.headerLength + 20 + LAYOUT.udp.checksum.offset], undefined, name);
    t.ok(udp.payload.length >= 300, `${name} carries at least a BOOTP minimum`);
  }
});

t.test('a frame built from the parsed layers of a golden frame is that frame', async (t) => {
  for (const name of goldenNames) {
    const frame = goldenFrame(name);
    const { ethernet, ipv4, udp } = parseUdpFrame(frame);
    const rebuilt = buildUdpFrame({
      ethSrc: ethernet.src, ethDst: ethernet.dst, ipSrc: ipv4.src, ipDst: ipv4.dst,
      srcPort: udp.srcPort, dstPort: udp.dstPort, payload: udp.payload,
      ttl: ipv4.ttl, identification: ipv4.identification, dscp: ipv4.dscp, dontFragment: ipv4.dontFragment,
    });
    t.same(Buffer.from(rebuilt), Buffer.from(frame), name);
  }
});

t.test('IPv4 decoding', async (t) => {
  const ipAt = LAYOUT.ethernet.headerLength;
  const expectError = (frame: Uint8Array, layer: string, offset: number, what: string) => {
    const r = tryDecode(() => parseUdpFrame(frame));
    t.notOk(r.ok, what);
    if (!r.ok) t.match(r.error, { layer, offset }, what);
  };
  t.test('rejects a wrong header checksum at the checksum field', async () => {
    const f = clientFrame();
    f[ipAt + 10]! ^= 1;
    expectError(f, 'ipv4', ipAt + LAYOUT.ipv4.checksum.offset, 'checksum');
  });
  t.test('rejects fragments with a typed error', async () => {
    for (const flags of [0x2000, 0x0001]) {
      const f = clientFrame();
      const ip = f.subarray(ipAt);
      ip[6] = flags >> 8; ip[7] = flags & 255; ip[10] = 0; ip[11] = 0;
      const sum = internetChecksum(ip.subarray(0, 20));
      ip[10] = sum >> 8; ip[11] = sum & 255;
      expectError(f, 'ipv4', ipAt + 6, `flags ${flags}`);
    }
  });
  t.test('rejects a total length beyond the bytes received', async () => {
    expectError(clientFrame().subarray(0, 100), 'ipv4', ipAt + 2, 'truncated');
  });
  t.test('drops Ethernet padding after the total length', async (t) => {
    const f = clientFrame();
    const padded = new Uint8Array(f.length + 10);
    padded.set(f);
    t.equal(parseUdpFrame(padded).udp.payload.length, 300);
  });
  t.test('keeps header options as bytes', async (t) => {
    const options = hex('94040000');
    const p: Ipv4Packet = {
      dscp: 0, ecn: 0, identification: 7, dontFragment: true, ttl: 1, protocol: 2,
      src: '192.0.2.1', dst: '198.51.100.7', options, payload: hex('1100'),
    };
    const back = decodeIpv4(encodeIpv4(p));
    t.same(Buffer.from(back.options), Buffer.from(options));
    t.equal(back.payload.length, 2);
  });
  t.test('refuses to encode options that are not whole words', async (t) => {
    const p: Ipv4Packet = {
      dscp: 0, ecn: 0, identification: 0, dontFragment: false, ttl: 1, protocol: 17,
      src: '192.0.2.1', dst: '192.0.2.2', options: hex('01'), payload: new Uint8Array(0),
    };
    t.throws(() => encodeIpv4(p), PacketEncodeError);
  });
});

t.test('UDP checksums', async (t) => {
  const pseudo = { src: '192.0.2.1', dst: '192.0.2.2' };
  const d = encodeUdp({ srcPort: 67, dstPort: 68, payload: hex('deadbeef') }, pseudo);
  t.equal(decodeUdp(d, pseudo).payload.length, 4);
  t.test('a zero checksum is accepted on receive', async (t) => {
    const z = d.slice();
    z[6] = 0; z[7] = 0;
    t.same(Buffer.from(decodeUdp(z, pseudo).payload), Buffer.from(hex('deadbeef')));
  });
  t.test('a wrong checksum is an error at the checksum field', async (t) => {
    const r = tryDecode(() => decodeUdp(d, { src: '192.0.2.1', dst: '192.0.2.3' }, 34));
    t.match(r, { ok: false, error: { layer: 'udp', offset: 34 + 6 } });
  });
  t.test('a length field beyond the datagram is an error', async (t) => {
    t.match(tryDecode(() => decodeUdp(d.subarray(0, 10))), { ok: false, error: { offset: 4 } });
  });
  t.test('a computed checksum of zero is sent as all ones', async (t) => {
    fc.assert(fc.property(bytes(64), fc.nat(0xffff), fc.nat(0xffff), (payload, sp, dp) => {
      const out = encodeUdp({ srcPort: sp, dstPort: dp, payload }, pseudo);
      t.not((out[6]! << 8) | out[7]!, 0);
    }), { numRuns: 200 });
  });
});

t.test('Ethernet and 802.1Q', async (t) => {
  t.test('a tagged frame keeps its tag', async (t) => {
    const f: EthernetFrame = { dst: BROADCAST_MAC, src: '02:00:5e:00:02:01', vlan: { pcp: 5, dei: true, vid: 22 }, etherType: ETHERTYPE.ARP, payload: hex('00') };
    const wire = encodeEthernet(f);
    t.same(Buffer.from(wire.subarray(12, 18)), Buffer.from(hex('8100 b016 0806')));
    t.same(decodeEthernet(wire), f);
  });
  t.test('two tags, a service tag and an 802.3 length are refused', async (t) => {
    t.match(tryDecode(() => decodeEthernet(hex('ffffffffffff 020000000001 8100 0016 8100 0017 0800'))), { ok: false, error: { layer: 'vlan', offset: 16 } });
    t.match(tryDecode(() => decodeEthernet(hex('ffffffffffff 020000000001 88a8 0016 8100 0017 0800'))), { ok: false, error: { layer: 'vlan', offset: 12 } });
    t.match(tryDecode(() => decodeEthernet(hex('ffffffffffff 020000000001 0040'))), { ok: false, error: { layer: 'ethernet', offset: 12 } });
  });
  t.test('a bad MAC string is an encode error', async (t) => {
    t.throws(() => encodeEthernet({ dst: 'ff:ff', src: BROADCAST_MAC, etherType: 0x800, payload: hex('') }), PacketEncodeError);
  });
  t.test('a tagged DHCP frame parses', async (t) => {
    const { udp } = parseUdpFrame(clientFrame());
    const f = buildUdpFrame({ ethSrc: '02:00:5e:00:02:01', ethDst: BROADCAST_MAC, vlan: { pcp: 0, dei: false, vid: 11 }, ipSrc: '0.0.0.0', ipDst: '255.255.255.255', srcPort: 68, dstPort: 67, payload: udp.payload });
    const back = parseUdpFrame(f);
    t.equal(back.ethernet.vlan?.vid, 11);
    t.equal(back.udp.payload.length, 300);
  });
});

t.test('ARP', async (t) => {
  const request: ArpPacket = { op: ARP_OP.REQUEST, senderMac: '02:00:5e:00:02:01', senderIp: '192.0.2.10', targetMac: '00:00:00:00:00:00', targetIp: '192.0.2.1' };
  t.same(decodeArp(encodeArp(request)), request);
  const wire = encodeArp(request);
  wire[5] = 16;
  t.match(tryDecode(() => decodeArp(wire, 14)), { ok: false, error: { layer: 'arp', offset: 14 + 5 } });
  t.match(tryDecode(() => decodeArp(wire.subarray(0, 27))), { ok: false, error: { layer: 'arp', offset: 27 } });
});

t.test('round trips', async (t) => {
  t.test('Ethernet', async () => {
    fc.assert(fc.property(mac, mac, fc.option(vlan, { nil: undefined }), fc.integer({ min: 0x0600, max: 0xffff }).filter((e) => e !== 0x8100 && e !== 0x88a8), bytes(100),
      (dst, src, tag, etherType, payload) => {
        const f: EthernetFrame = { dst, src, etherType, payload };
        if (tag) f.vlan = tag;
        const back = decodeEthernet(encodeEthernet(f));
        if (JSON.stringify({ ...back, payload: [...back.payload] }) !== JSON.stringify({ ...f, payload: [...payload] })) throw new Error('mismatch');
      }));
  });
  t.test('ARP', async () => {
    fc.assert(fc.property(fc.nat(0xffff), mac, ipv4, mac, ipv4, (op, senderMac, senderIp, targetMac, targetIp) => {
      const a = { op, senderMac, senderIp, targetMac, targetIp };
      if (JSON.stringify(decodeArp(encodeArp(a))) !== JSON.stringify(a)) throw new Error('mismatch');
    }));
  });
  t.test('IPv4', async () => {
    fc.assert(fc.property(
      fc.record({ dscp: fc.nat(63), ecn: fc.nat(3), identification: fc.nat(0xffff), dontFragment: fc.boolean(), ttl: fc.nat(255), protocol: fc.nat(255), src: ipv4, dst: ipv4 }),
      fc.nat(10).chain((n) => fc.uint8Array({ minLength: 4 * n, maxLength: 4 * n })), bytes(200),
      (h, options, payload) => {
        const back = decodeIpv4(encodeIpv4({ ...h, options, payload }));
        const norm = (p: Ipv4Packet) => JSON.stringify({ ...p, options: [...p.options], payload: [...p.payload] });
        if (norm(back) !== norm({ ...h, options, payload })) throw new Error('mismatch');
      }));
  });
  t.test('Ethernet/IPv4/UDP frames', async () => {
    fc.assert(fc.property(mac, mac, ipv4, ipv4, fc.nat(0xffff), fc.nat(0xffff), bytes(600), (ethSrc, ethDst, ipSrc, ipDst, srcPort, dstPort, payload) => {
      const p = parseUdpFrame(buildUdpFrame({ ethSrc, ethDst, ipSrc, ipDst, srcPort, dstPort, payload }));
      const got = [p.ethernet.src, p.ethernet.dst, p.ipv4.src, p.ipv4.dst, p.udp.srcPort, p.udp.dstPort, Buffer.from(p.udp.payload).toString('hex')];
      const want = [ethSrc, ethDst, ipSrc, ipDst, srcPort, dstPort, Buffer.from(payload).toString('hex')];
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error('mismatch');
    }));
  });
});

t.test('fuzz: decoders give a value or a PacketDecodeError, nothing else', async (t) => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['ethernet', (b) => decodeEthernet(b)],
    ['arp', (b) => decodeArp(b)],
    ['ipv4', (b) => decodeIpv4(b)],
    ['udp', (b) => decodeUdp(b, { src: '192.0.2.1', dst: '192.0.2.2' })],
    ['frame', (b) => parseUdpFrame(b)],
  ];
  for (const [name, decode] of decoders) {
    t.test(`${name}: random bytes`, async () => {
      fc.assert(fc.property(bytes(128), (b) => decodeOnly(() => decode(b))), { numRuns: 2000 });
    });
  }
  const frames = goldenNames.map(goldenFrame);
  t.test('every truncation of every golden frame', async (t) => {
    for (const f of frames) for (let n = 0; n < f.length; n++) decodeOnly(() => parseUdpFrame(f.subarray(0, n)));
    t.pass();
  });
  t.test('mutated golden frames', async () => {
    fc.assert(fc.property(fc.constantFrom(...frames), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), (f, edits) => {
      const m = f.slice();
      for (const [at, v] of edits) m[at % m.length] = v;
      decodeOnly(() => parseUdpFrame(m));
    }), { numRuns: 2000 });
  });
  t.test('an error offset never points past the buffer', async () => {
    fc.assert(fc.property(bytes(80), (b) => {
      const r = tryDecode(() => parseUdpFrame(b));
      if (!r.ok && (r.error.offset < 0 || r.error.offset > b.length)) throw new Error(`offset ${r.error.offset}`);
    }), { numRuns: 2000 });
  });
});
