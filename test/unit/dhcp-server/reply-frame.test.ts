// The reply frame the server writes in one pass is, byte for byte, what the
// protocols/ codecs build from the same reply: for random requests through the
// state machine (every option it answers, asked in any order, client ids,
// relay agent information, relayed or not, broadcast or not, VLAN tags,
// small and large maximum message sizes, OFFER, ACK and NAK). Replies that
// need option overload fall back to the codecs, so they are equal too.
import fc from 'fast-check';
import t from 'tap';
import { type DhcpOption } from '../../../protocols/dhcp/index.js';
import { buildReplyFrame, buildReplyFrameWithCodecs, buildView, decide, LeaseTable, defaultServerMac } from '../../../src/dhcp/index.js';
import { lease, mac, message, testNetwork, type MessageType } from './client.js';

const NOW = 1_700_000_000_000;
const network = testNetwork({
  mtu: 1400,
  subnets: [
    {
      cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.150' }],
      dns: ['198.51.100.53', '198.51.100.54'], domain: 'acme.example', search: ['acme.example', 'lab.acme.example', 'example'],
      routes: [{ destination: '203.0.113.0/24', gateway: '192.0.2.254' }], leaseTime: 7200,
    },
  ],
});
const view = buildView(network, []);
const table = new LeaseTable();
table.apply(lease({ ip: '192.0.2.120', mac: mac(1), state: 'bound', expiresAt: NOW + 3_600_000 }), 1);

const request = fc.record({
  type: fc.constantFrom<MessageType>('DISCOVER', 'REQUEST', 'INFORM'),
  client: fc.nat(3),
  prl: fc.array(fc.constantFrom(1, 3, 6, 12, 15, 26, 28, 119, 121, 2, 42, 252), { maxLength: 14 }),
  hostname: fc.option(fc.constantFrom('vm1', 'a-much-longer-host-name-for-a-vm'), { nil: undefined }),
  clientId: fc.option(fc.constantFrom('01aabbccddeeff', '00' + 'ab'.repeat(40)), { nil: undefined }),
  relayed: fc.boolean(),
  relayInfo: fc.boolean(),
  broadcast: fc.boolean(),
  requested: fc.constantFrom('192.0.2.120', '192.0.2.130', '203.0.113.9'),
  ciaddr: fc.boolean(),
  maxMessageSize: fc.option(fc.constantFrom(300, 576, 600, 1500), { nil: undefined }),
  vlan: fc.option(fc.record({ pcp: fc.nat(7), dei: fc.boolean(), vid: fc.integer({ min: 0, max: 4095 }) }), { nil: undefined }),
});

t.test('the one-pass reply frame equals the codecs\' frame', async (t) => {
  let compared = 0;
  fc.assert(
    fc.property(request, (r) => {
      const extra: DhcpOption[] = [];
      if (r.maxMessageSize !== undefined) extra.push({ name: 'maxMessageSize', value: r.maxMessageSize });
      if (r.relayInfo) extra.push({ name: 'relayAgentInfo', value: [{ code: 1, data: Uint8Array.of(0, 4, 1, 2, 3, 4) }] });
      const req = message(r.type, {
        mac: mac(r.client), prl: r.prl, broadcast: r.broadcast, extra,
        ...(r.hostname ? { hostname: r.hostname } : {}),
        ...(r.clientId ? { clientId: r.clientId } : {}),
        ...(r.relayed ? { giaddr: '192.0.2.1' } : {}),
        ...(r.type === 'REQUEST' && !r.ciaddr ? { serverId: '192.0.2.1', requestedIp: r.requested } : {}),
        ...(r.ciaddr || r.type === 'INFORM' ? { ciaddr: r.requested } : {}),
      });
      const d = decide({ view, leases: table, request: req, ipBroadcast: !r.ciaddr, now: NOW });
      if (!d.reply) return;
      const input = {
        request: req, reply: d.reply.message, type: d.reply.type, serverId: d.reply.serverId,
        serverMac: defaultServerMac(d.reply.serverId), requestEthSrc: r.relayed ? '02:00:5e:ff:00:01' : mac(r.client),
        ...(r.vlan ? { vlan: r.vlan } : {}),
      };
      const fast = Buffer.from(buildReplyFrame(input));
      const codecs = Buffer.from(buildReplyFrameWithCodecs(input));
      if (!fast.equals(codecs)) throw new Error(`frames differ:\n${fast.toString('hex')}\n${codecs.toString('hex')}`);
      compared++;
    }),
    { numRuns: 2000 },
  );
  t.ok(compared > 500, `${compared} replies compared`);
});
