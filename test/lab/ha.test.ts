// Issue 8 acceptance, in the lab of LAB.md: three `weft serve` replicas
// (separate processes on one 3-member ovsdb-server Raft cluster, adverts
// every 100 ms) manage two hypervisors; every hypervisor's manager and every
// bridge's controllers list all three. A VM gets its lease from the
// network's leader; kill -9 of that leader: another leads, DHCP is answered
// again, no acknowledged lease is lost and renewals keep their addresses; a
// graceful stop hands over; a dead cluster member stops nothing; a replica
// cut off from its peers and the store steps down and nothing is leased
// twice. Gaps are reported, never asserted (no timing assertions).
import { type ChildProcess } from 'node:child_process';
import t from 'tap';
import { cli } from '../harness/daemon.js';
import { Lab, type Vm } from '../harness/lab.js';
import { run, sleep, waitGone } from '../harness/proc.js';
import { LAB, requirement } from '../harness/require.js';
import { LabReplicas } from './ha-replicas.js';
import { runDoras } from './dora.js';
import { controllers, dumpFlows, hvDiagnostics, STATIC_COOKIES, until } from './weft.js';

const NEEDS = { ...LAB, commands: [...LAB.commands, 'udhcpc'] };
const NET = 'acme/web';
const RANGE: [string, string] = ['192.0.2.100', '192.0.2.199'];
const INTERVAL_MS = 100;

const ipNum = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const inRange = (ip: string): boolean => ipNum(ip) >= ipNum(RANGE[0]) && ipNum(ip) <= ipNum(RANGE[1]);

interface Lease {
  tenant: string;
  network: string;
  ip: string;
  mac: string;
  state: string;
  expiresAt: number;
}

/** udhcpc as a daemon (no -q): it stays bound and renews on SIGUSR1. */
interface Udhcpcd {
  child: ChildProcess;
  vm: Vm;
  /** What it printed, for failure messages. */
  output: string;
}

t.test('three replicas on a clustered store serve the lab\'s DHCP and fail over', requirement(NEEDS), async (t) => {
  const lab = await Lab.create({ t });
  const hv1 = await lab.addHypervisor({ mgmt: true });
  const hv2 = await lab.addHypervisor({ mgmt: true });
  const hvs = [hv1, hv2];
  // A hypervisor reaches every replica at one address: the root side of the
  // first management link (the root namespace owns it, so no forwarding is
  // involved). In production each replica has an address of its own; here
  // they share the root namespace and differ by port.
  const controllerIp = hv1.mgmt!.controllerIp;
  await run('ip', ['-n', hv2.netns, 'route', 'add', `${controllerIp}/32`, 'via', hv2.mgmt!.controllerIp]);

  const set = await LabReplicas.start({ hypervisors: hvs, controllerIp, intervalMs: INTERVAL_MS });
  t.teardown(() => set.teardown());
  // On a failure, what each replica logged (its election and store lines say who led when).
  t.teardown(() => {
    if (t.passing()) return;
    for (const [i, r] of set.replicas.entries()) {
      const lines = set.log(i).split('\n').filter((l) => /"election: |"store: |"level":"(warn|error|fatal)"/.test(l));
      console.error(`=== ${r.id}\n${lines.slice(-60).join('\n')}`);
    }
  });
  const id = (i: number) => set.replicas[i]!.id;
  const weftCli = (i: number, ...args: string[]) => run(process.execPath, [cli, ...args, '--api', `${set.replicas[i]!.api}/rpc`, '--token', set.token], { timeout: 60_000 });
  const survivor = () => set.alive()[0]!;
  const diag = async () => {
    const parts = await Promise.all(hvs.map(hvDiagnostics));
    const logs = set.replicas.map((r, i) => `=== ${r.id}\n${set.log(i).split('\n').slice(-40).join('\n')}`);
    return `${parts.join('\n')}\n${logs.join('\n')}`;
  };

  await weftCli(0, 'tenant', 'create', 'acme');
  await weftCli(0, 'network', 'create', NET, '--vlan', '11', '--subnet', '192.0.2.0/24', '--gateway', '192.0.2.1',
    '--dhcp-range', `${RANGE[0]}-${RANGE[1]}`, '--lease-time', '600');

  // The gateway answers ARP (udhcpc renews by unicast to the server identifier, the gateway).
  await lab.addVm(hv1, { tag: 11, mac: '02:00:00:0a:00:fe', ip: '192.0.2.1/24' });
  const a1 = await lab.addVm(hv1, { tag: 11, mac: '02:00:00:0a:00:01' });
  const a2 = await lab.addVm(hv2, { tag: 11, mac: '02:00:00:0a:00:02' });
  const late = [await lab.addVm(hv1, { tag: 11, mac: '02:00:00:0a:00:11' }), await lab.addVm(hv2, { tag: 11, mac: '02:00:00:0a:00:12' }), await lab.addVm(hv2, { tag: 11, mac: '02:00:00:0a:00:13' })];
  // Relays many clients' DORAs from its declared MAC and address, as perfdhcp does.
  const relay = await lab.addVm(hv1, { tag: 11, mac: '02:00:00:0a:00:05', ip: '192.0.2.5/24' });
  await hv1.ovs.vsctl('set', 'Interface', relay.port, `external_ids:attached-mac=${relay.mac}`);

  // What an operator runs once per hypervisor: one manager target per replica.
  const managers = set.managers;
  for (const hv of hvs) {
    await hv.ovs.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=hv${hv.index}`, `external_ids:weft-encap-ip=${hv.underlayIp}`);
    await hv.ovs.vsctl('set-manager', ...managers);
  }

  const leases = async (): Promise<Lease[]> => (await set.rpc<{ leases: Lease[] }>(survivor(), 'lease.list', { network: NET })).leases;
  const bound = (ls: Lease[]) => new Map(ls.filter((l) => l.state === 'bound').map((l) => [l.mac, l.ip]));
  /** Addresses held by two live leases: must stay empty. */
  const duplicates = (ls: Lease[]): string[] => {
    const seen = new Map<string, string>();
    const dup: string[] = [];
    for (const l of ls) {
      if (l.state !== 'bound' || l.expiresAt < Date.now()) continue;
      if (seen.has(l.ip) && seen.get(l.ip) !== l.mac) dup.push(`${l.ip}: ${seen.get(l.ip)} and ${l.mac}`);
      seen.set(l.ip, l.mac);
    }
    return dup;
  };
  /** The replica every live replica names as the network's leader, once they agree and it says it leads. */
  const agreedLeader = (expected?: number) =>
    until(`the live replicas to agree on ${NET}'s leader`, async () => {
      const self = await set.selfLeaders(NET);
      if (self.length !== 1 || (expected !== undefined && self[0] !== expected)) return undefined;
      const seen = await Promise.all(set.alive().map((i) => set.leaderSeenBy(i, NET).then((r) => r?.leader)));
      return seen.every((l) => l === id(self[0]!)) ? self[0]! : undefined;
    }, 60_000, 50);

  const daemons: Udhcpcd[] = [];
  t.teardown(async () => {
    for (const d of daemons) d.child.kill('SIGTERM');
    await Promise.all(daemons.map((d) => (d.child.pid ? waitGone(d.child.pid, 3000) : undefined)));
  });
  const startUdhcpcd = async (v: Vm): Promise<Udhcpcd> => {
    const before = v.dhcpEvents('udhcpc').length;
    const child = lab.spawnIn(v.netns, 'udhcpc', ['-i', 'eth0', '-f', '-t', '10', '-T', '2', '-A', '2', '-s', lab.script('udhcpc')]);
    const d = { child, vm: v, output: '' };
    child.stdout!.setEncoding('utf8').on('data', (x: string) => (d.output += x));
    child.stderr!.setEncoding('utf8').on('data', (x: string) => (d.output += x));
    daemons.push(d);
    await until(`vm${v.index}'s udhcpc to be bound`, () => v.dhcpEvents('udhcpc').slice(before).includes('bound'), 60_000);
    return d;
  };
  /** SIGUSR1: udhcpc renews. Resolves with the script's next event and the address it then holds. */
  const renew = async (d: Udhcpcd): Promise<{ event: string; ip: string | undefined }> => {
    const before = d.vm.dhcpEvents('udhcpc').length;
    d.child.kill('SIGUSR1');
    const event = await until(`vm${d.vm.index}'s renewal`, () => d.vm.dhcpEvents('udhcpc')[before], 60_000);
    return { event, ip: d.vm.dhcpEnv('udhcpc')?.ip };
  };
  /** A new client's DORA, then its lease as the store holds it. */
  const dora = async (v: Vm): Promise<string> => {
    const ip = await v.udhcpc({ tries: 10, timeout: 2 });
    await until(`vm${v.index}'s lease in the store`, async () => bound(await leases()).get(v.mac) === ip, 30_000);
    return ip;
  };

  let up = false;
  await t.test('every hypervisor is managed by all three replicas, every bridge lists all three as controllers', async (t) => {
    try {
      const targets = [...set.controllerTargets].sort();
      for (const hv of hvs) {
        await until(`hv${hv.index}'s bridge connected to all three replicas`, async () => {
          const c = await controllers(hv);
          return c.length === 3 && c.every((x) => x.connected) && JSON.stringify(c.map((x) => x.target).sort()) === JSON.stringify(targets);
        }, 60_000);
        const managed = JSON.parse(await hv.ovs.vsctl('--format=json', '--columns=target,is_connected', 'list', 'Manager')) as { data: [string, boolean][] };
        t.same(managed.data.filter(([, c]) => c).map(([x]) => x).sort(), [...managers].sort(), `hv${hv.index}'s ovsdb-server is connected to all three replicas`);
        await until(`weft's DHCP interception on hv${hv.index}`, async () => {
          const flows = await dumpFlows(hv, STATIC_COOKIES);
          return flows.some((f) => f.table === 20 && /CONTROLLER/.test(f.actions));
        }, 60_000);
      }
      t.pass('both bridges have three connected controllers, one per replica, and weft\'s pipeline');
      up = true;
    } catch (e) {
      t.fail(String(e), { diag: await diag() });
    }
  });
  const needsUp = () => (up ? {} : { skip: 'the lab is not managed (see the first failure)' });

  let leader = -1;
  const acknowledged = new Map<string, string>();
  let relayed = new Map<string, string>();
  await t.test('VMs get leases from the network\'s leader, and the store holds them', needsUp(), async (t) => {
    leader = await agreedLeader();
    t.pass(`${id(leader)} leads ${NET}, and every replica says so (leader.list)`);
    for (const v of [a1, a2]) {
      await startUdhcpcd(v);
      const ip = v.dhcpEnv('udhcpc')!.ip!;
      t.ok(inRange(ip), `vm${v.index} on hv${v.hv.index} bound ${ip}`);
      t.equal(v.dhcpEnv('udhcpc')!.serverid, '192.0.2.1', 'from weft (the server identifier is the gateway)');
      acknowledged.set(v.mac, ip);
    }
    const doras = runDoras(relay, { count: 30, prefix: '02:00:00:5e', seconds: 60 });
    await doras.done;
    t.equal(doras.acks.size, 30, '30 relayed DORAs were ACKed');
    relayed = doras.acks;
    for (const [mac, ip] of relayed) acknowledged.set(mac, ip);
    const stored = bound(await leases());
    t.same([...acknowledged].filter(([mac, ip]) => stored.get(mac) !== ip), [], 'every acknowledged lease is in the store with its address');
    t.same(duplicates(await leases()), [], 'no address is leased twice');
    const led = await set.rpc<{ replica: { leads: number } }>(leader, 'status');
    t.ok(led.replica.leads >= 1, `${id(leader)}'s status says it leads ${led.replica.leads} network(s)`);
  });

  await t.test('kill -9 of the leader: another replica leads, DHCP is answered, no lease is lost, renewals keep their addresses', needsUp(), async (t) => {
    if (leader < 0) return t.fail('no leader');
    const killedAt = performance.now();
    await set.kill(leader, 'SIGKILL');
    const next = await set.waitNewLeader(NET, leader, killedAt);
    t.comment(`fail-over gap after kill -9 at a ${INTERVAL_MS} ms advert interval: ${next.gapMs.toFixed(0)} ms (first survivor's leader.list naming itself)`);
    t.not(next.index, leader, `${id(next.index)} leads now`);
    const asked = performance.now();
    const { event, ip } = await renew(daemons[0]!);
    t.comment(`renewal answered ${(performance.now() - asked).toFixed(0)} ms after the new leader was seen`);
    t.equal(event, 'renew', 'a renewal right after the fail-over is ACKed');
    t.equal(ip, acknowledged.get(a1.mac), `and keeps ${acknowledged.get(a1.mac)}`);
    const r2 = await renew(daemons[1]!);
    t.equal(r2.event, 'renew', 'the VM on the other hypervisor renews too');
    t.equal(r2.ip, acknowledged.get(a2.mac), `and keeps ${acknowledged.get(a2.mac)}`);
    const ipNew = await dora(late[0]!);
    t.ok(inRange(ipNew), `a new VM's DORA is answered: ${ipNew}`);
    const stored = bound(await leases());
    t.same([...acknowledged].filter(([mac, addr]) => stored.get(mac) !== addr), [], 'every lease acknowledged before the kill is in the store with its address');
    const again = runDoras(relay, { count: 30, prefix: '02:00:00:5e', seconds: 60 });
    await again.done;
    t.same([...relayed].filter(([mac, addr]) => again.acks.get(mac) !== addr), [], 'the 30 relayed clients, asking again, keep their addresses');
    t.same(duplicates(await leases()), [], 'no address is leased twice');
    leader = (await agreedLeader());
    t.equal(leader, next.index, 'the survivors agree on the new leader');
  });

  await t.test('graceful stop of the leader hands over', needsUp(), async (t) => {
    if (leader < 0) return t.fail('no leader');
    const stoppedAt = performance.now();
    const exit = await set.kill(leader, 'SIGTERM');
    t.equal(exit.code, 0, `${id(leader)} exits cleanly`);
    const next = await set.waitNewLeader(NET, leader, stoppedAt);
    t.comment(`handover gap after SIGTERM at a ${INTERVAL_MS} ms advert interval: ${next.gapMs.toFixed(0)} ms (includes the stopping daemon's own shutdown)`);
    t.match(set.log(leader), /"reason":"shutdown"/, 'the stopped leader logged its step-down');
    const ip = await dora(late[1]!);
    t.ok(inRange(ip), `the last replica answers a new VM's DORA: ${ip}`);
    const r = await renew(daemons[0]!);
    t.same([r.event, r.ip], ['renew', acknowledged.get(a1.mac)], 'and renewals, with the same address');
    leader = next.index;
  });

  let member = -1;
  await t.test('kill -9 of a cluster member stops nothing', needsUp(), async (t) => {
    member = await set.cluster.leader();
    await set.cluster.kill(member);
    t.pass(`killed ${set.cluster.members[member]!.name}, the cluster's Raft leader`);
    const ip = await dora(late[2]!);
    t.ok(inRange(ip), `a new VM's DORA is answered and stored: ${ip}`);
    const r = await renew(daemons[1]!);
    t.same([r.event, r.ip], ['renew', acknowledged.get(a2.mac)], 'a renewal keeps its address');
    const doras = runDoras(relay, { count: 10, prefix: '02:00:00:5f', seconds: 60 });
    await doras.done;
    t.equal(doras.acks.size, 10, '10 more relayed DORAs are ACKed');
    const stored = bound(await leases());
    t.same([...acknowledged].filter(([mac, addr]) => stored.get(mac) !== addr), [], 'every acknowledged lease is still in the store');
    t.same(duplicates(await leases()), [], 'no address is leased twice');
    t.equal((await set.selfLeaders(NET)).length, 1, 'one replica leads');
  });

  await t.test('a replica cut off from its peers and the store steps down, and nothing is leased twice', needsUp(), async (t) => {
    // Everything back first: the member, then the two replicas that were stopped.
    if (member >= 0) {
      await set.cluster.startMember(member);
      await set.cluster.waitMember(member);
    }
    for (const [i] of set.replicas.entries()) if (!set.alive().includes(i)) await set.startReplica(i);
    // A switch redials a controller it lost with a backoff (up to 8 s): until it has, the restarted replica sees none of its packet-ins.
    for (const hv of hvs) {
      await until(`hv${hv.index}'s bridge connected to all three replicas again`, async () => (await controllers(hv)).filter((c) => c.connected).length === 3, 60_000);
    }
    // Equal priorities, preempt on: the larger id leads once it is back (waiting for that keeps the cut from racing its takeover).
    const k = await agreedLeader(set.replicas.length - 1);
    t.pass(`all three run again; ${id(k)} leads ${NET}`);

    const cutAt = performance.now();
    set.partition(k);
    // Whatever the cut-off replica says about itself from the moment it has stepped down, on its own API (which is not cut).
    let steppedDownMs: number | undefined;
    const claims: string[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const row = await set.leaderSeenBy(k, NET).catch(() => undefined);
        if (row && row.role !== 'leader' && steppedDownMs === undefined) steppedDownMs = performance.now() - cutAt;
        if (row?.role === 'leader' && steppedDownMs !== undefined) claims.push(`term ${row.term}`);
        await sleep(20);
      }
    })();
    try {
      const next = await set.waitNewLeader(NET, k, cutAt);
      t.comment(`after the cut, ${id(next.index)} leads: ${next.gapMs.toFixed(0)} ms`);
      await until(`${id(k)} to step down`, () => steppedDownMs !== undefined, 60_000, 20);
      t.comment(`${id(k)} stepped down ${steppedDownMs!.toFixed(0)} ms after the cut`);
      const doras = runDoras(relay, { count: 20, prefix: '02:00:00:60', seconds: 60 });
      const r = await renew(daemons[0]!);
      await doras.done;
      t.equal(doras.acks.size, 20, 'while one replica is cut off, 20 new relayed DORAs are ACKed');
      t.same([r.event, r.ip], ['renew', acknowledged.get(a1.mac)], 'and a renewal keeps its address', { udhcpc: daemons[0]!.output, events: a1.dhcpEvents('udhcpc') });
      t.equal(new Set(doras.acks.values()).size, 20, 'with 20 different addresses');
      for (const [mac, ip] of doras.acks) acknowledged.set(mac, ip);
      const others = set.alive().filter((i) => i !== k);
      t.same(await Promise.all(others.map((i) => set.leaderSeenBy(i, NET).then((x) => x?.leader))), others.map(() => id(next.index)), 'the replicas on the majority side agree on the new leader');
    } finally {
      watching = false;
      await watch;
      set.heal();
    }
    t.same(claims, [], `${id(k)} never claimed to lead while cut off, once it had stepped down`);
    t.match(set.log(k), /"reason":"(unconfirmed|higher-term)","msg":"election: backup"/, `${id(k)} logged its step-down`);
    t.ok(set.adverts.dropped > 0, `the cut dropped ${set.adverts.dropped} adverts`);

    const healed = await agreedLeader();
    t.pass(`healed: ${id(healed)} leads, and all three say so`);
    const ls = await leases();
    t.same(duplicates(ls), [], 'no address is leased twice');
    const stored = bound(ls);
    t.same([...acknowledged].filter(([mac, addr]) => stored.get(mac) !== addr), [], 'every acknowledged lease is in the store with its address');
    const again = runDoras(relay, { count: 5, prefix: '02:00:00:61', seconds: 60 });
    await again.done;
    t.equal(again.acks.size, 5, 'DORAs are answered after the heal');
    t.same(duplicates(await leases()), [], 'and still no address is leased twice');
  });
});
