// The simulator's OpenFlow semantics, on hand-written tables: it is the
// oracle of the pipeline's properties, so it is checked on its own.
import t from 'tap';
import { ethFrame, SimulatedCluster, formatTrace, learnedFlow, type Flow } from '../../../flows/index.js';
import { learn, mac, output, OFPP, subfield, type Action, type KnownOxm } from '../../../protocols/openflow/index.js';

function f(tableId: number, priority: number, fields: KnownOxm[], actions: Action[], gotoTable?: number): Flow {
  return {
    cookie: 0n,
    tableId,
    priority,
    idleTimeout: 0,
    hardTimeout: 0,
    flags: 0,
    match: { fields },
    instructions: [{ type: 'apply_actions', actions }, ...(gotoTable === undefined ? [] : [{ type: 'goto_table' as const, tableId: gotoTable }])],
  };
}

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';

t.test('the highest priority matching flow wins, masks included', async (t) => {
  const cluster = new SimulatedCluster([
    {
      name: 'hv1',
      tunnels: [],
      flows: [
        f(0, 10, [], [output(1)]),
        f(0, 20, [{ field: 'eth_dst', value: mac('52:54:00:00:00:00'), mask: mac('ff:ff:ff:00:00:00') }], [output(2)]),
        f(0, 30, [{ field: 'eth_dst', value: mac(B) }], [output(3)]),
      ],
    },
  ]);
  t.same(cluster.send('hv1', 9, ethFrame({ src: A, dst: B })).delivered.map((d) => d.port), [3]);
  t.same(cluster.send('hv1', 9, ethFrame({ src: A, dst: '52:54:00:00:00:0c' })).delivered.map((d) => d.port), [2]);
  t.same(cluster.send('hv1', 9, ethFrame({ src: A, dst: '02:00:00:00:00:0c' })).delivered.map((d) => d.port), [1]);
});

t.test('output never sends a frame back out its ingress port, except through IN_PORT', async (t) => {
  const cluster = new SimulatedCluster([{ name: 'hv1', tunnels: [], flows: [f(0, 1, [], [output(1), output(2), output(OFPP.IN_PORT)])] }]);
  t.same(cluster.send('hv1', 1, ethFrame({ src: A, dst: B })).delivered.map((d) => d.port), [2, 1]);
});

t.test('a table miss drops; goto_table must go forward', async (t) => {
  const cluster = new SimulatedCluster([{ name: 'hv1', tunnels: [], flows: [f(0, 1, [], [], 5), f(5, 1, [], [], 0)] }]);
  const w = cluster.send('hv1', 1, ethFrame({ src: A, dst: B }));
  t.same(w.delivered, []);
  t.match(formatTrace(w.trace).join('\n'), /does not go forward/);
});

t.test('learn adds a flow built from the packet, and a second learn of the same match replaces it', async (t) => {
  const l = learn({
    tableId: 1,
    priority: 7,
    specs: [
      { kind: 'match', src: { subfield: subfield('nxm_eth_src') }, dst: subfield('nxm_eth_dst') },
      { kind: 'load', src: { immediate: 5n }, dst: subfield('reg1', 0, 8) },
      { kind: 'output', src: subfield('nxm_in_port') },
    ],
  });
  const cluster = new SimulatedCluster([{ name: 'hv1', tunnels: [], flows: [f(0, 1, [], [l], 1)] }]);
  cluster.send('hv1', 4, ethFrame({ src: A, dst: B }));
  cluster.send('hv1', 6, ethFrame({ src: A, dst: B }));
  const learned = cluster.flows('hv1').filter((x) => x.tableId === 1);
  t.equal(learned.length, 1);
  t.same(learned[0]!.match.fields, [{ field: 'nxm_eth_dst', value: mac(A) }]);
  t.same(learned[0]!.instructions, [{ type: 'apply_actions', actions: [{ type: 'reg_load', dst: subfield('reg1', 0, 8), value: 5n }, { type: 'output', port: 6, maxLen: 0 }] }]);
  t.same(cluster.send('hv1', 9, ethFrame({ src: B, dst: A })).delivered.map((d) => d.port), [6]);
  t.same(learnedFlow(l, { eth_src: mac(B), in_port: 3n }).match.fields, [{ field: 'nxm_eth_dst', value: mac(B) }]);
});

t.test('tunnels carry frames with their tun_id to the far host, and a frame entering a port twice is a loop', async (t) => {
  const setKey = { type: 'set_field', field: { field: 'tunnel_id', value: 42n } } as const;
  const cluster = new SimulatedCluster([
    { name: 'hv1', tunnels: [{ ofport: 10, peer: 'hv2' }, { ofport: 11, peer: 'hv3' }], flows: [f(0, 1, [], [setKey, output(10)])] },
    { name: 'hv2', tunnels: [{ ofport: 20, peer: 'hv1' }, { ofport: 21, peer: 'hv3' }], flows: [f(0, 1, [{ field: 'tunnel_id', value: 42n }], [output(3), output(21)])] },
    { name: 'hv3', tunnels: [{ ofport: 30, peer: 'hv2' }, { ofport: 31, peer: 'hv1' }], flows: [f(0, 1, [], [output(31)])] },
  ]);
  const w = cluster.send('hv1', 1, ethFrame({ src: A, dst: B }));
  t.ok(w.loop, 'hv1 → hv2 → hv3 → hv1 → hv2 enters hv2:20 twice');
  t.same(w.delivered.map((d) => `${d.host}:${d.port}`), ['hv2:3']);
  t.equal(w.delivered[0]!.frame.tunnel_id, 42n);
});

t.test('resubmit looks up another table with the same packet and goes on with the action list', async (t) => {
  const cluster = new SimulatedCluster([
    {
      name: 'hv1',
      tunnels: [],
      flows: [f(0, 1, [], [{ type: 'resubmit', inPort: 0xfff8, table: 3 }, output(2)]), f(3, 1, [], [output(5)])],
    },
  ]);
  t.same(cluster.send('hv1', 1, ethFrame({ src: A, dst: B })).delivered.map((d) => d.port), [5, 2]);
});
