// What `weft ports`, `weft flows`, `weft trace` and `--wait` print, and the
// packets `weft trace` accepts, without a daemon.
import t from 'tap';
import { waitedText, withWaited } from '../../../src/cli/commands/client.js';
import { boundBy, flowLines, packetSpec, portTable, traceText, type PortRow } from '../../../src/cli/commands/port.js';

const row = (p: Partial<PortRow>): PortRow => ({ host: 'hv1', name: 'tap100i0', macs: [], ips: [], ...p });

t.test('a port says how it got its network, or why it has none', async (t) => {
  t.equal(boundBy(row({ network: 'acme/web', boundBy: 'tag', tag: 11 })), 'tag');
  t.equal(boundBy(row({ network: 'acme/db', boundBy: 'binding', binding: 'acme/db' })), 'binding', 'stored by port.bind');
  t.equal(boundBy(row({ network: 'acme/db', boundBy: 'binding' })), 'binding (external_ids)', 'a binding with none stored is the one the host declares');
  t.equal(boundBy(row({ unbound: 'unknown-tag', tag: 99 })), 'none (unknown-tag)');
  t.equal(boundBy(row({ unbound: 'unknown-network', binding: 'acme/gone' })), 'none (unknown-network acme/gone)', 'a stale binding is named');
  t.equal(boundBy(row({})), 'none');
});

t.test('weft ports is a table: host, port, ofport, tag, network, bound by, addresses', async (t) => {
  const text = portTable([
    row({ ofport: 1, tag: 11, network: 'acme/web', boundBy: 'tag', macs: ['52:54:00:00:00:01'], ips: ['192.0.2.10'] }),
    row({ name: 'tap101i0', ofport: 2, network: 'acme/web', boundBy: 'tag', tag: 11 }),
    row({ host: 'hv2', name: 'vnet0', unbound: 'no-ofport' }),
  ]);
  t.equal(
    text,
    [
      'HOST  PORT      OFPORT  TAG  NETWORK   BOUND BY          MACS/IPS',
      'hv1   tap100i0  1       11   acme/web  tag               52:54:00:00:00:01,192.0.2.10',
      'hv1   tap101i0  2       11   acme/web  tag               any',
      'hv2   vnet0     -       -    -         none (no-ofport)',
      '',
    ].join('\n'),
  );
});

t.test('weft flows prints ovs-ofctl lines and marks the learned ones', async (t) => {
  t.equal(
    flowLines([
      { table: 0, priority: 100, cookie: '0x1', learned: false, flow: ' cookie=0x1, table=0, priority=100,in_port=1 actions=goto_table:10' },
      { table: 40, priority: 100, cookie: '0x2', learned: true, flow: ' cookie=0x2, table=40, priority=100,metadata=0xb,dl_dst=52:54:00:00:00:01 actions=output:1' },
    ]),
    ' cookie=0x1, table=0, priority=100,in_port=1 actions=goto_table:10\n cookie=0x2, table=40, priority=100,metadata=0xb,dl_dst=52:54:00:00:00:01 actions=output:1  # learned\n',
  );
  t.equal(flowLines([]), '(no flows)\n');
});

t.test('weft trace prints the steps, then the outcome', async (t) => {
  t.equal(traceText({ trace: ['hv1: in_port=1', 'hv1:   -> port 2'], delivered: [{ host: 'hv1', port: 2 }, { host: 'hv2', port: 1 }], controller: false }), 'hv1: in_port=1\nhv1:   -> port 2\n\ndelivered to hv1 port 2, hv2 port 1\n');
  t.match(traceText({ trace: ['x'], delivered: [], controller: true }), /sent to the controller \(DHCP\)\n$/);
  t.match(traceText({ trace: ['x'], delivered: [], controller: false }), /\n\ndropped\n$/);
});

t.test("weft trace takes the method's fields, ovs-ofctl's names and shorthands, or JSON", async (t) => {
  t.equal(packetSpec('eth_src=02:00:00:00:00:01,eth_dst=ff:ff:ff:ff:ff:ff'), 'eth_src=02:00:00:00:00:01,eth_dst=ff:ff:ff:ff:ff:ff', 'the method syntax passes as it is');
  t.equal(packetSpec('dl_src=02:00:00:00:00:01, dl_dst=ff:ff:ff:ff:ff:ff, arp, nw_src=192.0.2.10, nw_dst=192.0.2.1'), 'eth_src=02:00:00:00:00:01,eth_dst=ff:ff:ff:ff:ff:ff,eth_type=0x0806,arp_spa=192.0.2.10,arp_tpa=192.0.2.1', 'nw_src/nw_dst of ARP are its sender and target');
  t.equal(packetSpec('dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,udp,nw_src=0.0.0.0,nw_dst=255.255.255.255,tp_src=68,tp_dst=67'), 'eth_src=02:00:00:00:00:01,eth_dst=ff:ff:ff:ff:ff:ff,eth_type=0x0800,ip_proto=17,ipv4_src=0.0.0.0,ipv4_dst=255.255.255.255,udp_src=68,udp_dst=67');
  t.equal(packetSpec('{"eth_src":"02:00:00:00:00:01","eth_dst":"02:00:00:00:00:02","eth_type":2048,"ip_proto":6,"tp_dst":22}'), 'eth_src=02:00:00:00:00:01,eth_dst=02:00:00:00:00:02,eth_type=2048,ip_proto=6,tcp_dst=22', 'a JSON object of fields');
  t.equal(packetSpec('eth_src=02:00:00:00:00:01,bogus=1'), 'eth_src=02:00:00:00:00:01,bogus=1', 'unknown fields are left for the method to refuse by name');
  t.throws(() => packetSpec('dl_src=02:00:00:00:00:01,frobnicate'), SyntaxError, 'an unknown shorthand');
  t.throws(() => packetSpec('tp_dst=22'), /needs tcp or udp/, 'a transport port without its protocol');
  t.throws(() => packetSpec('{"eth_src": '), /not JSON/);
  t.throws(() => packetSpec('[1]'), SyntaxError);
  t.throws(() => packetSpec('{"eth_src": {"a": 1}}'), /string or a number/);
});

t.test('--wait prints one line per switch that had to change', async (t) => {
  t.equal(waitedText([{ host: 'hv10', ok: true, ms: 12 }, { host: 'hv2', ok: false, ms: 10000, error: 'no switch connected' }]), 'hv10  ok  12 ms\nhv2   not confirmed  10000 ms  (no switch connected)\n');
  t.equal(waitedText([]), 'no switch had to change\n');
  const render = withWaited<{ name: string; waited?: { host: string; ok: boolean; ms: number }[] }>((r) => `created ${r.name}`);
  t.equal(render({ name: 'acme/web' }), 'created acme/web\n', 'without --wait, nothing more');
  t.equal(render({ name: 'acme/web', waited: [{ host: 'hv1', ok: true, ms: 3 }] }), 'created acme/web\nhv1  ok  3 ms\n');
});
