// The real-OVS harness itself: a private ovsdb-server + ovs-vswitchd with the
// dummy datapath starts, takes bridges and flows, restarts, and leaves nothing
// behind when stopped.
import { existsSync } from 'node:fs';
import t from 'tap';
import { Ovs } from '../harness/ovs.js';
import { alive } from '../harness/proc.js';
import { OVS, requirement } from '../harness/require.js';

t.test('a dummy-datapath OVS instance', requirement(OVS), async (t) => {
  const ovs = await Ovs.start({ datapath: 'dummy' });
  t.teardown(() => ovs.stop());
  const pids = [ovs.ovsdbPid, ovs.vswitchdPid];

  await t.test('runs both daemons from its own directory', async (t) => {
    t.ok(pids[0] && alive(pids[0]), 'ovsdb-server is running');
    t.ok(pids[1] && alive(pids[1]), 'ovs-vswitchd is running');
    t.ok(existsSync(ovs.dbSock), 'the database socket is in the instance directory');
    t.match(await ovs.vsctl('show'), /^[0-9a-f]{8}-/, 'ovs-vsctl reaches it');
  });

  await t.test('takes a bridge with ports', async (t) => {
    await ovs.addBridge('br0');
    await ovs.vsctl(
      'add-port', 'br0', 'p1', '--', 'set', 'interface', 'p1', 'type=dummy', 'ofport_request=1',
      '--', 'add-port', 'br0', 'p2', '--', 'set', 'interface', 'p2', 'type=dummy', 'ofport_request=2',
    );
    t.same((await ovs.vsctl('list-ports', 'br0')).trim().split('\n'), ['p1', 'p2']);
    t.equal((await ovs.vsctl('get', 'bridge', 'br0', 'datapath_type')).trim(), 'dummy');
  });

  await t.test('installs and dumps OpenFlow 1.3 flows', async (t) => {
    await ovs.ofctl('add-flow', 'br0', 'table=0,priority=100,in_port=1,actions=output:2');
    const flows = await ovs.ofctl('dump-flows', 'br0');
    t.match(flows, /priority=100,in_port=1? ?(p1|1) actions=output:(p2|2)/, flows);
    t.match(await ovs.appctl('ofproto/trace', 'br0', 'in_port=1'), /Datapath actions: 2/);
  });

  await t.test('restarts ovs-vswitchd on the same database, which loses the flows', async (t) => {
    await ovs.restartVswitchd();
    t.not(ovs.vswitchdPid, pids[1], 'a new ovs-vswitchd');
    t.notOk(alive(pids[1]!), 'the old one is gone');
    t.same((await ovs.vsctl('list-ports', 'br0')).trim().split('\n'), ['p1', 'p2'], 'ports are kept');
    t.notMatch(await ovs.ofctl('dump-flows', 'br0'), /in_port/, 'OpenFlow flows are not persistent');
  });

  await t.test('restarts ovsdb-server keeping the database', async (t) => {
    const old = ovs.ovsdbPid;
    await ovs.restartOvsdb();
    t.not(ovs.ovsdbPid, old);
    t.same((await ovs.vsctl('list-br')).trim(), 'br0');
  });

  await t.test('stops and leaves nothing behind', async (t) => {
    const running = [ovs.ovsdbPid!, ovs.vswitchdPid!];
    await ovs.stop();
    for (const pid of running) t.notOk(alive(pid), `pid ${pid} is gone`);
    t.notOk(existsSync(ovs.dir), 'the instance directory is removed');
  });
});

t.test('an ovsdb-server-only instance', requirement(OVS), async (t) => {
  const ovs = await Ovs.start({ vswitchd: false });
  t.teardown(() => ovs.stop());
  t.equal(ovs.vswitchdPid, undefined, 'no ovs-vswitchd');
  await ovs.vsctl('add-br', 'br-int');
  await ovs.vsctl('set-manager', 'tcp:127.0.0.1:1');
  t.equal((await ovs.vsctl('get-manager')).trim(), 'tcp:127.0.0.1:1');
  t.equal((await ovs.vsctl('list-br')).trim(), 'br-int', 'writes are accepted without waiting for a switch');
});
