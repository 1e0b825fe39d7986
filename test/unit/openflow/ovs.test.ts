// Against a real Open vSwitch (dummy datapath, in a temp dir): flows, groups
// and a bundle that weft encodes are accepted, and `ovs-ofctl dump-flows`
// prints exactly weft's own rendering of them, as do the flow stats weft
// decodes from the switch.
import t from 'tap';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeMessage,
  encodeMessage,
  errorName,
  flowMod,
  formatFlow,
  messageLength,
  OFPBCT,
  OFPBF,
  OFPMPF_MORE,
  OFPP,
  OFPTT_ALL,
  output,
  stripFlowStats,
  type FlowStats,
  type Message,
  type MessageBody,
} from '../../../protocols/openflow/index.js';
import { OVS, requirement } from '../../harness/require.js';
import { bytes, golden } from './fixtures.js';

/** A minimal controller-side connection to a bridge's management socket. */
class Conn {
  private buf = new Uint8Array(0);
  private waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  readonly received: Message[] = [];
  private nextXid = 100;
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d) => this.onData(d));
  }

  static async open(path: string): Promise<Conn> {
    const sock = net.connect(path);
    await new Promise<void>((ok, fail) => sock.once('connect', ok).once('error', fail));
    const c = new Conn(sock);
    c.send({ type: 'hello', versions: [4] });
    await c.wait((m) => m.type === 'hello');
    return c;
  }

  private onData(d: Buffer): void {
    const joined = new Uint8Array(this.buf.length + d.length);
    joined.set(this.buf);
    joined.set(d, this.buf.length);
    this.buf = joined;
    for (let len = messageLength(this.buf); len !== undefined; len = messageLength(this.buf)) {
      const m = decodeMessage(this.buf.subarray(0, len));
      this.buf = this.buf.slice(len);
      if (m.type === 'echo_request') this.sock.write(encodeMessage({ type: 'echo_reply', xid: m.xid, data: m.data }));
      this.received.push(m);
      this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
    }
  }

  wait(pred: (m: Message) => boolean): Promise<Message> {
    const seen = this.received.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  send(body: MessageBody): number {
    const xid = this.nextXid++;
    this.sock.write(encodeMessage({ ...body, xid } as Message));
    return xid;
  }

  /** Sends a barrier and resolves when the switch has processed everything before it. */
  async barrier(): Promise<void> {
    const xid = this.send({ type: 'barrier_request' });
    await this.wait((m) => m.type === 'barrier_reply' && m.xid === xid);
  }

  /** All parts of a multipart reply, following OFPMPF_REPLY_MORE. */
  async multipart(body: Extract<MessageBody, { type: 'multipart_request' }>['body']): Promise<Extract<Message, { type: 'multipart_reply' }>[]> {
    const xid = this.send({ type: 'multipart_request', flags: 0, body });
    const parts: Extract<Message, { type: 'multipart_reply' }>[] = [];
    for (;;) {
      const m = await this.wait((x) => x.type === 'multipart_reply' && x.xid === xid && !parts.includes(x as never));
      if (m.type !== 'multipart_reply') throw new Error('unreachable');
      parts.push(m);
      if ((m.flags & OFPMPF_MORE) === 0) return parts;
    }
  }

  errors(): string[] {
    return this.received.flatMap((m) => (m.type === 'error' ? [`${errorName(m.errorType, m.code)} for xid ${m.xid}`] : []));
  }

  close(): void {
    this.sock.destroy();
  }
}

function startSwitch(dir: string): (args: string[]) => string {
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
  run('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${join(dir, 'db.sock')}`, `--pidfile=${join(dir, 'ovsdb-server.pid')}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--log-file=${join(dir, 'ovsdb-server.log')}`, '--detach', '-vconsole:off']);
  run('ovs-vsctl', [`--db=unix:${join(dir, 'db.sock')}`, '--no-wait', 'init']);
  run('ovs-vswitchd', ['--enable-dummy', `unix:${join(dir, 'db.sock')}`, `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`, `--unixctl=${join(dir, 'ovs-vswitchd.ctl')}`, `--log-file=${join(dir, 'ovs-vswitchd.log')}`, '--detach', '-vconsole:off']);
  const ports = [1, 2, 3, 4, 5].flatMap((n) => ['--', 'add-port', 'br0', `p${n}`, '--', 'set', 'interface', `p${n}`, 'type=dummy', `ofport_request=${n}`]);
  run('ovs-vsctl', [`--db=unix:${join(dir, 'db.sock')}`, 'add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=dummy', 'fail_mode=secure', 'protocols=OpenFlow13', ...ports]);
  return (args) => run('ovs-ofctl', ['-O', 'OpenFlow13', '--no-names', ...args]);
}

function stopSwitch(dir: string): void {
  for (const d of ['ovs-vswitchd', 'ovsdb-server']) {
    try {
      execFileSync('ovs-appctl', ['-t', join(dir, `${d}.ctl`), 'exit'], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

t.test('a real switch holds and reports the flows exactly as weft renders them', requirement(OVS), async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-of-'));
  tt.teardown(() => {
    stopSwitch(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  const ofctl = startSwitch(dir);
  const conn = await Conn.open(join(dir, 'br0.mgmt'));
  tt.teardown(() => conn.close());

  // Groups first: flows refer to them.
  const sent: Message[] = [];
  for (const c of golden.filter((g) => g.args[0] === 'add-group')) for (const h of c.messages) sent.push(decodeMessage(bytes(h)));
  for (const c of golden.filter((g) => g.args[0] === 'add-flow')) for (const h of c.messages) sent.push(decodeMessage(bytes(h)));
  const toController = flowMod({ priority: 1000, cookie: 0x77n, match: { fields: [{ field: 'in_port', value: 4n }] }, instructions: [{ type: 'apply_actions', actions: [output(OFPP.CONTROLLER)] }] });
  sent.push({ type: 'flow_mod', xid: 1, ...toController });
  for (const m of sent) conn.send(m);
  // A bundle committed atomically and in order, as flow sync will use it.
  const bundled = { type: 'flow_mod' as const, xid: 1, ...flowMod({ tableId: 70, priority: 5, cookie: 0x57n, instructions: [{ type: 'apply_actions', actions: [output(4)] }] }) };
  const flags = OFPBF.ATOMIC | OFPBF.ORDERED;
  conn.send({ type: 'bundle_control', bundleId: 9, controlType: OFPBCT.OPEN_REQUEST, flags, properties: new Uint8Array() });
  conn.send({ type: 'bundle_add', bundleId: 9, flags, message: bundled, properties: new Uint8Array() });
  const commit = conn.send({ type: 'bundle_control', bundleId: 9, controlType: OFPBCT.COMMIT_REQUEST, flags, properties: new Uint8Array() });
  const reply = await conn.wait((m) => m.xid === commit);
  tt.match(reply, { type: 'bundle_control', controlType: OFPBCT.COMMIT_REPLY, bundleId: 9 }, 'the switch commits the bundle');
  await conn.barrier();
  tt.same(conn.errors(), [], 'the switch accepted every message');

  const ours = [...sent.flatMap((m) => (m.type === 'flow_mod' ? [formatFlow(m)] : [])), formatFlow(bundled)].sort();
  const dumped = ofctl(['dump-flows', `unix:${join(dir, 'br0.mgmt')}`])
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map(stripFlowStats)
    .sort();
  tt.same(dumped, ours, 'dump-flows equals our rendering of what we sent');

  const parts = await conn.multipart({ kind: 'flow', request: { tableId: OFPTT_ALL, outPort: OFPP.ANY, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: { fields: [] } } });
  const stats: FlowStats[] = parts.flatMap((p) => (p.body.kind === 'flow' ? p.body.stats : []));
  tt.same(stats.map(formatFlow).sort(), ours, 'flow stats decoded from the switch render the same');

  const ports = (await conn.multipart({ kind: 'port_desc' })).flatMap((p) => (p.body.kind === 'port_desc' ? p.body.ports : []));
  tt.same(ports.map((p) => `${p.portNo}:${p.name}`).sort(), ['1:p1', '2:p2', '3:p3', '4:p4', '5:p5', `${OFPP.LOCAL}:br0`].sort(), 'port descriptions');

  const groups = (await conn.multipart({ kind: 'group_desc' })).flatMap((p) => (p.body.kind === 'group_desc' ? p.body.groups : []));
  tt.same(groups.map((g) => [g.groupId, g.groupType, g.buckets.length]).sort(), [[5, 0, 3], [6, 1, 2], [7, 2, 1], [8, 3, 2]], 'group descriptions');
  const gstats = (await conn.multipart({ kind: 'group_stats', groupId: 0xfffffffc })).flatMap((p) => (p.body.kind === 'group_stats' ? p.body.stats : []));
  tt.same(gstats.map((g) => g.groupId).sort(), [5, 6, 7, 8], 'group stats');
  const pstats = (await conn.multipart({ kind: 'port_stats', portNo: OFPP.ANY })).flatMap((p) => (p.body.kind === 'port_stats' ? p.body.stats : []));
  tt.equal(pstats.length, 6, 'port stats for every port');

  // The management socket is a service connection: ask for packet-ins (OFPT_SET_ASYNC, not modelled).
  const async = new Uint8Array(24);
  async.set([0, 0, 0, 7], 0);
  conn.send({ type: 'unknown', msgType: 28, body: async });
  await conn.barrier();
  const arp = bytes('ffffffffffff505400000001080600010800060400015054000000' + '01c0000201000000000000c000020c');
  execFileSync('ovs-appctl', ['-t', join(dir, 'ovs-vswitchd.ctl'), 'netdev-dummy/receive', 'p4', Buffer.from(arp).toString('hex')]);
  const pin = await conn.wait((m) => m.type === 'packet_in');
  tt.match(pin, { type: 'packet_in', cookie: 0x77n, tableId: 0, totalLen: arp.length, match: { fields: [{ field: 'in_port', value: 4n }] } }, 'packet-in names the flow and the port');
  tt.same(pin.type === 'packet_in' ? pin.data : undefined, arp, 'packet-in carries the frame');

  conn.send({ type: 'packet_out', bufferId: 0xffffffff, inPort: OFPP.CONTROLLER, actions: [output(5)], data: arp });
  await conn.barrier();
  const p5 = (await conn.multipart({ kind: 'port_stats', portNo: 5 })).flatMap((p) => (p.body.kind === 'port_stats' ? p.body.stats : []));
  tt.match(p5, [{ portNo: 5, txPackets: 1n, txBytes: BigInt(arp.length) }], 'packet-out leaves by the port it names');

  const role = conn.send({ type: 'role_request', role: 1, generationId: 0n });
  tt.match(await conn.wait((m) => m.xid === role), { type: 'role_reply', role: 1 }, 'role EQUAL is granted');
  tt.same(conn.errors(), []);
});
