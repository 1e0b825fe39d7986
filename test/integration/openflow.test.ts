// The OpenFlow plane against a real ovs-vswitchd (dummy datapath): it
// negotiates OpenFlow 1.3, installs exactly the desired flows, applies a
// changed set as a minimal diff without a flush, repairs drift made by hand,
// never touches flows with other cookies, restores a restarted switch, does
// nothing when a restarted weft finds the switch converged, and turns away
// peers that speak another version or garbage while the switch carries on.
import net from 'node:net';
import t from 'tap';
import { encodeMessage, OFP_ERROR_CODES } from '../../protocols/openflow/index.js';
import { Ovs } from '../harness/ovs.js';
import { OVS, requirement } from '../harness/require.js';
import type { Flow } from '../../src/openflow/sync.js';
import { dpidOf, dump, eventually, flow, rendered, startPlane } from './openflow-switch.js';

t.test('the OpenFlow plane against a real switch', requirement(OVS), async (t) => {
  const ovs = await Ovs.start();
  t.teardown(() => ovs.stop());
  await ovs.addBridge('br0', { failMode: 'secure', protocols: 'OpenFlow13' });
  const dpid = await dpidOf(ovs, 'br0');

  let desired: Flow[] = [flow(0, 100, 1, 2), flow(0, 100, 2, 1), flow(0, 0, 0, 0, 3n), flow(10, 50, 3, 4)];
  // The last one has in_port=0 at priority 0: a catch-all-ish identity of its own.
  desired[2] = { ...desired[2]!, match: { fields: [] }, instructions: [] };
  const first = await startPlane(() => desired);
  let plane = first.plane;
  t.teardown(() => plane.stop());

  const connected = new Promise<bigint>((r) => plane.on('connected', r));
  const firstSync = new Promise<number>((r) => plane.on('synced', (_d, res) => r(res.flowMods)));
  await ovs.vsctl('set-controller', 'br0', `tcp:127.0.0.1:${first.port}`);

  await t.test('the switch connects, negotiates 1.3 and is known by its datapath id', async (t) => {
    t.equal(await connected, dpid);
    t.ok(plane.session(dpid), 'a session by datapath id');
  });

  await t.test('the desired flows are installed, exactly', async (t) => {
    t.equal(await firstSync, 4, 'one flow-mod per flow');
    t.same(await dump(ovs, 'br0'), rendered(desired));
    t.equal(plane.switches()[0]!.lastSync?.mode, 'bundle', 'in one atomic bundle');
  });

  await t.test('a flow with another cookie (an operator\'s) is never touched', async (t) => {
    await ovs.ofctl('add-flow', 'br0', 'cookie=0x99,table=0,priority=200,in_port=7,actions=output:8');
    await ovs.ofctl('add-flow', 'br0', 'cookie=0x574c000000000001,table=40,priority=10,dl_dst=02:00:00:00:00:01,actions=output:1');
    desired = desired.slice(1);
    const r = await plane.sync(dpid);
    t.same(r.diff, { adds: 0, modifies: 0, deletes: 1 });
    const all = await dump(ovs, 'br0', true);
    t.ok(all.some((l) => l.startsWith('cookie=0x99, ')), 'the operator\'s flow stays');
    t.ok(all.some((l) => l.startsWith('cookie=0x574c000000000001, ')), 'the learned flow stays');
    t.same(await dump(ovs, 'br0'), rendered(desired));
  });

  await t.test('a changed desired set is applied as a minimal diff, without a flush', async (t) => {
    const before = await ovs.ofctl('dump-flows', 'br0', 'table=10');
    desired = [
      ...desired.filter((f) => !(f.tableId === 10)),
      { ...flow(10, 50, 3, 5) }, // same identity, new instructions: a modify
      flow(20, 10, 4, 6), // new: an add
    ];
    desired = desired.filter((f) => !(f.tableId === 0 && f.priority === 100)); // one delete
    const r = await plane.sync(dpid);
    t.same(r.diff, { adds: 1, modifies: 1, deletes: 1 });
    t.equal(r.flowMods, 3, 'three flow-mods for three changes');
    t.same(await dump(ovs, 'br0'), rendered(desired));
    t.match(before, /duration=/, 'the modified flow existed before');
    const again = await plane.sync(dpid);
    t.equal(again.flowMods, 0, 'a converged switch gets no flow-mod');
    t.ok((await dump(ovs, 'br0', true)).some((l) => l.startsWith('cookie=0x99, ')), 'the operator\'s flow is still there');
  });

  await t.test('the audit removes a hand-added flow of weft\'s and restores a hand-deleted one', async (t) => {
    await ovs.ofctl('add-flow', 'br0', 'cookie=0x5746000000000009,table=30,priority=5,in_port=9,actions=drop');
    await ovs.ofctl('--strict', 'del-flows', 'br0', 'table=20,priority=10,in_port=4');
    const r = await plane.sync(dpid);
    t.same(r.diff, { adds: 1, modifies: 0, deletes: 1 });
    t.same(await dump(ovs, 'br0'), rendered(desired));
  });

  await t.test('ovs-vswitchd restarted: the flows are restored after it reconnects', async (t) => {
    const back = new Promise<void>((r) => plane.on('synced', (d, res) => d === dpid && res.flowMods > 0 && r()));
    await ovs.restartVswitchd();
    await back;
    t.same(await dump(ovs, 'br0'), rendered(desired));
  });

  await t.test('weft restarted: a converged switch gets no flow-mod', async (t) => {
    const before = await dump(ovs, 'br0', true);
    await plane.stop();
    const again = await startPlane(() => desired, { targets: [{ scheme: 'ptcp', port: first.port, host: '127.0.0.1' }] });
    plane = again.plane;
    const result = await eventually('the first sync after reconnect', () => plane.switches()[0]?.lastSync, 30_000);
    t.equal(result.flowMods, 0);
    t.same(await dump(ovs, 'br0', true), before, 'every flow as it was, the operator\'s included');
  });

  await t.test('a periodic audit repairs drift without being asked', async (t) => {
    await plane.stop();
    const audited = await startPlane(() => desired, { targets: [{ scheme: 'ptcp', port: first.port, host: '127.0.0.1' }], auditInterval: 100 });
    plane = audited.plane;
    await eventually('the switch', () => plane.switches()[0]?.lastSync, 30_000);
    await ovs.ofctl('--strict', 'del-flows', 'br0', 'table=20,priority=10,in_port=4');
    await eventually('the audit to restore the flow', async () => (await dump(ovs, 'br0')).length === desired.length || undefined);
    t.same(await dump(ovs, 'br0'), rendered(desired));
  });

  await t.test('a peer that speaks only OpenFlow 1.0 gets HELLO_FAILED/INCOMPATIBLE and is closed', async (t) => {
    const port = Number(plane.listeners()[0]!.address.split(':')[1]);
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.write(Buffer.from([1, 0, 0, 8, 0, 0, 0, 1]));
    await new Promise((r) => sock.on('close', r));
    const all = Buffer.concat(chunks);
    // Our HELLO, then the error (in version 1, as the peer reads it).
    const helloLen = all.readUInt16BE(2);
    const err = all.subarray(helloLen);
    t.equal(err[0], 1, 'the error is in the peer\'s version');
    t.equal(err[1], 1, 'OFPT_ERROR');
    t.equal(err.readUInt16BE(8), OFP_ERROR_CODES.OFPHFC_INCOMPATIBLE!.type);
    t.equal(err.readUInt16BE(10), OFP_ERROR_CODES.OFPHFC_INCOMPATIBLE!.code);
    t.match(err.subarray(12).toString(), /OpenFlow 1\.3 only; the peer offered OpenFlow 1\.0/);
  });

  await t.test('a peer sending garbage is disconnected; the real switch carries on', async (t) => {
    const port = Number(plane.listeners()[0]!.address.split(':')[1]);
    const sock = net.connect(port, '127.0.0.1');
    sock.on('data', () => undefined);
    sock.on('error', () => undefined);
    await new Promise((r) => sock.on('connect', r));
    const hello = encodeMessage({ type: 'hello', xid: 1, versions: [4] });
    sock.write(hello);
    sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await new Promise((r) => sock.on('close', r));
    t.pass('the garbage peer was closed');
    t.ok(plane.session(dpid) && !plane.session(dpid)!.closed, 'the switch session is up');
    const r = await plane.sync(dpid);
    t.equal(r.flowMods, 0, 'and in sync');
  });
});
