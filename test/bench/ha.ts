// `npm run bench -- ha`: the election's fail-over gap with real processes:
// three `weft serve` replicas on loopback on one 3-member ovsdb-server Raft
// cluster; kill -9 of the network's leader, then the time until another
// replica's leader.list shows itself as leader (polled every 5 ms), at advert
// intervals of 1000, 100 and 50 ms. The bound VRRP gives is the master-down
// interval, 3 intervals + skew, less up to one interval since the last advert.
// In the same run, keepalived 2.2 at the same advert_int moving a VIP between
// two network namespaces (./ha-keepalived.ts), for the side-by-side figures.
import { masterDownMs } from '../../src/election/machine.js';
import { sleep } from '../harness/proc.js';
import { Replicas } from '../integration/election-replicas.js';
import { BACKUP_PRIORITY, keepalived, measureKeepalived } from './ha-keepalived.js';
import { median } from './stats.js';

const NET = 'acme/web';
const INTERVALS = [1000, 100, 50];
const TRIALS = Number(process.env.WEFT_BENCH_HA_TRIALS ?? 5);

async function agreedLeader(set: Replicas): Promise<number> {
  for (let tries = 0; tries < 2000; tries++) {
    const leaders = await set.selfLeaders(NET);
    if (leaders.length === 1) {
      const seen = await Promise.all(set.alive().map((i) => set.leaderSeenBy(i, NET).then((r) => r?.leader, () => undefined)));
      if (seen.every((id) => id === set.replicas[leaders[0]!]!.id)) return leaders[0]!;
    }
    await sleep(20);
  }
  throw new Error('the replicas do not agree on a leader');
}

async function measure(intervalMs: number) {
  const set = await Replicas.start({ intervalMs });
  try {
    await set.rpc(0, 'tenant.create', { name: 'acme' });
    await set.rpc(0, 'network.create', { tenant: 'acme', name: 'web', vlan: 11 });
    const gaps: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const leader = await agreedLeader(set);
      // Let a few adverts go by so the kill lands at a random point of the interval.
      await sleep(intervalMs * 2 + Math.random() * intervalMs);
      const killedAt = performance.now();
      await set.kill(leader, 'SIGKILL');
      const { gapMs } = await set.waitNewLeader(NET, leader, killedAt, 60_000);
      gaps.push(Math.round(gapMs));
      process.stderr.write(`bench ha: interval ${intervalMs} ms, trial ${trial + 1}: ${Math.round(gapMs)} ms\n`);
      await set.startReplica(leader);
    }
    return {
      intervalMs, trials: TRIALS, gapsMs: gaps, medianMs: median(gaps), maxMs: Math.max(...gaps),
      masterDownMs: Math.round(masterDownMs(100, intervalMs)),
    };
  } finally {
    await set.teardown();
  }
}

export async function run(): Promise<unknown> {
  // Installed first, so that a missing package fails before the long weft runs.
  const version = await keepalived();
  const weft: Awaited<ReturnType<typeof measure>>[] = [];
  for (const intervalMs of INTERVALS) weft.push(await measure(intervalMs));
  const keepalivedRuns = (await measureKeepalived(INTERVALS, TRIALS)).map((k) => ({
    ...k, medianMs: median(k.gapsMs), maxMs: Math.max(...k.gapsMs), masterDownMs: Math.round(masterDownMs(BACKUP_PRIORITY, k.intervalMs)),
  }));
  return {
    what: 'kill -9 of the leader replica -> another replica reports itself leader in leader.list (3 replicas, priority 100, 3-member ovsdb-server cluster, loopback); kill -9 of the MASTER keepalived -> the VIP is added on the BACKUP\'s interface',
    weft,
    keepalived: {
      version,
      what: `two network namespaces joined by a veth (198.18.0.1 and 198.18.0.2), vrrp_version 3, unicast peers, MASTER priority 150, BACKUP priority ${BACKUP_PRIORITY}, VIP 198.18.0.100/24; kill -9 of the master's process group (parent and VRRP child); the gap ends when ip monitor address shows the VIP added on the backup; both keepalived started afresh each trial`,
      runs: keepalivedRuns,
    },
    sideBySide: INTERVALS.map((intervalMs) => {
      const w = weft.find((r) => r.intervalMs === intervalMs)!.medianMs;
      const k = keepalivedRuns.find((r) => r.intervalMs === intervalMs)!.medianMs;
      return { intervalMs, weftMedianMs: w, keepalivedMedianMs: k, weftOverKeepalived: Math.round((w / k) * 100) / 100 };
    }),
    differences: [
      `priorities: weft runs every replica at priority 100, so the replica that takes over is a priority-100 backup as keepalived's BACKUP (${BACKUP_PRIORITY}) is, and both wait the same master-down interval (3 intervals + (256 - 100) / 256 of one); keepalived's MASTER is at 150 where weft's leader is at 100, which does not change the backup's timer`,
      'peers: weft has two backups (three replicas), keepalived one',
      'end point: weft\'s is the first 5 ms poll of leader.list that shows a new leader, after its term claim on the 3-member ovsdb-server cluster; keepalived\'s is the netlink event of the VIP address added',
      'adverts: weft\'s are keyed UDP on loopback; keepalived\'s are VRRPv3 unicast over a veth between namespaces',
    ],
  };
}
