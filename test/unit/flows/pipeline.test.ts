// The desired flows of one host, table by table, as ovs-ofctl would print
// them: what each table holds for a small, fixed cluster, and what it must
// not hold.
import t from 'tap';
import {
  bindPort,
  clusterInputs,
  desiredFlows,
  hostNetworks,
  parseCookie,
  renderFlows,
  sortFlowLines,
  STATIC_FLOWS,
  matchesCookie,
  TABLE,
  type FlowNetwork,
  type FlowPort,
  type PipelineInput,
} from '../../../flows/index.js';
import { formatFlow, type KnownOxm } from '../../../protocols/openflow/index.js';

const acme: FlowNetwork = { tenant: 'acme', name: 'blue', vlan: 11, vni: 11 };
const globex: FlowNetwork = { tenant: 'globex', name: 'blue', vlan: 22, vni: 22 };
const selfServe: FlowNetwork = { tenant: 'acme', name: 'lab', vlan: 33, vni: 33, dhcp: false };
const networks = [acme, globex, selfServe];

// hv1: a VM of acme with a known MAC and address (tag 11), a VM of globex
// bound explicitly whose MAC and address are not known yet, a port with a
// tag no network has. hv2 has acme only; hv3 has nothing.
const vmA: FlowPort = { name: 'tap100i0', ofport: 1, tag: 11, macs: ['52:54:00:00:00:01'], ips: ['192.0.2.11'] };
const vmB: FlowPort = { name: 'tap101i0', ofport: 2, tag: 4000, network: 'globex/blue' };
const stray: FlowPort = { name: 'tap102i0', ofport: 3, tag: 99 };
const hv1: PipelineInput = {
  networks,
  ports: [vmA, vmB, stray],
  tunnels: [
    { ofport: 10, peer: 'hv2' },
    { ofport: 11, peer: 'hv3' },
  ],
  peers: [
    { host: 'hv2', networks: ['acme/blue'] },
    { host: 'hv3', networks: [] },
  ],
};

function lines(input: PipelineInput, table: number): string[] {
  return sortFlowLines(desiredFlows(input).filter((f) => f.tableId === table));
}

t.test('a port joins the network of its explicit binding, else of its tag', async (t) => {
  t.match(bindPort(networks, vmA), { bound: true, network: acme, by: 'tag' });
  t.match(bindPort(networks, vmB), { bound: true, network: globex, by: 'binding' });
  t.same(bindPort(networks, stray), { bound: false, reason: 'unknown-tag' });
  t.same(bindPort(networks, { name: 'x', ofport: 4 }), { bound: false, reason: 'no-tag' });
  t.same(bindPort(networks, { name: 'x', ofport: 4, tag: 11, network: 'acme/typo' }), { bound: false, reason: 'unknown-network' }, 'a bad binding does not fall back to the tag');
  t.same(bindPort(networks, { name: 'x', ofport: -1, tag: 11 }), { bound: false, reason: 'no-ofport' });
  t.same(bindPort(networks, { name: 'x', ofport: undefined, tag: 11 }), { bound: false, reason: 'no-ofport' });
  t.same([...hostNetworks(networks, hv1.ports)].sort(), ['acme/blue', 'globex/blue']);
});

t.test('table 0 admits untagged frames of bound ports with their known MAC (any while none is known), and tunnel frames by VNI from peers that have the network', async (t) => {
  t.same(lines(hv1, TABLE.CLASSIFY), [
    'cookie=0x574600000000000b, table=0, priority=100,in_port=1,vlan_tci=0x0000/0x1fff,dl_src=52:54:00:00:00:01 actions=write_metadata:0xb/0x100ffffff,goto_table:10',
    'cookie=0x574600000000000b, table=0, priority=100,tun_id=0xb,in_port=10 actions=write_metadata:0x10000000b/0x100ffffff,goto_table:30',
    'cookie=0x5746000000000016, table=0, priority=100,in_port=2,vlan_tci=0x0000/0x1fff actions=write_metadata:0x16/0x100ffffff,goto_table:10',
    'cookie=0x5746000000000000, table=0, priority=0 actions=drop',
  ]);
});

t.test('table 10 holds a port to its known addresses, lets DHCP and probes from 0.0.0.0 through, and trusts a port with no known address', async (t) => {
  t.same(lines(hv1, TABLE.PORT_SECURITY), [
    'cookie=0x57460a0000000000, table=10, priority=300,dl_src=01:00:00:00:00:00/01:00:00:00:00:00 actions=drop',
    'cookie=0x57460a0000000000, table=10, priority=200,arp,arp_spa=0.0.0.0 actions=goto_table:20',
    'cookie=0x57460a0000000000, table=10, priority=200,udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67 actions=goto_table:20',
    'cookie=0x57460a000000000b, table=10, priority=200,arp,in_port=1,arp_spa=192.0.2.11 actions=goto_table:20',
    'cookie=0x57460a000000000b, table=10, priority=200,ip,in_port=1,nw_src=192.0.2.11 actions=goto_table:20',
    'cookie=0x57460a0000000016, table=10, priority=200,in_port=2 actions=goto_table:20',
    'cookie=0x57460a0000000000, table=10, priority=150,arp actions=drop',
    'cookie=0x57460a0000000000, table=10, priority=150,ip actions=drop',
    'cookie=0x57460a0000000000, table=10, priority=100 actions=goto_table:20',
    'cookie=0x57460a0000000000, table=10, priority=0 actions=drop',
  ]);
});

t.test('table 20 sends DHCP client and relay agent packets to the controller and drops DHCP servers, except in networks whose DHCP is the tenant’s', async (t) => {
  t.same(lines(hv1, TABLE.SERVICES), [
    'cookie=0x5746140000000000, table=20, priority=200,udp,tp_src=67,tp_dst=67 actions=CONTROLLER:65535',
    'cookie=0x5746140000000000, table=20, priority=200,udp,tp_src=67,tp_dst=68 actions=drop',
    'cookie=0x5746140000000000, table=20, priority=200,udp,tp_src=68,tp_dst=67 actions=CONTROLLER:65535',
    'cookie=0x5746140000000000, table=20, priority=0 actions=goto_table:30',
  ]);
  t.same(lines({ ...hv1, ports: [{ name: 'tap1', ofport: 5, tag: 33 }] }, TABLE.SERVICES), [
    'cookie=0x5746140000000021, table=20, priority=250,udp,metadata=0x21/0x100ffffff,tp_src=67,tp_dst=67 actions=goto_table:30',
    'cookie=0x5746140000000021, table=20, priority=250,udp,metadata=0x21/0x100ffffff,tp_src=67,tp_dst=68 actions=goto_table:30',
    'cookie=0x5746140000000021, table=20, priority=250,udp,metadata=0x21/0x100ffffff,tp_src=68,tp_dst=67 actions=goto_table:30',
    'cookie=0x5746140000000000, table=20, priority=200,udp,tp_src=67,tp_dst=67 actions=CONTROLLER:65535',
    'cookie=0x5746140000000000, table=20, priority=200,udp,tp_src=67,tp_dst=68 actions=drop',
    'cookie=0x5746140000000000, table=20, priority=200,udp,tp_src=68,tp_dst=67 actions=CONTROLLER:65535',
    'cookie=0x5746140000000000, table=20, priority=0 actions=goto_table:30',
  ]);
});

t.test('table 30 learns (network, source MAC) into both lookup tables from local ports, and into table 40 only, with the VNI, from tunnels', async (t) => {
  t.same(lines(hv1, TABLE.LEARN), [
    'cookie=0x57461e000000000b, table=30, priority=100,metadata=0x10000000b/0x100ffffff actions=learn(table=40,idle_timeout=300,priority=100,cookie=0x574c28000000000b,OXM_OF_METADATA[0..23],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),goto_table:41',
    'cookie=0x57461e000000000b, table=30, priority=100,metadata=0xb/0x100ffffff actions=learn(table=40,idle_timeout=300,priority=100,cookie=0x574c28000000000b,OXM_OF_METADATA[0..23],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),learn(table=41,idle_timeout=300,priority=100,cookie=0x574c29000000000b,OXM_OF_METADATA[0..23],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),goto_table:40',
    'cookie=0x57461e0000000016, table=30, priority=100,metadata=0x16/0x100ffffff actions=learn(table=40,idle_timeout=300,priority=100,cookie=0x574c280000000016,OXM_OF_METADATA[0..23],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),learn(table=41,idle_timeout=300,priority=100,cookie=0x574c290000000016,OXM_OF_METADATA[0..23],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),goto_table:40',
    'cookie=0x57461e0000000000, table=30, priority=0 actions=drop',
  ]);
});

t.test('tables 40 and 41 hold the known MACs of local ports above anything learned; a miss floods', async (t) => {
  t.same(lines(hv1, TABLE.LOOKUP), [
    'cookie=0x574628000000000b, table=40, priority=200,metadata=0xb/0xffffff,dl_dst=52:54:00:00:00:01 actions=output:1',
    'cookie=0x5746280000000000, table=40, priority=0 actions=goto_table:50',
  ]);
  t.same(lines(hv1, TABLE.LOOKUP_FROM_TUNNEL), [
    'cookie=0x574629000000000b, table=41, priority=200,metadata=0xb/0xffffff,dl_dst=52:54:00:00:00:01 actions=output:1',
    'cookie=0x5746290000000000, table=41, priority=0 actions=goto_table:50',
  ]);
});

t.test('table 50 floods a network to its local ports, and from local ports also to the tunnels of hosts that have it (split horizon)', async (t) => {
  t.same(lines(hv1, TABLE.FLOOD), [
    'cookie=0x574632000000000b, table=50, priority=100,metadata=0x10000000b/0x100ffffff actions=output:1',
    'cookie=0x574632000000000b, table=50, priority=100,metadata=0xb/0x100ffffff actions=output:1,set_field:0xb->tun_id,output:10',
    'cookie=0x5746320000000016, table=50, priority=100,metadata=0x16/0x100ffffff actions=output:2',
    'cookie=0x5746320000000000, table=50, priority=0 actions=drop',
  ]);
});

t.test('a host without a port in a network holds none of its flows', async (t) => {
  const bare = desiredFlows({ networks, ports: [stray], tunnels: hv1.tunnels, peers: [{ host: 'hv2', networks: ['acme/blue', 'globex/blue'] }] });
  t.same(
    bare.map((f) => parseCookie(f.cookie)!.vni).filter((v) => v !== 0),
    [],
  );
  t.same(
    sortFlowLines(bare).filter((l) => !l.includes('priority=0 ')),
    [],
    'only the tables’ misses',
  );
});

t.test('clusterInputs tells each host which networks its peers have', async (t) => {
  const inputs = clusterInputs(networks, [
    { name: 'hv1', ports: [vmA, vmB], tunnels: [{ ofport: 10, peer: 'hv2' }] },
    { name: 'hv2', ports: [{ name: 'tap1', ofport: 1, tag: 11 }], tunnels: [{ ofport: 10, peer: 'hv1' }] },
  ]);
  t.same(inputs.get('hv1')!.peers, [{ host: 'hv2', networks: ['acme/blue'] }]);
  t.same(inputs.get('hv2')!.peers, [{ host: 'hv1', networks: ['acme/blue', 'globex/blue'] }]);
});

t.test('every flow carries a static weft cookie naming its table, and its network unless it serves all', async (t) => {
  for (const f of desiredFlows(hv1)) {
    t.ok(matchesCookie(STATIC_FLOWS, f.cookie), formatFlow(f));
    const c = parseCookie(f.cookie)!;
    t.equal(c.table, f.tableId);
    const meta = f.match.fields.find((o): o is KnownOxm => o.field === 'metadata');
    if (meta) t.equal(BigInt(c.vni), meta.value & 0xffffffn, 'the cookie names the network the flow matches');
  }
});

t.test('no two flows share a table, priority and match; the same input renders the same text whatever the order of its parts', async (t) => {
  const flows = desiredFlows(hv1);
  const keys = flows.map((f) => `${f.tableId} ${f.priority} ${formatFlow({ ...f, instructions: [], cookie: 0n })}`);
  t.equal(new Set(keys).size, keys.length);
  const shuffled: PipelineInput = { ...hv1, ports: [...hv1.ports].reverse(), tunnels: [...hv1.tunnels].reverse(), networks: [...networks].reverse() };
  t.equal(renderFlows(desiredFlows(shuffled)), renderFlows(flows));
  t.ok(renderFlows(flows).endsWith('\n'));
});

t.test('two ports claiming one MAC in a network: the lower ofport keeps the static entry', async (t) => {
  const dup = desiredFlows({ ...hv1, ports: [vmA, { ...vmA, name: 'tap9', ofport: 9, ips: [] }] });
  const entries = sortFlowLines(dup.filter((f) => f.tableId === TABLE.LOOKUP && f.priority === 200));
  t.same(entries, ['cookie=0x574628000000000b, table=40, priority=200,metadata=0xb/0xffffff,dl_dst=52:54:00:00:00:01 actions=output:1']);
});
