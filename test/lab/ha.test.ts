// Issue 8 acceptance, in the lab of LAB.md: three `weft serve` replicas
// (separate processes on one 3-member ovsdb-server Raft cluster, adverts
// every 100 ms, nopreempt) manage two hypervisors; every hypervisor's
// manager and every bridge's controllers list all three, one of them (its
// flow writer) as OpenFlow MASTER. A VM gets its lease
// from the network's leader; kill -9 of that leader: another leads, DHCP is
// answered again, no acknowledged lease is lost and renewals keep their
// addresses; a graceful stop hands over; a dead cluster member stops
// nothing; replicas that come back leave the leader alone; kill -9 of the
// leader in the middle of 200 DORAs from perfdhcp: no address is leased or
// ACKed on the wire to two clients, no ACKed lease is lost, and perfdhcp is
// answered again; a replica cut off from its peers and the store steps down,
// nothing is leased twice, and healed it rejoins without a flap. Gaps and
// counts are reported, never asserted (no timing assertions).
import { type ChildProcess } from 'node:child_process';
import t from 'tap';
import { DHCP_MESSAGE_TYPE } from '../../protocols/dhcp/index.js';
import { cli } from '../harness/daemon.js';
import { Lab, type Vm } from '../harness/lab.js';
import { run, sleep, waitGone } from '../harness/proc.js';
import { LAB, requirement } from '../harness/require.js';
import type { LeaderRow } from '../integration/election-replicas.js';
import { LabReplicas } from './ha-replicas.js';
import { runDoras } from './dora.js';
import { capturedReplies, exchangeLeases, exchangeStats } from './perfdhcp.js';
import { controllers, dumpFlows, hvDiagnostics, STATIC_COOKIES, until } from './weft.js';

const NEEDS = { ...LAB, commands: [...LAB.commands, 'udhcpc', 'perfdhcp', 'tcpdump'] };
const NET = 'acme/web';
const RANGE: [string, string] = ['192.0.2.100', '192.0.2.199'];
// perfdhcp's network: a pool larger than its 200 clients, apart from acme/web's.
const BULK = 'acme/bulk';
const BULK_RANGE: [string, string] = ['198.51.100.10', '198.51.100.250'];
const INTERVAL_MS = 100;

const ipNum = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const inRange = (ip: string, [start, end] = RANGE): boolean => ipNum(ip) >= ipNum(start) && ipNum(ip) <= ipNum(end);

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

  // nopreempt, as an operator who wants no flap sets it: leadership moves
  // only on the failures the subtests cause, never because a replica came back.
  const set = await LabReplicas.start({ hypervisors: hvs, controllerIp, intervalMs: INTERVAL_MS, preempt: false });
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
  await weftCli(0, 'network', 'create', BULK, '--vlan', '55', '--subnet', '198.51.100.0/24', '--gateway', '198.51.100.1',
    '--dhcp-range', `${BULK_RANGE[0]}-${BULK_RANGE[1]}`, '--lease-time', '600');

  // The gateway answers ARP (udhcpc renews by unicast to the server identifier, the gateway).
  await lab.addVm(hv1, { tag: 11, mac: '02:00:00:0a:00:fe', ip: '192.0.2.1/24' });
  const a1 = await lab.addVm(hv1, { tag: 11, mac: '02:00:00:0a:00:01' });
  const a2 = await lab.addVm(hv2, { tag: 11, mac: '02:00:00:0a:00:02' });
  const late = [await lab.addVm(hv1, { tag: 11, mac: '02:00:00:0a:00:11' }), await lab.addVm(hv2, { tag: 11, mac: '02:00:00:0a:00:12' }), await lab.addVm(hv2, { tag: 11, mac: '02:00:00:0a:00:13' })];
  // Relays many clients' DORAs from its declared MAC and address, as perfdhcp does.
  const relay = await lab.addVm(hv1, { tag: 11, mac: '02:00:00:0a:00:05', ip: '192.0.2.5/24' });
  await hv1.ovs.vsctl('set', 'Interface', relay.port, `external_ids:attached-mac=${relay.mac}`);
  // perfdhcp's relay, on the other hypervisor.
  const bulkRelay = await lab.addVm(hv2, { tag: 55, mac: '02:00:00:0e:00:05', ip: '198.51.100.5/24' });
  await hv2.ovs.vsctl('set', 'Interface', bulkRelay.port, `external_ids:attached-mac=${bulkRelay.mac}`);

  // What an operator runs once per hypervisor: one manager target per replica.
  const managers = set.managers;
  for (const hv of hvs) {
    await hv.ovs.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=hv${hv.index}`, `external_ids:weft-encap-ip=${hv.underlayIp}`);
    await hv.ovs.vsctl('set-manager', ...managers);
  }

  const leases = async (network = NET): Promise<Lease[]> => (await set.rpc<{ leases: Lease[] }>(survivor(), 'lease.list', { network })).leases;
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
  const agreedLeader = (network = NET, expected?: number) =>
    until(`the live replicas to agree on ${network}'s leader`, async () => {
      const self = await set.selfLeaders(network);
      if (self.length !== 1 || (expected !== undefined && self[0] !== expected)) return undefined;
      const seen = await Promise.all(set.alive().map((i) => set.leaderSeenBy(i, network).then((r) => r?.leader)));
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

  /**
   * The replica that writes hv's flows, once leader.list (asked of a live
   * replica) and the bridge agree: of the connected controllers, its is
   * the one MASTER, the others EQUAL. OVS updates the role column a moment after a claim.
   */
  const flowWriter = (hv: (typeof hvs)[number]) =>
    until(`one flow writer of hv${hv.index}, OpenFlow MASTER`, async () => {
      const rows = (await set.rpc<{ flowWriters: { host: string; leader: string | null }[] }>(survivor(), 'leader.list')).flowWriters;
      const writer = rows.find((w) => w.host === `hv${hv.index}`)?.leader;
      const index = set.replicas.findIndex((r) => r.id === writer);
      if (index < 0 || !set.alive().includes(index)) return undefined;
      const c = (await controllers(hv)).filter((x) => x.connected);
      const masters = c.filter((x) => x.role === 'master');
      if (masters.length !== 1 || c.filter((x) => x.role === 'other').length !== c.length - 1) return undefined;
      return masters[0]!.target === set.controllerTargets[index] ? writer : undefined;
    }, 60_000);

  let up = false;
  await t.test('every hypervisor is managed by all three replicas, every bridge lists all three as controllers, one of them its flow writer', async (t) => {
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
      for (const hv of hvs) {
        const writer = await flowWriter(hv);
        t.pass(`hv${hv.index}'s bridge: ${writer} is the one MASTER (its flow writer, per leader.list), the other two EQUAL`);
      }
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
    for (const hv of hvs) t.pass(`hv${hv.index}'s bridge has one MASTER again, a live replica: ${await flowWriter(hv)}`);
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

  /** Starts every replica that was stopped again, and waits until each bridge has its session with it. */
  const restartStopped = async (): Promise<number[]> => {
    const stopped = set.replicas.flatMap((_, i) => (set.alive().includes(i) ? [] : [i]));
    for (const i of stopped) await set.startReplica(i);
    // A switch redials a controller it lost with a backoff (up to 8 s): until
    // it has, a restarted replica sees none of its packet-ins. The replica's
    // own log says when; the bridge's Controller rows lag and may still show
    // the session of the process that was stopped.
    for (const i of stopped) {
      await until(`both bridges connected to ${id(i)}`, () => (set.log(i).match(/"msg":"switch connected"/g) ?? []).length >= hvs.length, 60_000);
    }
    return stopped;
  };

  interface RoleChange { replica: number; network: string; role: string; reason: string | undefined; time: number }
  /** Where each replica's log ends now (0 for one that is stopped: it starts a new log). */
  const logEnds = () => set.replicas.map((_, i) => (set.alive().includes(i) ? set.log(i).length : 0));
  /** The changes of role each replica logged since `ends`. */
  const roleChanges = (ends: number[]): RoleChange[] =>
    set.replicas.flatMap((_, i) =>
      set.log(i).slice(ends[i]).split('\n').filter((l) => /^\{.*"msg":"election: (leader|backup)"/.test(l)).map((l) => {
        const j = JSON.parse(l) as { network: string; msg: string; reason?: string; time: string };
        return { replica: i, network: j.network, role: j.msg.slice('election: '.length), reason: j.reason, time: Date.parse(j.time) };
      }));
  const show = (c: RoleChange) => `${id(c.replica)} ${c.role} of ${c.network}${c.reason ? ` (${c.reason})` : ''} at ${new Date(c.time).toISOString()}`;
  // A flap deposes a leader: another replica claims a newer term while it
  // leads (what a preempting replica does), and the leader steps down for
  // that term. A leader whose term reads do not come back in time steps
  // down on its own ('unconfirmed'): on a loaded machine that happens
  // at any time, and the election after it is a fail-over, not a flap.
  const deposals = (cs: RoleChange[]) => cs.filter((c) => c.role === 'backup' && (c.reason === 'higher-term' || c.reason === 'fenced'));
  const ownStepDowns = (cs: RoleChange[]) => cs.filter((c) => c.role === 'backup' && c.reason === 'unconfirmed');

  await t.test('the member and the stopped replicas come back, and the leaders keep leading (nopreempt)', needsUp(), async (t) => {
    const before = [await agreedLeader(NET), await agreedLeader(BULK)];
    const ends = logEnds();
    if (member >= 0) {
      await set.cluster.startMember(member);
      await set.cluster.waitMember(member);
    }
    const back = await restartStopped();
    t.pass(`${back.map(id).join(' and ')} run again, beside all three cluster members`);
    // Time for a returning replica to claim, were it going to: many master-down intervals.
    await sleep(30 * INTERVAL_MS);
    const changes = roleChanges(ends);
    const own = ownStepDowns(changes);
    const firstOwn = Math.min(Infinity, ...own.map((c) => c.time));
    t.same(deposals(changes).map(show), [], 'no leader was deposed');
    t.same(changes.filter((c) => c.role === 'leader' && c.time < firstOwn).map(show), [], 'no replica took over from a leader that still led');
    if (own.length === 0) t.same([await agreedLeader(NET), await agreedLeader(BULK)], before, `${id(before[0]!)} still leads ${NET} and ${id(before[1]!)} ${BULK}, and all three say so`);
    else t.comment(`leaders stepped down on their own (its term reads did not come back in time), so others lead now: ${own.map(show).join('; ')}`);
  });

  await t.test('kill -9 of the leader in the middle of 200 DORAs from perfdhcp: no address leased or ACKed to two clients, no ACKed lease lost', needsUp(), async (t) => {
    const k = await agreedLeader(BULK);
    const boundBulk = async () => (await leases(BULK)).filter((l) => l.state === 'bound');
    // Every ACK that reached the relay, with the time it arrived: perfdhcp says neither which client an ACK was for nor when.
    const wire = await lab.capture(bulkRelay.netns, 'eth0', ['-Q', 'in', '-tt', '-xx', 'udp src port 67']);
    // 25 new DORAs a second for 8 s, from 200 client MACs (-R): the kill lands
    // with exchanges in every state, and more start while the survivors take over and after.
    let finished = false;
    const perf = bulkRelay
      .exec('perfdhcp', ['-4', '-l', 'eth0', '-b', 'mac=02:00:00:ee:00:00', '-R', '200', '-r', '25', '-n', '200', '-W', '3000000', '-x', 'l'], { timeout: 120_000, allowFailure: true })
      .finally(() => (finished = true));
    const atKill = await until('40 of its leases in the store', async () => {
      const n = (await boundBulk()).length;
      return n >= 40 ? n : undefined;
    }, 60_000, 50).catch(() => 0);
    const midway = !finished;
    const killedAt = Date.now();
    const since = performance.now();
    await set.kill(k, 'SIGKILL');
    t.ok(atKill >= 40 && midway, `killed ${id(k)}, ${BULK}'s leader, with ${atKill} leases stored and perfdhcp still running`);
    const next = await set.waitNewLeader(BULK, k, since);
    const tookOverAt = Date.now();
    t.comment(`fail-over gap under perfdhcp: ${next.gapMs.toFixed(0)} ms, ${id(next.index)} leads`);
    const r = await perf;
    // Replies still on their way when perfdhcp stopped waiting.
    await sleep(500);
    const out = `${r.stdout}\n${r.stderr}`;
    const { replies, undecoded } = capturedReplies(await wire.stop());
    t.same(undecoded, [], 'every DHCP frame the relay received decodes');
    const acks = replies.filter((m) => m.type === DHCP_MESSAGE_TYPE.ACK);
    const doo = exchangeStats(out, 'DISCOVER-OFFER');
    const ra = exchangeStats(out, 'REQUEST-ACK');
    t.equal(doo?.sent, 200, 'perfdhcp sent its 200 DISCOVERs', { diag: out.slice(-3000) });
    const before = acks.filter((a) => a.at! < killedAt);
    const after = acks.filter((a) => a.at! >= tookOverAt);
    t.comment(`ACKs on the wire: ${before.length} before the kill, ${acks.length - before.length - after.length} between the kill and the new leader, ${after.length} after; ` +
      `perfdhcp: ${doo?.drops} DISCOVER-OFFER and ${ra?.drops} REQUEST-ACK drops, ${ra?.received} ACKs in time`);
    t.ok(before.length > 0, 'the relay received ACKs before the kill');
    t.ok(after.length > 0, `and after the fail-over: ${id(next.index)} answers perfdhcp's later exchanges`);

    const ls = await leases(BULK);
    const store = ls.filter((l) => l.state === 'bound');
    t.same(duplicates(ls), [], 'the store binds no address to two clients');
    t.equal(new Set(store.map((l) => l.mac)).size, store.length, 'and holds each client once');
    t.ok(store.every((l) => inRange(l.ip, BULK_RANGE)), `all ${store.length} in the range`);
    const holder = new Map<string, string>();
    const twice = new Set<string>();
    for (const a of acks) {
      if (holder.has(a.yiaddr) && holder.get(a.yiaddr) !== a.chaddr) twice.add(`${a.yiaddr}: ${holder.get(a.yiaddr)} and ${a.chaddr}`);
      holder.set(a.yiaddr, a.chaddr);
    }
    t.same([...twice], [], 'no address was ACKed on the wire to two clients');
    // Should perfdhcp run a client's DORA twice, only its last ACK says what it holds (an earlier one, for another address, was given up by its new DISCOVER).
    const last = new Map(acks.map((a) => [a.chaddr, a.yiaddr]));
    const moved = [...last].filter(([mac, ip]) => acks.some((a) => a.chaddr === mac && a.yiaddr !== ip)).length;
    t.comment(`${acks.length} ACKs for ${last.size} clients; ${moved} clients were ACKed two different addresses`);
    const held = new Map(store.map((l) => [l.mac, l.ip]));
    t.same([...last].filter(([mac, ip]) => held.get(mac) !== ip).map(([mac, ip]) => `${mac} ${ip}`), [], 'every client ACKed on the wire is bound in the store to the address it was last ACKed');
    t.same(exchangeLeases(out, 'REQUEST-ACK').filter((ip) => !store.some((l) => l.ip === ip)), [], "every address in perfdhcp's own list of ACKed leases is in the store");
  });

  await t.test('a replica cut off from its peers and the store steps down, nothing is leased twice, and healed it rejoins without a flap (nopreempt)', needsUp(), async (t) => {
    await restartStopped();
    // A flap needs a healed replica that would take over if it could: the
    // best candidate (equal priorities: the largest id). So that is the one
    // cut off, and it leads first; nopreempt keeps whoever leads, so if
    // another does, it hands over by leaving gracefully (the best live
    // candidate takes its place) and comes back.
    const best = set.replicas.length - 1;
    const first = await agreedLeader();
    if (first !== best) {
      await set.kill(first, 'SIGTERM');
      await agreedLeader(NET, best);
      await restartStopped();
    }
    const k = await agreedLeader(NET, best);
    t.pass(`all three run; ${id(k)}, the best candidate, leads ${NET}${first === best ? '' : ` (${id(first)} led and handed over)`}`);
    const fullPriority = (await set.leaderSeenBy(k, NET))!.priority;

    const cutAt = performance.now();
    set.partition(k);
    // Whatever the cut-off replica says about itself from the moment it has
    // stopped answering, on its own API (which is not cut): it goes quiet
    // first (its term reads fail) and steps down a quiet grace later.
    let quietMs: number | undefined;
    let steppedDownMs: number | undefined;
    let lowestPriority = fullPriority;
    const claims: string[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const row = await set.leaderSeenBy(k, NET).catch(() => undefined);
        if (row) lowestPriority = Math.min(lowestPriority, row.priority);
        if (row && !row.answering && quietMs === undefined) quietMs = performance.now() - cutAt;
        if (row && row.role !== 'leader' && steppedDownMs === undefined) steppedDownMs = performance.now() - cutAt;
        if (row?.answering && quietMs !== undefined) claims.push(`answering at term ${row.term}`);
        if (row?.role === 'leader' && steppedDownMs !== undefined) claims.push(`leading at term ${row.term}`);
        await sleep(20);
      }
    })();
    let next = -1;
    let term = -1;
    let endsAtHeal: number[] = [];
    try {
      const n = await set.waitNewLeader(NET, k, cutAt);
      next = n.index;
      t.comment(`after the cut, ${id(next)} leads: ${n.gapMs.toFixed(0)} ms`);
      await until(`${id(k)} to step down`, () => steppedDownMs !== undefined, 60_000, 20);
      t.comment(`${id(k)} stopped answering ${quietMs!.toFixed(0)} ms after the cut and stepped down ${steppedDownMs!.toFixed(0)} ms after it`);
      const doras = runDoras(relay, { count: 20, prefix: '02:00:00:60', seconds: 60 });
      const r = await renew(daemons[0]!);
      await doras.done;
      t.equal(doras.acks.size, 20, 'while one replica is cut off, 20 new relayed DORAs are ACKed');
      t.same([r.event, r.ip], ['renew', acknowledged.get(a1.mac)], 'and a renewal keeps its address', { udhcpc: daemons[0]!.output, events: a1.dhcpEvents('udhcpc') });
      t.equal(new Set(doras.acks.values()).size, 20, 'with 20 different addresses');
      for (const [mac, ip] of doras.acks) acknowledged.set(mac, ip);
      const others = set.alive().filter((i) => i !== k);
      t.same(await Promise.all(others.map((i) => set.leaderSeenBy(i, NET).then((x) => x?.leader))), others.map(() => id(next)), 'the replicas on the majority side agree on the new leader');
      term = (await set.leaderSeenBy(next, NET))!.term;
    } finally {
      watching = false;
      await watch;
      endsAtHeal = logEnds();
      set.heal();
    }
    const healedAt = performance.now();
    const healedAtEpoch = Date.now();
    t.same(claims, [], `${id(k)} never answered while cut off once it had gone quiet, nor led once it had stepped down`);
    t.match(set.log(k), /"reason":"(unconfirmed|higher-term)","msg":"election: backup"/, `${id(k)} logged its step-down`);
    t.ok(set.adverts.dropped > 0, `the cut dropped ${set.adverts.dropped} adverts`);
    t.ok(id(k) > id(next), `${id(k)} outranks ${id(next)} (equal priorities, larger id): with preempt it would take over once healed`);

    // Every replica's view, every 20 ms: until the healed replica is back at
    // its full priority (its store check recovered; from then on a preempting
    // replica would take over at once), and 30 advert intervals more. Each
    // sample is judged only while the leader has not stepped down on its own.
    const samples: { at: number; rows: (readonly [number, LeaderRow | undefined])[] }[] = [];
    let backAtMs: number | undefined;
    for (;;) {
      const rows = await Promise.all(set.alive().map(async (i) => [i, await set.leaderSeenBy(i, NET)] as const));
      const at = performance.now() - healedAt;
      samples.push({ at: Date.now(), rows });
      const kRow = rows.find(([i]) => i === k)?.[1];
      if (backAtMs === undefined && kRow && kRow.priority >= fullPriority) backAtMs = at;
      if (backAtMs !== undefined && at - backAtMs >= 30 * INTERVAL_MS) break;
      if (at > 60_000) break;
      await sleep(20);
    }
    t.ok(backAtMs !== undefined, `${id(k)} is back at priority ${fullPriority}`);
    const changes = roleChanges(endsAtHeal);
    const own = ownStepDowns(changes);
    const firstOwn = Math.min(Infinity, ...own.map((c) => c.time));
    const judged = samples.filter((x) => x.at < firstOwn);
    t.comment(`${id(k)}'s priority fell to ${lowestPriority} while cut off (its store check failed) and was back at ${fullPriority} ${backAtMs?.toFixed(0)} ms after the heal; ` +
      `${samples.length} samples of all three replicas' leader.list${own.length ? `, ${judged.length} of them before a leader stepped down on its own ${firstOwn - healedAtEpoch} ms after the heal (its term reads did not come back in time; after that only the logs judge): ${own.map(show).join('; ')}` : ''}`);
    const flaps = judged.flatMap(({ at, rows }) =>
      rows.flatMap(([i, row]) => {
        const seen = `${new Date(at).toISOString()}, ${id(i)}`;
        if (i === next && (row?.role !== 'leader' || row.term !== term)) return [`${seen} is ${row?.role} at term ${row?.term}`];
        if (i !== next && row?.role === 'leader') return [`${seen} leads at term ${row.term}`];
        if (row?.leader && row.leader !== id(next)) return [`${seen} names ${row.leader} the leader`];
        return [];
      }));
    t.same(flaps, [], `${id(next)} kept leading at term ${term}, and ${id(k)} never reported itself leader`);
    t.same(deposals(changes).map(show), [], 'no leader was deposed after the heal');
    t.same(changes.filter((c) => c.role === 'leader' && c.time < firstOwn).map(show), [], 'no replica took over from a leader that still led');

    const healed = await agreedLeader();
    if (own.length === 0) t.equal(healed, next, `all three name ${id(next)} the leader`);
    else t.comment(`all three name ${id(healed)} the leader`);
    const ls = await leases();
    t.same(duplicates(ls), [], 'no address is leased twice');
    const stored = bound(ls);
    t.same([...acknowledged].filter(([mac, addr]) => stored.get(mac) !== addr), [], 'every acknowledged lease is in the store with its address');
    const again = runDoras(relay, { count: 5, prefix: '02:00:00:61', seconds: 60 });
    await again.done;
    t.equal(again.acks.size, 5, 'DORAs are answered after the heal');
    t.same(duplicates(await leases()), [], 'and still no address is leased twice');
    // How often a late term read paused a leader (reported, not judged: it depends on the machine's load).
    const quiet = set.alive().map((i) => `${id(i)} ${(set.log(i).match(/"msg":"election: term not confirmed in time/g) ?? []).length}`);
    t.comment(`leaders gone quiet (a term read late), in each running replica's log: ${quiet.join(', ')}`);
  });
});
