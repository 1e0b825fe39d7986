// The weft side of `npm run bench -- ha`, in the namespace lab: three
// `weft serve` replicas (LabReplicas of test/lab/ha-replicas.ts: one
// 3-member ovsdb-server Raft cluster, every replica a manager of both
// hypervisors and a controller of both bridges) at one advert interval, a
// network with a DHCP range, three VMs: a pinger on hv1, its target on hv2
// (static addresses outside the range) and a DHCP client on hv2 (no
// address). Per trial, with the DHCP probe and a 10 ms ping running, kill -9
// of the network's leader, then three gaps from the kill: the first DHCP
// reply to a DISCOVER sent after it (only a live replica can send that),
// the longest wait between two ping replies (the flows in the switches are
// not the controller's to lose), and another replica's leader.list naming
// itself. Between trials the killed replica starts again and the next trial
// waits until both switches are connected to all three replicas again (they
// redial with a backoff of up to 8 s) and all three agree on one leader.
// Over the whole run, kills, restarts and the preemptions after them, the
// DISCOVERs answered more than once, each with the kill or restart it
// followed. A helper module: it exports no run().
import { cli } from '../harness/daemon.js';
import { Lab, type Hypervisor } from '../harness/lab.js';
import { run, sleep, until } from '../harness/proc.js';
import { LabReplicas } from '../lab/ha-replicas.js';
import { controllers, dumpFlows, STATIC_COOKIES } from '../lab/weft.js';
import { DhcpProbe, monotonicMs, Ping } from './ha-probes.js';

const NET = 'acme/web';
const TAG = 11;
const PINGER = '192.0.2.11';
const TARGET = '192.0.2.12';
/** How long the ping goes on after the fail-over has been seen, so that a late loss would show. */
const PING_AFTER_MS = 500;

export interface WeftTrial {
  dhcpGapMs: number;
  pingGapMs: number;
  pingLost: number;
  pingSpacingMs: number;
  /** When the longest wait between ping replies began, ms from the kill (negative: before it). */
  pingGapStartMs: number;
  leaderGapMs: number;
}

export interface WeftLabFigures {
  intervalMs: number;
  trials: WeftTrial[];
  /** Trials run again because the leader changed before the kill. */
  discarded: number;
  /** DISCOVERs sent over the whole run (trials, restarts, preemptions), how many were answered, how many twice or more. */
  requests: number;
  answered: number;
  twoAnswers: number;
  /** Each request answered twice: the last kill or restart before it was sent, and how far apart its replies came. */
  twoAnswersSeen: string[];
}

/** Every switch has a session with every replica: all three controllers and managers connected. */
async function allSessions(hvs: Hypervisor[], count: number): Promise<boolean> {
  for (const hv of hvs) {
    if ((await controllers(hv)).filter((c) => c.connected).length !== count) return false;
    const managers = JSON.parse(await hv.ovs.vsctl('--format=json', '--columns=is_connected', 'list', 'Manager')) as { data: [boolean][] };
    if (managers.data.filter(([c]) => c).length !== count) return false;
  }
  return true;
}

/** The priority every replica runs at (weft's default): lower means a startup hold or a failed tracked check. */
const FULL_PRIORITY = 100;

/**
 * The replica that says it leads the network, once every live replica
 * names it and runs at full priority: a restarted replica holds its
 * priority down until its switches have redialled it, and preempts once it
 * has them, so until then the leader is about to change and a kill could
 * hit a replica that no longer leads.
 */
function agreedLeader(set: LabReplicas): Promise<number> {
  return until(`the replicas to agree on ${NET}'s leader`, async () => {
    const self = await set.selfLeaders(NET);
    if (self.length !== 1) return undefined;
    const rows = await Promise.all(set.alive().map((i) => set.leaderSeenBy(i, NET)));
    const agreed = rows.every((r) => r?.leader === set.replicas[self[0]!]!.id && r.priority === FULL_PRIORITY);
    return agreed ? self[0]! : undefined;
  }, 60_000, 50);
}

export async function measureWeftLab(intervalMs: number, trials: number): Promise<WeftLabFigures> {
  const lab = await Lab.create();
  try {
    const hv1 = await lab.addHypervisor({ mgmt: true });
    const hv2 = await lab.addHypervisor({ mgmt: true });
    const hvs = [hv1, hv2];
    // As in test/lab/ha.test.ts: every replica is reached at the root side of hv1's management link.
    const controllerIp = hv1.mgmt!.controllerIp;
    await run('ip', ['-n', hv2.netns, 'route', 'add', `${controllerIp}/32`, 'via', hv2.mgmt!.controllerIp]);
    const set = await LabReplicas.start({ hypervisors: hvs, controllerIp, intervalMs });
    try {
      const weftCli = (...args: string[]) => run(process.execPath, [cli, ...args, '--api', `${set.replicas[0]!.api}/rpc`, '--token', set.token], { timeout: 60_000 });
      await weftCli('tenant', 'create', 'acme');
      await weftCli('network', 'create', NET, '--vlan', String(TAG), '--subnet', '192.0.2.0/24', '--gateway', '192.0.2.1',
        '--dhcp-range', '192.0.2.100-192.0.2.199', '--lease-time', '600');
      const pinger = await lab.addVm(hv1, { tag: TAG, ip: `${PINGER}/24` });
      await lab.addVm(hv2, { tag: TAG, ip: `${TARGET}/24` });
      const client = await lab.addVm(hv2, { tag: TAG });
      for (const hv of hvs) {
        await hv.ovs.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=hv${hv.index}`, `external_ids:weft-encap-ip=${hv.underlayIp}`);
        await hv.ovs.vsctl('set-manager', ...set.managers);
      }
      await until('both switches connected to all three replicas', () => allSessions(hvs, 3), 60_000);
      for (const hv of hvs) {
        await until(`weft's DHCP interception on hv${hv.index}`, async () => (await dumpFlows(hv, STATIC_COOKIES)).some((f) => f.table === 20 && /CONTROLLER/.test(f.actions)), 60_000);
      }

      const probe = DhcpProbe.start(client);
      // Kills and restarts (monotonic ms), to tell which one a request answered twice followed.
      const marks: { at: number; what: string }[] = [];
      try {
        const out: WeftTrial[] = [];
        let discarded = 0;
        for (let trial = 0; trial < trials; trial++) {
          const leader = await agreedLeader(set);
          // The leader serves the probe before it is killed.
          await probe.firstAnswerAfter(monotonicMs());
          const ping = Ping.start(pinger.netns, TARGET);
          let gaps: { dhcpGapMs: number; leaderGapMs: number };
          let killedWall = 0;
          try {
            await ping.warm(20);
            // Let a few adverts go by so the kill lands at a random point of the interval.
            await sleep(intervalMs * 2 + Math.random() * intervalMs);
            // Leadership can move meanwhile (a loaded machine's late term read): such a kill would time nothing.
            const still = await set.selfLeaders(NET);
            if (still.length !== 1 || still[0] !== leader) {
              await ping.stop();
              discarded++;
              process.stderr.write(`bench ha: weft, interval ${intervalMs} ms: leadership moved from ${set.replicas[leader]!.id} before the kill; trial ${trial + 1} again\n`);
              trial--;
              continue;
            }
            const killedPerf = performance.now();
            const killedAt = monotonicMs();
            marks.push({ at: killedAt, what: `kill -9 of ${set.replicas[leader]!.id}` });
            killedWall = Date.now();
            const killed = set.kill(leader, 'SIGKILL');
            const [answer, next] = await Promise.all([probe.firstAnswerAfter(killedAt), set.waitNewLeader(NET, leader, killedPerf)]);
            await killed;
            gaps = { dhcpGapMs: Math.round(answer - killedAt), leaderGapMs: Math.round(next.gapMs) };
            await sleep(PING_AFTER_MS);
          } catch (e) {
            await ping.stop().catch(() => undefined);
            throw e;
          }
          const pinged = await ping.stop();
          const t = { ...gaps, pingGapMs: pinged.largestGapMs, pingLost: pinged.lost, pingSpacingMs: pinged.medianGapMs, pingGapStartMs: Math.round(pinged.largestGapFrom - killedWall) };
          out.push(t);
          process.stderr.write(`bench ha: weft, interval ${intervalMs} ms, trial ${trial + 1}: DHCP ${t.dhcpGapMs} ms, ping ${t.pingGapMs} ms (${t.pingLost} lost of ${pinged.sent}), leader.list ${t.leaderGapMs} ms\n`);
          marks.push({ at: monotonicMs(), what: `restart of ${set.replicas[leader]!.id}` });
          await set.startReplica(leader);
          await until('both switches connected to all three replicas again', () => allSessions(hvs, 3), 60_000);
        }
        const twice = probe.twoAnswers();
        const twoAnswersSeen = twice.map(({ sentAt, repliesAt }) => {
          const mark = marks.filter((m) => m.at <= sentAt).pop();
          const apart = Math.round(repliesAt[repliesAt.length - 1]! - repliesAt[0]!);
          return `${mark ? `${Math.round(sentAt - mark.at)} ms after the ${mark.what}` : 'before the first kill'}, ${repliesAt.length} replies within ${apart} ms`;
        });
        return { intervalMs, trials: out, discarded, ...probe.counts(), twoAnswers: twice.length, twoAnswersSeen };
      } finally {
        probe.stop();
      }
    } finally {
      await set.teardown();
    }
  } finally {
    await lab.teardown();
  }
}
