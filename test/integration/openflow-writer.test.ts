// One flow writer per switch, against a real ovs-vswitchd: three OpenFlow
// planes (three replicas) are controllers of one bridge. The plane whose
// writeRole names MASTER at a generation (the election term of the host's
// flows group) claims it and alone writes the flows; the others stay EQUAL
// and only read. When another replica becomes the writer at a newer
// generation, the switch demotes the old master to SLAVE: its flow-mods are
// refused (IS_SLAVE) and reported, its claim at the old generation is
// refused (STALE), and once it knows it lost the switch it returns to
// EQUAL, the role that still lets it send packet-outs.
import t from 'tap';
import { Ovs } from '../harness/ovs.js';
import { OVS, requirement } from '../harness/require.js';
import type { OpenflowPlane } from '../../src/openflow/plane.js';
import type { RoleClaim } from '../../src/openflow/role.js';
import type { Flow } from '../../src/openflow/sync.js';
import { dpidOf, dump, eventually, flow, rendered, startPlane } from './openflow-switch.js';

interface Replica {
  name: string;
  plane: OpenflowPlane;
  port: number;
  /** What the election would say: the claim this replica writes with, or undefined. */
  writes: RoleClaim | undefined;
  desired: Flow[];
  refused: RoleClaim[];
}

/** The role column of the bridge's Controller rows, by target port; ovs-vswitchd updates it a moment after a change. */
async function roles(ovs: Ovs, replicas: Replica[]): Promise<Record<string, string>> {
  const out = JSON.parse(await ovs.vsctl('--format=json', '--columns=target,role', 'list', 'Controller')) as { data: [string, string | [string, unknown[]]][] };
  const byPort = new Map(out.data.map(([target, role]) => [Number(target.split(':').at(-1)), typeof role === 'string' ? role : '?']));
  return Object.fromEntries(replicas.map((r) => [r.name, byPort.get(r.port) ?? 'none']));
}

/** The roles once OVS shows `expected`, or the last ones seen after 10 s (for the failure message). */
async function rolesBecome(ovs: Ovs, replicas: Replica[], expected: Record<string, string>): Promise<Record<string, string>> {
  let last: Record<string, string> = {};
  await eventually('the controller roles', async () => {
    last = await roles(ovs, replicas);
    return JSON.stringify(last) === JSON.stringify(expected) || undefined;
  }).catch(() => undefined);
  return last;
}

t.test('exactly one replica writes a switch\'s flows, and a deposed writer is refused', requirement(OVS), async (t) => {
  const ovs = await Ovs.start();
  t.teardown(() => ovs.stop());
  await ovs.addBridge('br0', { failMode: 'secure', protocols: 'OpenFlow13' });
  const dpid = await dpidOf(ovs, 'br0');

  const replicas: Replica[] = [];
  for (const name of ['replica-1', 'replica-2', 'replica-3']) {
    const r: Replica = { name, plane: undefined as unknown as OpenflowPlane, port: 0, writes: undefined, desired: [], refused: [] };
    const started = await startPlane(() => r.desired, { writeRole: () => r.writes, onRoleRefused: (_d, claim) => void r.refused.push(claim) });
    r.plane = started.plane;
    r.port = started.port;
    t.teardown(() => r.plane.stop());
    replicas.push(r);
  }
  const [a, b, c] = replicas as [Replica, Replica, Replica];
  a.writes = { role: 'master', generationId: 1n };
  // Every replica computes flows; the readers' differ on purpose, so a write by one of them would show.
  a.desired = [flow(0, 100, 1, 2), flow(0, 100, 2, 1)];
  b.desired = [flow(0, 100, 1, 3)];
  c.desired = [flow(0, 100, 1, 4)];
  await ovs.vsctl('set-controller', 'br0', ...replicas.map((r) => `tcp:127.0.0.1:${r.port}`));

  await t.test('the writer claims MASTER at its generation and writes; the others stay EQUAL and only read', async (t) => {
    await eventually('all three connected', () => replicas.every((r) => r.plane.session(dpid)) || undefined);
    const expected = { 'replica-1': 'master', 'replica-2': 'other', 'replica-3': 'other' };
    t.same(await rolesBecome(ovs, replicas, expected), expected, 'OVS lists one master; the rest are EQUAL ("other")');
    await eventually('the writer\'s flows', async () => JSON.stringify(await dump(ovs, 'br0')) === JSON.stringify(rendered(a.desired)) || undefined);
    await t.rejects(b.plane.sync(dpid), { name: 'NotWriterError' }, 'a reader\'s sync of different flows writes nothing and says so');
    t.same(await dump(ovs, 'br0'), rendered(a.desired), 'the switch holds the writer\'s flows only');
    c.desired = a.desired;
    t.same((await c.plane.sync(dpid)).flowMods, 0, 'a reader that computes the same flows confirms them without writing');
    t.same(replicas.map((r) => r.plane.switches()[0]!.flowMods), [2, 0, 0], 'only the writer sent flow-mods');
  });

  await t.test('a new writer at a newer generation takes the switch; the old one is refused and steps back to EQUAL', async (t) => {
    b.desired = [flow(0, 100, 1, 2), flow(0, 100, 2, 1), flow(0, 90, 3, 1)];
    b.writes = { role: 'master', generationId: 2n };
    await b.plane.reclaim(dpid);
    const demoted = { 'replica-1': 'slave', 'replica-2': 'master', 'replica-3': 'other' };
    t.same(await rolesBecome(ovs, replicas, demoted), demoted, 'the switch demoted the old master to SLAVE');
    t.same(await dump(ovs, 'br0'), rendered(b.desired), 'the new writer synced its flows');

    // replica-1 has not heard of the new term yet: it still believes it writes, with generation 1.
    a.desired = [flow(0, 100, 1, 9)];
    const r = await a.plane.sync(dpid);
    t.match(r.errors, [/IS_SLAVE/], 'its flow-mods are refused by the switch');
    t.same(a.refused, [{ role: 'master', generationId: 1n }], 'and reported, so its election steps down');
    t.same(await dump(ovs, 'br0'), rendered(b.desired), 'the switch still holds the new writer\'s flows');

    // Its election has not stepped down yet: it claims MASTER at generation 1 again.
    await a.plane.reclaim(dpid);
    t.same(a.refused, [{ role: 'master', generationId: 1n }, { role: 'master', generationId: 1n }], 'a stale claim is refused (ROLE_REQUEST_FAILED/STALE)');
    t.same(await roles(ovs, replicas), demoted, 'and changes nothing');

    a.writes = undefined;
    await a.plane.reclaim(dpid);
    const equal = { 'replica-1': 'other', 'replica-2': 'master', 'replica-3': 'other' };
    t.same(await rolesBecome(ovs, replicas, equal), equal, 'having stepped down, it is EQUAL again (packet-outs allowed)');
    a.desired = b.desired;
    t.same((await a.plane.sync(dpid)).flowMods, 0, 'and reads the new writer\'s flows as its own');
  });
});
