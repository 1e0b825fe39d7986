// Flow installs through the OpenFlow plane against what operators run today,
// side by side on the same ovs-vswitchd (dummy datapath) in the same run:
// - a 10,000-flow table into a fresh bridge: weft's sync (read the owned
//   flows, diff, one atomic bundle, barrier) against
//   `ovs-ofctl --bundle -O OpenFlow13 add-flows` of the same flows;
// - a resync where 1% of the 10,000 differ: weft's sync against
//   `ovs-ofctl --bundle -O OpenFlow13 replace-flows`, which does the same job
//   (dump, diff, apply the difference).
// The ovs-ofctl figures include its process start (about a millisecond or
// two); weft's include reading the switch's table back. WEFT_BENCH_FLOWS sets
// the table size, WEFT_BENCH_ROUNDS the rounds (the median is reported).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatFlow } from '../../protocols/openflow/index.js';
import type { Flow } from '../../src/openflow/sync.js';
import { Ovs } from '../harness/ovs.js';
import { out } from '../harness/proc.js';
import { dpidOf, dump, eventually, manyFlows, startPlane } from '../integration/openflow-switch.js';
import { runPacketIn } from './openflow-packet-in.js';
import { runWait } from './openflow-wait.js';

const N = Number(process.env.WEFT_BENCH_FLOWS ?? 10_000);
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): number => Math.round(x * 10) / 10;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function flowFile(dir: string, name: string, flows: Flow[]): string {
  const file = join(dir, name);
  writeFileSync(file, flows.map((f) => formatFlow(f)).join('\n') + '\n');
  return file;
}

export async function run(): Promise<unknown> {
  const installs = process.env.WEFT_BENCH_INSTALL === '0' ? undefined : await runInstalls();
  const packetIn = process.env.WEFT_BENCH_PACKET_IN === '0' ? undefined : await runPacketIn();
  const networkCreateWait = process.env.WEFT_BENCH_WAIT === '0' ? undefined : await runWait();
  return { ...(installs ?? {}), ...(packetIn ? { packetIn } : {}), ...(networkCreateWait ? { networkCreateWait } : {}) };
}

async function runInstalls(): Promise<Record<string, unknown>> {
  const ovs = await Ovs.start();
  const table = manyFlows(N);
  // 1% of the flows change their output port.
  const variant = manyFlows(N, 1);
  const changed = table.map((f, i) => (i % 100 === 0 ? variant[i]! : f));
  const fileAll = flowFile(ovs.dir, 'all.flows', table);
  const fileChanged = flowFile(ovs.dir, 'changed.flows', changed);
  const desired = new Map<bigint, Flow[]>();
  const { plane } = await startPlane(desired);
  const port = Number(plane.listeners()[0]!.address.split(':')[1]);
  const ofctl = (...args: string[]) => out('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { env: ovs.env, timeout: 120_000 });
  const rounds = { weftInstall: [] as number[], ofctlInstall: [] as number[], weftResync: [] as number[], ofctlResync: [] as number[], weftResyncFlowMods: [] as number[] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const bw = `bw${r}`;
      const bo = `bo${r}`;
      await ovs.addBridge(bw, { failMode: 'secure', protocols: 'OpenFlow13' });
      await ovs.addBridge(bo, { failMode: 'secure', protocols: 'OpenFlow13' });
      const dpid = await dpidOf(ovs, bw);
      // The controller first (it flushes the bridge, LAB.md), with nothing desired yet.
      await ovs.vsctl('set-controller', bw, `tcp:127.0.0.1:${port}`);
      await eventually('the bridge to connect', () => plane.session(dpid) && plane.switches().find((s) => s.dpid === dpid)?.syncs === 0 ? true : undefined, 30_000);

      desired.set(dpid, table);
      rounds.weftInstall.push(await timed(() => plane.sync(dpid)));
      rounds.ofctlInstall.push(await timed(() => ofctl('--bundle', 'add-flows', bo, fileAll)));

      desired.set(dpid, changed);
      let mods = 0;
      rounds.weftResync.push(await timed(async () => (mods = (await plane.sync(dpid)).flowMods)));
      rounds.weftResyncFlowMods.push(mods);
      rounds.ofctlResync.push(await timed(() => ofctl('--bundle', 'replace-flows', bo, fileChanged)));

      const [w, o] = [await dump(ovs, bw), await dump(ovs, bo)];
      if (w.length !== N || w.join('\n') !== o.join('\n')) throw new Error(`round ${r}: the two bridges differ (${w.length} vs ${o.length} flows)`);
      await ovs.vsctl('del-br', bw);
      await ovs.vsctl('del-br', bo);
    }
  } finally {
    await plane.stop();
    await ovs.stop();
  }
  const rate = (xs: number[]) => Math.round((N * 1000) / median(xs));
  return {
    flows: N,
    rounds: ROUNDS,
    datapath: 'dummy',
    install: {
      weft: { ms: ms(median(rounds.weftInstall)), flowsPerSecond: rate(rounds.weftInstall) },
      ofctlBundleAddFlows: { ms: ms(median(rounds.ofctlInstall)), flowsPerSecond: rate(rounds.ofctlInstall) },
    },
    resync1Percent: {
      weft: { ms: ms(median(rounds.weftResync)), flowMods: median(rounds.weftResyncFlowMods) },
      ofctlBundleReplaceFlows: { ms: ms(median(rounds.ofctlResync)) },
    },
    samplesMs: Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, v.map(ms)])),
  };
}
