// `network.create` with `wait: true`, like `ovn-nbctl --wait=hv`: from the
// call to its answer, once every host with a port in the new network has its
// flows confirmed by a barrier, for 2, 5 and 10 hosts. The whole daemon
// (store, OVSDB plane, fabric, OpenFlow plane, API over HTTP) against real
// ovsdb-server + ovs-vswitchd pairs (dummy datapath: what is timed is the
// control path, not packets), each host managed through `set-manager` only.
// Each sample is a new network on a VLAN whose ports already sit, tagged and
// unbound, on the first N hosts, so exactly N switches must change.
// Then `ovn-nbctl --wait=hv` in the same run (openflow-wait-ovn.ts), side by
// side with ratios; where OVN cannot run, issue 6's figures (OVN 23.03, the
// same kind of lab) stay the reference, with the reason.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { Ovs } from '../harness/ovs.js';
import { sleep } from '../harness/proc.js';
import { eventually } from '../integration/openflow-switch.js';
import { pointHost, startWeftDaemon } from '../integration/weft-daemon.js';
import { runOvnWait } from './openflow-wait-ovn.js';

const COUNTS = (process.env.WEFT_BENCH_WAIT_HOSTS ?? '2,5,10').split(',').map(Number);
const SAMPLES = Number(process.env.WEFT_BENCH_WAIT_SAMPLES ?? 5);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number): number => Math.round(x * 10) / 10;

const OVN_FROM_ISSUE = { '1Host': '16-22', '2Hosts': 20, '5Hosts': 45, '10Hosts': 118 };

type Series = Record<string, { medianMs: number }>;

export async function runWait(): Promise<unknown> {
  const weft = await runWeftWait();
  // Only after weft's lab is down, so neither side competes with the other for the CPU.
  const ovn = await runOvnWait(COUNTS, SAMPLES);
  const common = { datapath: 'dummy', samples: SAMPLES };
  if ('unavailable' in ovn) return { ...common, weft, ovnUnavailable: ovn.unavailable, ovnNbctlWaitHvFromIssue: OVN_FROM_ISSUE };
  const ratio = (ovnSide: Series) =>
    Object.fromEntries(Object.keys(weft).filter((k) => ovnSide[k]).map((k) => [k, Math.round((ovnSide[k]!.medianMs / weft[k]!.medianMs) * 100) / 100]));
  return {
    ...common,
    weft,
    ovn: ovn.ovn,
    ovnOverWeft: ratio(ovn.ovn),
    ovnWithAllChassis: ovn.withAllChassis,
    ovnWithAllChassisOverWeft: ratio(ovn.withAllChassis),
    ovnVersion: ovn.version,
    ovnTimed: ovn.timed,
    ovnNbctlWaitHvFromIssue: OVN_FROM_ISSUE,
  };
}

async function runWeftWait(): Promise<Record<string, { medianMs: number; samplesMs: number[]; switchesChanged: number[] }>> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-wait-'));
  const { daemon, client, ports } = await startWeftDaemon(dir, createLogger({ level: 'silent', pretty: false }));
  const hosts: Ovs[] = [];
  try {
    const most = Math.max(...COUNTS);
    for (let i = 1; i <= most; i++) {
      const ovs = await Ovs.start();
      hosts.push(ovs);
      await ovs.addBridge('br-int');
      await pointHost(ovs, i, ports.ovsdb);
    }
    await eventually('every switch connected to weft', async () => {
      for (const h of hosts) if (!(await h.vsctl('--columns=is_connected', 'list', 'Controller')).includes('true')) return undefined;
      return true;
    }, 60_000);
    await client.call('tenant.create', { name: 'bench' });
    // The first network also brings what every host holds once any network exists: not what is measured.
    await hosts[0]!.vsctl('add-port', 'br-int', 'p99', 'tag=99', '--', 'set', 'Interface', 'p99', 'type=dummy');
    await client.call('network.create', { tenant: 'bench', name: 'n99', vlan: 99, wait: true });
    let vlan = 100;
    const results: Record<string, { medianMs: number; samplesMs: number[]; switchesChanged: number[] }> = {};
    for (const n of COUNTS) {
      const samples: number[] = [];
      const changed: number[] = [];
      for (let s = 0; s < SAMPLES; s++) {
        const tag = vlan++;
        for (const h of hosts.slice(0, n)) await h.vsctl('add-port', 'br-int', `p${tag}`, `tag=${tag}`, '--', 'set', 'Interface', `p${tag}`, 'type=dummy');
        // Let the replicas report the new (unbound) ports and any resync they cause settle.
        await sleep(500);
        const t0 = performance.now();
        const r = await client.call<{ waited?: { host: string; ok: boolean }[] }>('network.create', { tenant: 'bench', name: `n${tag}`, vlan: tag, wait: true });
        const ms = performance.now() - t0;
        const waited = r.waited ?? [];
        if (waited.length < n || waited.some((w) => !w.ok)) throw new Error(`network on VLAN ${tag} over ${n} hosts: ${JSON.stringify(waited)}`);
        changed.push(waited.length);
        samples.push(round1(ms));
      }
      results[`${n}Hosts`] = { medianMs: round1(median(samples)), samplesMs: samples, switchesChanged: changed };
    }
    return results;
  } finally {
    client.close();
    await daemon.stop();
    for (const h of hosts) await h.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
