// The reconciler against a real ovsdb-server: its transactions converge a
// host from nothing, repair hand edits, leave the operator's objects alone,
// and fail on the wait guard when someone else wrote in between.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { Ovs } from '../harness/ovs.js';
import { OVS, requirement } from '../harness/require.js';
import { reconcile, tunnelName, type ReconcileInput } from '../../src/ovsdb/reconcile.js';
import { Host } from '../../src/model/host.js';
import { readReplica, schema, transact } from './ovsdb-reconcile-db.js';

const CTL = 'tcp:198.19.1.254:6653';
const host = (name: string, ip: string | undefined, extra: Partial<Host> = {}): Host =>
  Host.parse({ name, state: 'admitted', ...(ip ? { encapIp: ip } : {}), ...extra });
const hv1 = host('hv1', '198.18.0.1');
const hv2 = host('hv2', '198.18.0.2');
const hv3 = host('hv3', '198.18.0.3');

type Model = Omit<ReconcileInput, 'replica' | 'schema'>;

/** One reconcile round against the server: what it sent and what the server said. */
async function round(ovs: Ovs, model: Model) {
  const plan = reconcile({ ...model, replica: await readReplica(ovs), schema });
  const outcome = plan.operations.length > 0 ? await transact(ovs, plan.operations) : undefined;
  return { plan, outcome };
}

/** Reconciles, requires success, and requires the next round to send nothing. */
async function converge(t: Test, ovs: Ovs, model: Model): Promise<string[]> {
  const { plan, outcome } = await round(ovs, model);
  if (outcome && !outcome.ok) t.fail(`transaction failed at ${outcome.index}: ${JSON.stringify(outcome.error)}`, { plan });
  const again = reconcile({ ...model, replica: await readReplica(ovs), schema });
  t.same(again.operations, [], 'the next reconcile sends nothing', { changes: again.changes });
  return plan.changes;
}

const vs = async (ovs: Ovs, ...args: string[]) => (await ovs.vsctl(...args)).trim();
const uuidOf = (ovs: Ovs, table: string, name: string) => vs(ovs, 'get', table, name, '_uuid');

t.test('reconcile against a real ovsdb-server', requirement(OVS), async (t) => {
  const ovs = await Ovs.start({ vswitchd: false });
  t.teardown(() => ovs.stop());
  const full: Model = { host: hv1, peers: [hv2, hv3], controllers: [CTL] };

  await t.test('an empty database converges in one transaction', async (t) => {
    const changes = await converge(t, ovs, full);
    t.match(changes[0], /^create bridge br-int/);
    t.equal(await vs(ovs, 'get', 'bridge', 'br-int', 'fail_mode'), 'secure');
    t.equal(await vs(ovs, 'get', 'bridge', 'br-int', 'protocols'), '[OpenFlow13]');
    t.equal(await vs(ovs, 'get', 'bridge', 'br-int', 'other_config:disable-in-band'), '"true"');
    t.equal(await vs(ovs, 'get-controller', 'br-int'), CTL);
    const ports = (await vs(ovs, 'list-ports', 'br-int')).split('\n').sort();
    t.same(ports, [tunnelName('hv2'), tunnelName('hv3')].sort());
    const tun = tunnelName('hv2');
    t.ok(tun.length <= 15);
    t.equal(await vs(ovs, 'get', 'interface', tun, 'type'), 'vxlan');
    t.equal(await vs(ovs, 'get', 'interface', tun, 'options'), '{key=flow, local_ip="198.18.0.1", remote_ip="198.18.0.2"}');
    t.equal(await vs(ovs, 'get', 'interface', tun, 'external_ids'), '{weft=owned, weft-peer=hv2}');
    t.equal(await vs(ovs, 'get', 'port', tun, 'external_ids'), '{weft=owned, weft-peer=hv2}');
    t.equal(await vs(ovs, 'get', 'interface', 'br-int', 'type'), 'internal', 'the bridge has its internal port');
  });

  await t.test('a tunnel deleted by hand is re-created', async (t) => {
    await vs(ovs, 'del-port', 'br-int', tunnelName('hv3'));
    const changes = await converge(t, ovs, full);
    t.same(changes, [`add tunnel ${tunnelName('hv3')} to hv3 198.18.0.3 (vxlan)`]);
    t.equal(await vs(ovs, 'get', 'interface', tunnelName('hv3'), 'options:remote_ip'), '"198.18.0.3"');
  });

  await t.test('a tunnel whose options differ is updated in place', async (t) => {
    const tun = tunnelName('hv2');
    const before = await uuidOf(ovs, 'interface', tun);
    await vs(ovs, 'set', 'interface', tun, 'options:remote_ip=198.18.0.99', 'options:tos=inherit');
    const changes = await converge(t, ovs, full);
    t.match(changes, [/^update tunnel .* to hv2: options/]);
    t.equal(await uuidOf(ovs, 'interface', tun), before, 'same Interface row');
    t.equal(await vs(ovs, 'get', 'interface', tun, 'options'), '{key=flow, local_ip="198.18.0.1", remote_ip="198.18.0.2"}');
    const moved = { ...full, peers: [host('hv2', '198.18.0.22'), hv3] };
    await converge(t, ovs, moved);
    t.equal(await uuidOf(ovs, 'interface', tun), before, 'a peer that moved keeps its tunnel row');
    t.equal(await vs(ovs, 'get', 'interface', tun, 'options:remote_ip'), '"198.18.0.22"');
    await converge(t, ovs, full);
  });

  await t.test('a changed encapsulation changes the type in place', async (t) => {
    const geneve = { ...full, host: { ...hv1, encap: 'geneve' as const } };
    const before = await uuidOf(ovs, 'interface', tunnelName('hv2'));
    await converge(t, ovs, geneve);
    t.equal(await vs(ovs, 'get', 'interface', tunnelName('hv2'), 'type'), 'geneve');
    t.equal(await uuidOf(ovs, 'interface', tunnelName('hv2')), before);
    await converge(t, ovs, full);
  });

  await t.test('a removed peer loses its tunnel, rows and all', async (t) => {
    const changes = await converge(t, ovs, { ...full, peers: [hv2] });
    t.same(changes, [`remove tunnel ${tunnelName('hv3')} to hv3 (no longer a peer)`]);
    t.same((await vs(ovs, 'list-ports', 'br-int')).split('\n'), [tunnelName('hv2')]);
    t.notMatch(await vs(ovs, '--columns=name', 'list', 'interface'), tunnelName('hv3'), 'the Interface row was collected');
    await converge(t, ovs, full);
  });

  await t.test('controllers are retargeted in place and never all removed', async (t) => {
    const before = await vs(ovs, 'get', 'bridge', 'br-int', 'controller');
    const other = 'tcp:198.19.2.254:6653';
    const changes = await converge(t, ovs, { ...full, controllers: [other] });
    t.same(changes, [`retarget br-int controller ${CTL} -> ${other}`]);
    t.equal(await vs(ovs, 'get', 'bridge', 'br-int', 'controller'), before, 'the same Controller row');
    await converge(t, ovs, { ...full, controllers: [CTL, other] });
    t.same((await vs(ovs, 'get-controller', 'br-int')).split('\n').sort(), [CTL, other].sort());
    await converge(t, ovs, { ...full, controllers: [CTL] });
    t.equal(await vs(ovs, 'get-controller', 'br-int'), CTL);
    const none = reconcile({ ...full, controllers: [], replica: await readReplica(ovs), schema });
    t.same(none.operations, [], 'an empty list of targets leaves the controllers alone');
  });

  await t.test("the operator's bridges, ports and controllers survive", async (t) => {
    await vs(ovs, 'add-br', 'br-user', '--', 'set-controller', 'br-user', 'tcp:198.19.3.1:6653');
    await vs(ovs, 'add-port', 'br-user', 'eth9', '--', 'set', 'interface', 'eth9', 'type=internal');
    await vs(ovs, 'add-port', 'br-int', 'vm101', '--', 'set', 'port', 'vm101', 'tag=11');
    await vs(ovs, 'set', 'bridge', 'br-int', 'protocols=OpenFlow10,OpenFlow13');
    await vs(ovs, '--id=@c', 'create', 'controller', 'target="tcp:198.19.4.1:6653"', '--', 'add', 'bridge', 'br-int', 'controller', '@c');
    // Break weft's state every way at once, so the reconcile touches a lot.
    await vs(ovs, 'set', 'bridge', 'br-int', 'fail_mode=standalone', '--', 'del-port', 'br-int', tunnelName('hv2'));
    await converge(t, ovs, { ...full, peers: [hv3], controllers: ['tcp:198.19.5.1:6653'] });
    t.same((await vs(ovs, 'list-br')).split('\n'), ['br-int', 'br-user']);
    t.same((await vs(ovs, 'list-ports', 'br-user')).split('\n'), ['eth9']);
    t.equal(await vs(ovs, 'get-controller', 'br-user'), 'tcp:198.19.3.1:6653');
    t.same((await vs(ovs, 'get-controller', 'br-int')).split('\n').sort(), ['tcp:198.19.4.1:6653', 'tcp:198.19.5.1:6653']);
    t.equal(await vs(ovs, 'get', 'port', 'vm101', 'tag'), '11');
    t.equal(await vs(ovs, 'get', 'bridge', 'br-int', 'protocols'), '[OpenFlow10, OpenFlow13]', "the operator's extra version stays");
    t.equal(await vs(ovs, 'get', 'bridge', 'br-int', 'fail_mode'), 'secure');
    await converge(t, ovs, full);
    t.same((await vs(ovs, 'list-ports', 'br-int')).split('\n').sort(), [tunnelName('hv2'), tunnelName('hv3'), 'vm101'].sort());
  });

  await t.test('a concurrent edit between read and write fails the transaction on its guard', async (t) => {
    await vs(ovs, 'del-port', 'br-int', tunnelName('hv2'));
    const plan = reconcile({ ...full, replica: await readReplica(ovs), schema });
    t.not(plan.operations.length, 0);
    await vs(ovs, 'add-port', 'br-int', 'vm102');
    const outcome = await transact(ovs, plan.operations);
    t.equal(outcome.ok, false, 'the stale transaction is refused');
    if (!outcome.ok) {
      t.equal(outcome.error.error, 'timed out');
      t.equal(plan.operations[outcome.index]!.op, 'wait', 'by a wait guard');
    }
    t.notMatch(await vs(ovs, 'list-ports', 'br-int'), tunnelName('hv2'), 'nothing of it was applied');
    await converge(t, ovs, full);
    t.match(await vs(ovs, 'list-ports', 'br-int'), 'vm102', 'the concurrent edit survives the rerun');
  });

  await t.test('a concurrent bridge creation makes the creating transaction fail', async (t) => {
    await vs(ovs, 'del-br', 'br-int');
    const plan = reconcile({ ...full, replica: await readReplica(ovs), schema });
    await vs(ovs, 'add-br', 'br-int');
    const outcome = await transact(ovs, plan.operations);
    t.equal(outcome.ok, false);
    if (!outcome.ok) t.equal(outcome.error.error, 'timed out');
    await converge(t, ovs, full);
  });
});
