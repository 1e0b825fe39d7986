// `npm run bench -- ha`: the fail-over gap of issue 8, weft beside
// keepalived in the same run, at advert intervals of 1000, 100 and 50 ms,
// WEFT_BENCH_HA_TRIALS kills each (default 5).
// weft (./ha-lab.ts): three replicas managing the two-hypervisor namespace
// lab; kill -9 of a network's leader, then the first DHCP reply to a
// DISCOVER sent after the kill (a client sends one every 10 ms), the longest
// wait between two replies of a 10 ms ping between VMs on the two
// hypervisors, and another replica's leader.list naming itself; and over
// the whole run, how many DISCOVERs got more than one reply.
// keepalived 2.2 (./ha-keepalived.ts): a power cut of the MASTER at the same
// advert_int, then the VIP added on the BACKUP and the longest wait between
// two replies of a 10 ms ping to the VIP from a third namespace.
// Either side's take-over is bounded by its master-down interval, 3
// intervals + skew (weft's skew is a quarter of VRRP's), less up to one
// interval since the last advert.
// Then DHCP itself on the two stores (./ha-stores.ts): the highest clean
// DORA rate perfdhcp gets and the lease-write latency, on the clustered
// store against SQLite (WEFT_BENCH_HA_STORES=0 leaves it out).
import { masterDownMs } from '../../src/election/machine.js';
import { BACKUP_PRIORITY, keepalived, measureKeepalived, vrrpMasterDownMs } from './ha-keepalived.js';
import { measureWeftLab, type WeftLabFigures } from './ha-lab.js';
import { measureDhcpStores } from './ha-stores.js';
import { median } from './stats.js';

const INTERVALS = [1000, 100, 50];
const TRIALS = Number(process.env.WEFT_BENCH_HA_TRIALS ?? 5);

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

function summary(xs: number[]) {
  return { medianMs: median(xs), maxMs: Math.max(...xs) };
}

function weftRun(r: WeftLabFigures) {
  const dhcpGapMs = r.trials.map((t) => t.dhcpGapMs);
  const pingGapMs = r.trials.map((t) => t.pingGapMs);
  const leaderGapMs = r.trials.map((t) => t.leaderGapMs);
  return {
    intervalMs: r.intervalMs,
    dhcpGapMs, pingGapMs, pingLost: r.trials.map((t) => t.pingLost), pingSpacingMs: r.trials.map((t) => t.pingSpacingMs), pingGapStartMs: r.trials.map((t) => t.pingGapStartMs), leaderGapMs,
    dhcp: summary(dhcpGapMs), ping: summary(pingGapMs), leader: summary(leaderGapMs),
    discarded: r.discarded, requests: r.requests, answered: r.answered, twoAnswers: r.twoAnswers, twoAnswersSeen: r.twoAnswersSeen,
    masterDownMs: Math.round(masterDownMs(100, r.intervalMs)),
  };
}

export async function run(): Promise<unknown> {
  // Installed first, so that a missing package fails before the long weft runs.
  const version = await keepalived();
  const weft: ReturnType<typeof weftRun>[] = [];
  for (const intervalMs of INTERVALS) weft.push(weftRun(await measureWeftLab(intervalMs, TRIALS)));
  const stores = process.env.WEFT_BENCH_HA_STORES === '0' ? undefined : await measureDhcpStores();
  const keepalivedRuns = (await measureKeepalived(INTERVALS, TRIALS)).map((k) => {
    const vipGapMs = k.trials.map((t) => t.vipGapMs);
    const pingGapMs = k.trials.map((t) => t.pingGapMs);
    return {
      intervalMs: k.intervalMs, vipGapMs, pingGapMs, pingLost: k.trials.map((t) => t.pingLost), pingSpacingMs: k.trials.map((t) => t.pingSpacingMs), pingGapStartMs: k.trials.map((t) => t.pingGapStartMs),
      vip: summary(vipGapMs), ping: summary(pingGapMs), masterDownMs: Math.round(vrrpMasterDownMs(BACKUP_PRIORITY, k.intervalMs)),
    };
  });
  return {
    trials: TRIALS,
    weft: {
      what: 'three weft serve replicas (priority 100, one 3-member ovsdb-server Raft cluster) managing two hypervisors of the namespace lab (netdev datapath, VXLAN); kill -9 of the network\'s leader; dhcpGapMs: kill -> first reply to a DISCOVER sent after the kill by a client VM on hv2 (one DISCOVER every 10 ms, a new xid each); pingGapMs: the longest wait between two replies of ping -i 0.01 from a VM on hv1 to one on hv2, running from before the kill to 500 ms after both other gaps ended, with pingLost (requests older than the last reply that got none) and pingSpacingMs (the median time between replies, what ping achieves here without an outage) and pingGapStartMs (when the longest wait began, ms from the kill, negative before it); leaderGapMs: kill -> another replica\'s leader.list names itself (polled every 10 ms); requests/answered/twoAnswers: DISCOVERs of the whole run (trials, restarts, preemptions), answered, answered more than once',
      runs: weft,
    },
    keepalived: {
      version,
      what: `MASTER (priority 150) and BACKUP (${BACKUP_PRIORITY}) in two network namespaces, each joined by a veth to a Linux bridge in a third, the client; vrrp_version 3, unicast peers, VIP 198.18.0.100/24; a power cut of the master: its link set down and its process group (parent and VRRP child) killed with SIGKILL; vipGapMs: cut -> ip monitor address shows the VIP added on the backup; pingGapMs: the longest wait between two replies of ping -i 0.01 from the client (198.18.0.3, the bridge) to the VIP, running until 500 ms after the first reply from the backup, with pingLost, pingSpacingMs and pingGapStartMs (from the cut) as for weft; both keepalived started afresh each trial`,
      runs: keepalivedRuns,
    },
    sideBySide: INTERVALS.map((intervalMs) => {
      const w = weft.find((r) => r.intervalMs === intervalMs)!;
      const k = keepalivedRuns.find((r) => r.intervalMs === intervalMs)!;
      return {
        intervalMs,
        weftDhcpGapMs: w.dhcp.medianMs, keepalivedVipGapMs: k.vip.medianMs, dhcpOverVip: ratio(w.dhcp.medianMs, k.vip.medianMs),
        weftPingGapMs: w.ping.medianMs, keepalivedPingGapMs: k.ping.medianMs, pingOverPing: ratio(w.ping.medianMs, k.ping.medianMs),
        weftTwoAnswers: w.twoAnswers,
      };
    }),
    ...(stores ? { dhcpStores: stores } : {}),
    differences: [
      'what fails: weft loses a controller process, which is not on the data path (the switches keep their flows and forward on their own); keepalived\'s master is the data path for the VIP, so its failure is a power cut (link down and SIGKILL), since a kill alone leaves the VIP answering on the master\'s interface',
      'end points: weft\'s DHCP gap ends at the first reply the client receives (a packet-in to the new leader, its decision, a packet-out), through OpenFlow on a loaded userspace datapath; keepalived\'s VIP gap ends at the netlink event of the address added, before any packet is answered. So weft\'s is end to end and keepalived\'s is not',
      'ping: weft\'s crosses the fail-over between two VMs through both switches and a VXLAN tunnel, and shows whether flows stay up; keepalived\'s goes to the address that moves, through a Linux bridge, and shows the outage its clients see until the backup\'s gratuitous ARP',
      'resolution: the DHCP client sends every 10 ms, so its gap can be up to 10 ms late; weft answers one client at most 2 times a second after a burst of 10 (its per-client rate limit), which a new leader, whose bucket is full, does not reach before its first reply',
      `timers: weft runs every replica at priority 100 as keepalived's BACKUP is at ${BACKUP_PRIORITY}, but weft's skew is a quarter of VRRP's, so its backup waits 3 intervals + (256 - 100) / 1024 of one (masterDownMs) where keepalived's waits 3 + (256 - 100) / 256; keepalived's MASTER is at 150, which does not change the backup's timer`,
      'peers: weft has two backups (three replicas) and a term claim on a 3-member ovsdb-server cluster before it leads; keepalived has one backup and no store',
      'adverts: weft\'s are keyed UDP on loopback through relays in the bench process; keepalived\'s are VRRPv3 unicast over veths and a bridge between namespaces',
    ],
  };
}
