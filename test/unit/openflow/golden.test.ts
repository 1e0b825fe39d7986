// Golden vectors: weft encodes a flow exactly as `ovs-ofctl -O OpenFlow13`
// does, decodes what ovs-ofctl sends, and renders flows in dump-flows syntax.
import t, { type Test } from 'tap';
import {
  decodeMessage,
  encodeMessage,
  errorName,
  flowMod,
  formatFlow,
  ipv4,
  learn,
  mac,
  OFP_ERROR_CODES,
  OFPBF,
  OFPBCT,
  OFPFC,
  OFPFF,
  OFPGC,
  OFPGT,
  OFPMP,
  OFPP,
  OFPVID_PRESENT,
  output,
  subfield,
  type Action,
  type Instruction,
  type Message,
} from '../../../protocols/openflow/index.js';
import { bytes, golden, goldenCase, hex } from './fixtures.js';

const metadata32 = 0xffffffffn;
const apply = (...actions: Action[]): Instruction => ({ type: 'apply_actions', actions });

function xidOf(h: string): number {
  return parseInt(h.slice(8, 16), 16);
}

/** The one message of a case, or the index-th. */
function captured(name: string, index = 0): string {
  const m = goldenCase(name).messages[index];
  if (m === undefined) throw new Error(`case ${name} has no message ${index}`);
  return m;
}

function encodesLike(tt: Test, name: string, build: (xid: number) => Message, index = 0): void {
  const want = captured(name, index);
  tt.equal(hex(encodeMessage(build(xidOf(want)))), want, `${name}: same bytes as ovs-ofctl`);
}

t.test('every captured message decodes and encodes back to the same bytes', async (tt) => {
  for (const c of golden) {
    tt.ok(c.messages.length > 0, `${c.name}: captured something`);
    for (const m of c.messages) tt.equal(hex(encodeMessage(decodeMessage(bytes(m)))), m, c.name);
  }
});

t.test('a flow built with the API encodes to what ovs-ofctl sends', async (tt) => {
  encodesLike(tt, 'simple output flow', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({ priority: 100, match: { fields: [{ field: 'in_port', value: 1n }] }, instructions: [apply(output(2))] }),
  }));

  encodesLike(tt, 'learn flow of the pipeline', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({
      cookie: 0x5746000000000001n,
      tableId: 30,
      priority: 100,
      match: { fields: [{ field: 'metadata', value: 5n, mask: metadata32 }] },
      instructions: [
        apply(
          learn({
            tableId: 40,
            idleTimeout: 300,
            priority: 50,
            cookie: 0x5746000000000002n,
            specs: [
              { kind: 'match', src: { subfield: subfield('metadata', 0, 32) }, dst: subfield('metadata', 0, 32) },
              { kind: 'match', src: { subfield: subfield('nxm_eth_src') }, dst: subfield('nxm_eth_dst') },
              { kind: 'load', src: { subfield: subfield('tun_id') }, dst: subfield('tun_id') },
              { kind: 'output', src: subfield('nxm_in_port') },
            ],
          }),
          { type: 'resubmit', inPort: 0xfff8, table: 40 },
        ),
      ],
    }),
  }));

  encodesLike(tt, 'learn on vlan tci with fin timeouts and an immediate', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({
      tableId: 30,
      priority: 90,
      match: { fields: [{ field: 'vlan_vid', value: BigInt(OFPVID_PRESENT | 11) }] },
      instructions: [
        apply(
          learn({
            tableId: 40,
            hardTimeout: 60,
            finIdleTimeout: 3,
            finHardTimeout: 4,
            flags: 1,
            specs: [
              { kind: 'match', src: { subfield: subfield('nxm_vlan_tci', 0, 12) }, dst: subfield('nxm_vlan_tci', 0, 12) },
              { kind: 'match', src: { subfield: subfield('nxm_eth_src') }, dst: subfield('nxm_eth_dst') },
              { kind: 'load', src: { immediate: 5n }, dst: subfield('reg0') },
              { kind: 'output', src: subfield('nxm_in_port') },
            ],
          }),
        ),
      ],
    }),
  }));

  encodesLike(tt, 'resubmit forms', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({
      tableId: 1,
      priority: 10,
      instructions: [apply({ type: 'resubmit', inPort: 0xfff8, table: 40 }, { type: 'resubmit', inPort: 3, table: 255 }, { type: 'resubmit', inPort: 3, table: 40 })],
    }),
  }));

  encodesLike(tt, 'set_field to tun_id and a register', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({
      priority: 100,
      match: { fields: [{ field: 'in_port', value: 3n }, { field: 'vlan_vid', value: BigInt(OFPVID_PRESENT | 11) }] },
      instructions: [
        apply(
          { type: 'pop_vlan' },
          { type: 'set_field', field: { field: 'tunnel_id', value: 0x64n } },
          { type: 'set_field', field: { field: 'reg0', value: 5n } },
          { type: 'reg_load', dst: subfield('reg1', 0, 8), value: 3n },
          { type: 'reg_move', src: subfield('nxm_eth_src'), dst: subfield('nxm_eth_dst') },
          output(5),
        ),
      ],
    }),
  }));

  encodesLike(tt, 'tunnel match with write_metadata and goto_table', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({
      priority: 110,
      match: { fields: [{ field: 'in_port', value: 5n }, { field: 'tunnel_id', value: 0x64n }] },
      instructions: [
        { type: 'write_metadata', metadata: 5n, mask: metadata32 },
        { type: 'goto_table', tableId: 10 },
      ],
    }),
  }));

  encodesLike(tt, 'group action with push_vlan and set_queue', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({
      tableId: 50,
      priority: 10,
      match: { fields: [{ field: 'eth_dst', value: mac('01:00:00:00:00:00'), mask: mac('01:00:00:00:00:00') }, { field: 'metadata', value: 5n, mask: metadata32 }] },
      instructions: [
        apply(
          { type: 'push_vlan', ethertype: 0x8100 },
          { type: 'set_field', field: { field: 'vlan_vid', value: 4107n } },
          { type: 'set_queue', queueId: 3 },
          { type: 'group', groupId: 5 },
        ),
      ],
    }),
  }));

  encodesLike(tt, 'arp port security', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({
      tableId: 10,
      priority: 90,
      match: {
        fields: [
          { field: 'in_port', value: 1n },
          { field: 'eth_type', value: 0x0806n },
          { field: 'arp_op', value: 1n },
          { field: 'arp_spa', value: ipv4('192.0.2.11') },
          { field: 'arp_tpa', value: ipv4('192.0.2.1') },
          { field: 'arp_sha', value: mac('50:54:00:00:00:01') },
        ],
      },
      instructions: [
        { type: 'write_actions', actions: [output(2)] },
        { type: 'goto_table', tableId: 20 },
      ],
    }),
  }));

  encodesLike(tt, 'flow mod with all header fields', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({
      cookie: 0x1234n,
      tableId: 3,
      idleTimeout: 10,
      hardTimeout: 20,
      priority: 7,
      flags: OFPFF.SEND_FLOW_REM | OFPFF.CHECK_OVERLAP | OFPFF.RESET_COUNTS | OFPFF.NO_PKT_COUNTS | OFPFF.NO_BYT_COUNTS,
      instructions: [{ type: 'clear_actions' }],
    }),
  }));

  encodesLike(tt, 'delete by cookie', (xid) => ({
    type: 'flow_mod',
    xid,
    ...flowMod({ command: OFPFC.DELETE, tableId: 0xff, cookie: 0x5746000000000000n, cookieMask: 0xffff000000000000n, priority: 0x8000 }),
  }));
});

t.test('groups, packet-out, bundles and stats requests encode like ovs-ofctl', async (tt) => {
  encodesLike(tt, 'group all', (xid) => ({
    type: 'group_mod',
    xid,
    command: OFPGC.ADD,
    groupType: OFPGT.ALL,
    groupId: 5,
    buckets: ([[output(1)], [output(2)], [{ type: 'set_field', field: { field: 'tunnel_id', value: 0x64n } }, output(5)]] as Action[][]).map((actions) => ({
      weight: 0,
      watchPort: OFPP.ANY,
      watchGroup: 0xffffffff,
      actions,
    })),
  }));
  encodesLike(tt, 'group fast failover', (xid) => ({
    type: 'group_mod',
    xid,
    command: OFPGC.ADD,
    groupType: OFPGT.FF,
    groupId: 8,
    buckets: [1, 2].map((p) => ({ weight: 0, watchPort: p, watchGroup: 0xffffffff, actions: [output(p)] })),
  }));
  encodesLike(tt, 'group delete', (xid) => ({ type: 'group_mod', xid, command: OFPGC.DELETE, groupType: OFPGT.ALL, groupId: 8, buckets: [] }));

  const frame = 'ffffffffffff505400000001080600010800060400015054000000010000000000000000000000000000c0000201';
  encodesLike(tt, 'packet out', (xid) => ({ type: 'packet_out', xid, bufferId: 0xffffffff, inPort: OFPP.CONTROLLER, actions: [output(1), output(2)], data: bytes(frame) }));

  const flow = decodeMessage(bytes(captured('bundle of one flow', 1)));
  tt.equal(flow.type, 'bundle_add');
  const inner = flow.type === 'bundle_add' ? flow.message : flow;
  const flags = OFPBF.ATOMIC | OFPBF.ORDERED;
  encodesLike(tt, 'bundle of one flow', (xid) => ({ type: 'bundle_control', xid, bundleId: 0, controlType: OFPBCT.OPEN_REQUEST, flags, properties: new Uint8Array() }), 0);
  encodesLike(tt, 'bundle of one flow', (xid) => ({ type: 'bundle_add', xid, bundleId: 0, flags, message: inner, properties: new Uint8Array() }), 1);
  encodesLike(tt, 'bundle of one flow', (xid) => ({ type: 'bundle_control', xid, bundleId: 0, controlType: OFPBCT.COMMIT_REQUEST, flags, properties: new Uint8Array() }), 2);
  tt.match(inner, { type: 'flow_mod', tableId: 0, priority: 100 }, 'the bundled message is a flow_mod');

  encodesLike(tt, 'flow stats request', (xid) => ({
    type: 'multipart_request',
    xid,
    flags: 0,
    body: { kind: 'flow', request: { tableId: 30, outPort: OFPP.ANY, outGroup: 0xffffffff, cookie: 0x5746000000000000n, cookieMask: 0xffff000000000000n, match: { fields: [] } } },
  }));
  encodesLike(tt, 'port stats request', (xid) => ({ type: 'multipart_request', xid, flags: 0, body: { kind: 'port_stats', portNo: OFPP.ANY } }));
  encodesLike(tt, 'group stats request', (xid) => ({ type: 'multipart_request', xid, flags: 0, body: { kind: 'group_stats', groupId: 0xfffffffc } }));
  encodesLike(tt, 'group desc request', (xid) => ({ type: 'multipart_request', xid, flags: 0, body: { kind: 'group_desc' } }));
  tt.equal(OFPMP.GROUP_DESC, 7);
});

t.test('flows render as ovs-ofctl dump-flows prints them', async (tt) => {
  const expected: Record<string, string> = {
    'simple output flow': 'cookie=0x0, table=0, priority=100,in_port=1 actions=output:2',
    'learn flow of the pipeline':
      'cookie=0x5746000000000001, table=30, priority=100,metadata=0x5/0xffffffff actions=learn(table=40,idle_timeout=300,priority=50,cookie=0x5746000000000002,OXM_OF_METADATA[0..31],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),resubmit(,40)',
    'learn on vlan tci with fin timeouts and an immediate':
      'cookie=0x0, table=30, priority=90,dl_vlan=11 actions=learn(table=40,hard_timeout=60,fin_idle_timeout=3,fin_hard_timeout=4,send_flow_rem,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0x5->NXM_NX_REG0[],output:NXM_OF_IN_PORT[])',
    'resubmit forms': 'cookie=0x0, table=1, priority=10 actions=resubmit(,40),resubmit:3,resubmit(3,40)',
    'set_field to tun_id and a register':
      'cookie=0x0, table=0, priority=100,in_port=3,dl_vlan=11 actions=pop_vlan,set_field:0x64->tun_id,set_field:0x5->reg0,load:0x3->NXM_NX_REG1[0..7],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],output:5',
    'tunnel match with write_metadata and goto_table': 'cookie=0x0, table=0, priority=110,tun_id=0x64,in_port=5 actions=write_metadata:0x5/0xffffffff,goto_table:10',
    'group action with push_vlan and set_queue':
      'cookie=0x0, table=50, priority=10,metadata=0x5/0xffffffff,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=push_vlan:0x8100,set_field:4107->vlan_vid,set_queue:3,group:5',
    'ip flow with dec_ttl': 'cookie=0x0, table=60, priority=10,ip,nw_dst=192.0.2.0/24 actions=dec_ttl,output:3',
    'dhcp to controller':
      'cookie=0x0, table=20, priority=100,udp,reg0=0x7,dl_src=50:54:00:00:00:01,nw_src=0.0.0.0,tp_src=68,tp_dst=67 actions=CONTROLLER:65535,note:77.65.66.74.00.00,write_metadata:0x5',
    'arp port security':
      'cookie=0x0, table=10, priority=90,arp,in_port=1,arp_spa=192.0.2.11,arp_tpa=192.0.2.1,arp_op=1,arp_sha=50:54:00:00:00:01 actions=write_actions(output:2),goto_table:20',
    'flow mod with all header fields':
      'cookie=0x1234, table=3, idle_timeout=10, hard_timeout=20, send_flow_rem check_overlap reset_counts no_packet_counts no_byte_counts priority=7 actions=clear_actions',
  };
  for (const [name, text] of Object.entries(expected)) {
    const m = decodeMessage(bytes(captured(name)));
    if (m.type !== 'flow_mod') {
      tt.fail(`${name} is a ${m.type}`);
      continue;
    }
    tt.equal(formatFlow(m), text, name);
  }
});

t.test('errors name their type and code and carry the offending message', async (tt) => {
  tt.equal(errorName(2, 9), 'OFPBAC_BAD_OUT_GROUP');
  tt.equal(errorName(5, 1), 'OFPFMFC_TABLE_FULL');
  tt.equal(errorName(13, 5), 'OFPTFFC_EPERM');
  tt.equal(errorName(99, 1), 'OFPET_99/1');
  tt.same(OFP_ERROR_CODES.OFPRRFC_STALE, { type: 11, code: 0 });
  const offending = bytes(captured('simple output flow'));
  const err = encodeMessage({ type: 'error', xid: 6, errorType: 2, code: 9, data: offending.subarray(0, 64) });
  tt.same(decodeMessage(err), { type: 'error', xid: 6, errorType: 2, code: 9, data: offending.subarray(0, 64) });
});

t.test('HELLO carries the version bitmap the switch sends', async (tt) => {
  const fromSwitch = bytes('040000100000002600010008' + '00000012');
  tt.same(decodeMessage(fromSwitch), { type: 'hello', xid: 0x26, versions: [1, 4] });
  tt.equal(hex(encodeMessage({ type: 'hello', xid: 0x26, versions: [1, 4] })), '040000100000002600010008' + '00000012');
});
