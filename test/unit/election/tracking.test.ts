// Host tracking as the daemon wires it (trackHostSessions and
// holdUntilConnected in src/main.ts):
// a replica that loses the OVSDB session to a host, or the OpenFlow
// connection of its switch, advertises a lowered priority for the networks
// that host has ports in, and a replica that still has the session takes
// their leadership. Replicas on the election simulation's fake clock; the
// planes and the fabric are fakes with the same events.
import t, { type Test } from 'tap';
import { holdUntilConnected, trackHostSessions, type HostSessionSources } from '../../../src/main.js';
import { Sim, type SimReplica } from './sim.js';

const WEB = 'acme/web';
const DB = 'acme/db';
const API = 'acme/api';
const NETWORKS = [WEB, DB, API];

/** One replica's view of the hosts: OVSDB sessions, connected switches and the fabric's ports. */
class FakeHosts {
  readonly ovsdbUp = new Set<string>();
  readonly switchesUp = new Set<bigint>();
  readonly dpids = new Map<string, bigint>();
  portList: { host: string; network?: string }[] = [];
  private readonly sessionWatchers: ((host: string, up: boolean) => void)[] = [];
  private readonly recomputeWatchers: (() => void)[] = [];
  private readonly switchWatchers: ((dpid: bigint) => void)[] = [];

  sources(): HostSessionSources {
    return {
      ovsdb: {
        connected: (host) => this.ovsdbUp.has(host),
        onHostSession: (fn) => (this.sessionWatchers.push(fn), () => undefined),
      },
      openflow: { connected: (dpid) => this.switchesUp.has(dpid), on: (_event, fn) => void this.switchWatchers.push(fn) },
      fabric: {
        dpidOf: (host) => this.dpids.get(host),
        ports: () => this.portList,
        onRecomputed: (fn) => (this.recomputeWatchers.push(fn), () => undefined),
      },
    };
  }

  host(name: string, dpid: bigint, networks: string[]): void {
    this.dpids.set(name, dpid);
    this.ovsdbUp.add(name);
    this.switchesUp.add(dpid);
    this.portList.push(...networks.map((network, i) => ({ host: name, network, name: `vnet${i}` })));
  }

  ovsdb(host: string, up: boolean): void {
    if (up) this.ovsdbUp.add(host);
    else this.ovsdbUp.delete(host);
    for (const w of this.sessionWatchers) w(host, up);
  }

  openflow(host: string, up: boolean): void {
    const dpid = this.dpids.get(host)!;
    if (up) this.switchesUp.add(dpid);
    else this.switchesUp.delete(dpid);
    for (const w of this.switchWatchers) w(dpid);
  }

  bindPort(host: string, network: string): void {
    this.portList = [...this.portList, { host, network }];
    for (const w of this.recomputeWatchers) w();
  }
}

/** Two replicas, a preferred (200) over b (180), each tracking its own view of hv1 (web) and hv2 (db). */
async function replicas(t: Test): Promise<{ sim: Sim; a: SimReplica; b: SimReplica; hostsA: FakeHosts; reports: string[] }> {
  const sim = await Sim.create(NETWORKS);
  t.teardown(() => sim.close());
  const reports: string[] = [];
  const views = new Map<string, FakeHosts>();
  for (const [id, priority] of [['replica-a', 200], ['replica-b', 180]] as const) {
    const r = await sim.add(id, { priority, trackWeight: 50 });
    const hosts = new FakeHosts();
    hosts.host('hv1', 1n, [WEB]);
    hosts.host('hv2', 2n, [DB]);
    views.set(id, hosts);
    t.teardown(trackHostSessions(hosts.sources(), (plane, host, up, networks) => {
      reports.push(`${id} ${plane}:${host} ${up ? 'up' : 'down'} ${networks.join(',')}`);
      r.service.track(`${plane}:${host}`, up, networks);
    }));
  }
  await sim.run(1000, NETWORKS);
  return { sim, a: sim.replicas.get('replica-a')!, b: sim.replicas.get('replica-b')!, hostsA: views.get('replica-a')!, reports };
}

const leaderOf = (sim: Sim, network: string) => sim.leaders(network).map((l) => l.id);
const priorityOf = (r: SimReplica, network: string) => r.service.leaders().find((l) => l.network === network)!.priority;
const advertisedBy = (r: SimReplica, peer: string, network: string) =>
  r.service.leaders().find((l) => l.network === network)!.peers.find((p) => p.replicaId === peer)?.priority;

t.test('with every session up nothing is reported and the preferred replica leads everything', async (t) => {
  const { sim, reports } = await replicas(t);
  t.same(reports, []);
  for (const n of NETWORKS) t.same(leaderOf(sim, n), ['replica-a'], n);
  t.same(sim.violations, []);
});

t.test('a replica whose OpenFlow connection to a host is down lowers that host\'s networks and loses them to one that has it', async (t) => {
  const { sim, a, b, hostsA, reports } = await replicas(t);
  hostsA.openflow('hv1', false);
  await sim.run(1000, NETWORKS);
  t.same(reports, ['replica-a openflow:hv1 down acme/web']);
  t.equal(priorityOf(a, WEB), 150, 'replica-a lowers acme/web by the track weight');
  t.equal(advertisedBy(b, 'replica-a', WEB), 150, 'and advertises it: replica-b sees 150');
  t.equal(priorityOf(a, DB), 200, 'acme/db, on hv2, keeps its priority');
  t.same(leaderOf(sim, WEB), ['replica-b'], 'replica-b, which has the switch, leads acme/web');
  t.same(leaderOf(sim, DB), ['replica-a'], 'replica-a still leads acme/db');
  hostsA.openflow('hv1', true);
  await sim.run(1000, NETWORKS);
  t.equal(priorityOf(a, WEB), 200);
  t.same(leaderOf(sim, WEB), ['replica-a'], 'the switch back, replica-a takes acme/web back (preempt)');
  t.same(reports.at(-1), 'replica-a openflow:hv1 up acme/web');
  t.same(sim.violations, []);
});

t.test('a replica whose OVSDB session to a host is down loses its networks, and a network new on that host is lowered too', async (t) => {
  const { sim, a, hostsA, reports } = await replicas(t);
  hostsA.ovsdb('hv2', false);
  await sim.run(1000, NETWORKS);
  t.same(reports, ['replica-a ovsdb:hv2 down acme/db']);
  t.same(leaderOf(sim, DB), ['replica-b']);
  t.equal(priorityOf(a, API), 200, 'acme/api has no port on hv2 yet');
  t.same(leaderOf(sim, API), ['replica-a']);
  hostsA.bindPort('hv2', API);
  await sim.run(1000, NETWORKS);
  t.same(reports.at(-1), 'replica-a ovsdb:hv2 down acme/api,acme/db', 'reported again with the new network');
  t.equal(priorityOf(a, API), 150);
  t.same(leaderOf(sim, API), ['replica-b'], 'replica-b takes the new network as well');
  t.same(leaderOf(sim, WEB), ['replica-a'], 'a network on a reachable host stays');
  hostsA.ovsdb('hv2', true);
  await sim.run(1000, NETWORKS);
  t.same(reports.at(-1), 'replica-a ovsdb:hv2 up acme/api,acme/db');
  for (const n of NETWORKS) t.same(leaderOf(sim, n), ['replica-a'], `${n} back with replica-a`);
  t.same(sim.violations, []);
});

t.test('both sessions of a host down lower its networks twice; a change that leaves the networks as they were reports nothing', async (t) => {
  const { sim, a, hostsA, reports } = await replicas(t);
  hostsA.ovsdb('hv1', false);
  hostsA.openflow('hv1', false);
  hostsA.bindPort('hv2', DB);
  await sim.run(1000, NETWORKS);
  t.same(reports, ['replica-a ovsdb:hv1 down acme/web', 'replica-a openflow:hv1 down acme/web']);
  t.equal(priorityOf(a, WEB), 100);
  t.same(sim.violations, []);
});

t.test('a starting replica holds its priority down until it has both sessions to every admitted host, or for the hold time', async (t) => {
  const hosts = new FakeHosts();
  hosts.dpids.set('hv1', 1n);
  hosts.dpids.set('hv2', 2n);
  const calls: boolean[] = [];
  const stop = holdUntilConnected(hosts.sources(), ['hv1', 'hv2'], (ok) => calls.push(ok), 60_000);
  t.teardown(stop);
  t.same(calls, [false], 'held from the start');
  hosts.ovsdb('hv1', true);
  hosts.openflow('hv1', true);
  hosts.ovsdb('hv2', true);
  t.same(calls, [false], 'hv2\'s switch has not connected yet');
  hosts.openflow('hv2', true);
  t.same(calls, [false, true], 'released once every admitted host has both sessions');
  hosts.openflow('hv2', false);
  hosts.openflow('hv2', true);
  t.same(calls, [false, true], 'and once only: from then on host tracking follows the sessions');

  const none: boolean[] = [];
  holdUntilConnected(new FakeHosts().sources(), [], (ok) => none.push(ok))();
  t.same(none, [false, true], 'no admitted host: nothing to wait for');

  const late: boolean[] = [];
  const stopLate = holdUntilConnected(new FakeHosts().sources(), ['hv9'], (ok) => late.push(ok), 20);
  t.teardown(stopLate);
  await new Promise((r) => setTimeout(r, 60));
  t.same(late, [false, true], 'a host that never connects holds it for the hold time only');
});
