// DHCP on the clustered store against the SQLite store, in one lab and one
// run (issue 8): for `npm run bench -- ha`, which calls measureDhcpStores().
// A helper module: it exports no run(), so it is not a family of its own.
//
// One hypervisor namespace and perfdhcp's relay VM, as in ./dhcp.ts, and
// its rate search (doubling, then bisecting, to the highest rate with no
// drop), served in turn by
//   (a) one `weft serve` with the default store: SQLite, each lease fsync'd
//       before its ACK, commits grouped;
//   (b) three `weft serve` replicas on a 3-member ovsdb-server Raft cluster
//       (../lab/ha-replicas.ts), the hypervisor's manager and its bridge's
//       controllers listing all three: every replica gets every packet-in,
//       the network's leader answers, each ACK waits for its lease's Raft
//       commit (a majority of members' logs written).
// The figures per store: the highest clean DORA rate, the drops of every
// trial, and the p50/p99 of the lease writes and of the time to answer as
// the answering replica's `dhcp.stats` counts them during the trial at that
// rate (the difference of its histograms just before and just after it).
// The cluster's members and replicas all run on this one machine, sharing
// its cores and its disk, unlike a production cluster.
import { bucketQuantile, bucketsSince } from '../../src/dhcp/latency.js';
import { Lab, type Hypervisor, type Vm } from '../harness/lab.js';
import { sleep } from '../harness/proc.js';
import { LabReplicas } from '../lab/ha-replicas.js';
import { controllers, until, Weft } from '../lab/weft.js';
import { addRelay, POOL, POOL_VLAN, relayFlow, search, SERVER_IP, SUBNET, WEFT_SERVE_FLAGS, type ServerResult, type Trial } from './dhcp.js';

const NET = 'bench/pool';
/** The election's advert interval: weft's default. */
const INTERVAL_MS = 200;

const POOL_NETWORK = {
  tenant: 'bench', name: 'pool', vlan: POOL_VLAN,
  subnets: [{ cidr: SUBNET, gateway: SERVER_IP, ranges: [{ start: POOL[0], end: POOL[1] }], leaseTime: 3600 }],
};

interface Bucket {
  leMs: number;
  count: number;
}

/** The part of dhcp.stats read here. */
interface DhcpStats {
  replicaId: string;
  offers: number;
  acks: number;
  notLeader: number;
  conflicts: number;
  storeErrors: number;
  fenced: number;
  latency: Record<'leaseWrite' | 'answer', { count: number; p50Ms?: number; p99Ms?: number; buckets: Bucket[] }>;
}

/** Latency percentiles of what happened between two readings, ms. */
interface Window {
  count: number;
  p50Ms?: number;
  p99Ms?: number;
}

type Call = <T>(method: string, params?: object) => Promise<T>;

const round = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 1000) / 1000);

function window(after: DhcpStats['latency']['leaseWrite'], before: DhcpStats['latency']['leaseWrite']): Window {
  const between = bucketsSince(after.buckets, before.buckets);
  const p50 = round(bucketQuantile(between, 0.5));
  const p99 = round(bucketQuantile(between, 0.99));
  return { count: after.count - before.count, ...(p50 === undefined ? {} : { p50Ms: p50 }), ...(p99 === undefined ? {} : { p99Ms: p99 }) };
}

export interface StoreFigures {
  store: 'sqlite' | 'cluster';
  /** The highest rate with no drop: completed DORAs a second (perfdhcp). */
  dorasPerSecond: number;
  /** Every trial of the search: asked, achieved, dropped (DISCOVER + REQUEST). */
  trials: ServerResult['trials'];
  /** perfdhcp's latency at that rate, ms. */
  perfdhcp?: ServerResult['latency'];
  /** The answering replica's dhcp.stats over the trial at that rate, ms. */
  leaseWrite?: Window;
  answer?: Window;
  /** The replica that led the network and answered (the cluster only). */
  answeredBy?: string;
  /** Over the whole search, on the answering replica: writes that met a concurrent one, failed or were fenced. */
  conflicts: number;
  storeErrors: number;
  fenced: number;
  error?: string;
}

/** perfdhcp's search, with the answering daemon's dhcp.stats read around every trial. */
async function measure(store: StoreFigures['store'], relay: Vm, call: Call): Promise<StoreFigures> {
  const windows = new Map<number, { leaseWrite: Window; answer: Window }>();
  let before: DhcpStats | undefined;
  const result = await search(`${store} store`, relay, {
    before: async () => {
      before = await call<DhcpStats>('dhcp.stats');
    },
    after: async (trial: Trial) => {
      const after = await call<DhcpStats>('dhcp.stats');
      windows.set(trial.rate, { leaseWrite: window(after.latency.leaseWrite, before!.latency.leaseWrite), answer: window(after.latency.answer, before!.latency.answer) });
    },
  });
  const end = await call<DhcpStats>('dhcp.stats');
  const at = result.rate === undefined ? undefined : windows.get(result.rate);
  return {
    store,
    dorasPerSecond: result.dorasPerSecond,
    trials: result.trials,
    ...(result.latency ? { perfdhcp: result.latency } : {}),
    ...(at ?? {}),
    ...(store === 'cluster' ? { answeredBy: end.replicaId } : {}),
    conflicts: end.conflicts,
    storeErrors: end.storeErrors,
    fenced: end.fenced,
  };
}

/** Sets environment variables while `fn` runs: the replicas' `weft serve` reads its settings from them. */
async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** WEFT_SERVE_FLAGS (`--flag value` pairs) as the environment variables of the same settings. */
function flagsAsEnv(flags: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i + 1 < flags.length; i += 2) env[`WEFT_${flags[i]!.slice(2).replaceAll('-', '_').toUpperCase()}`] = flags[i + 1]!;
  return env;
}

async function sqlite(lab: Lab, hv: Hypervisor, relay: Vm, teardown: (fn: () => unknown) => void): Promise<StoreFigures> {
  const weft = await Weft.start({ lab, t: { teardown }, hypervisors: [hv], admit: ['auto'], extra: WEFT_SERVE_FLAGS });
  try {
    await weft.call('tenant.create', { name: 'bench' });
    await weft.call('network.create', POOL_NETWORK);
    await weft.manage(hv);
    await relayFlow(hv);
    return await measure('sqlite', relay, (m, p) => weft.call(m, p));
  } finally {
    await weft.stop();
  }
}

async function cluster(hv: Hypervisor, relay: Vm): Promise<StoreFigures> {
  const set = await withEnv(flagsAsEnv(WEFT_SERVE_FLAGS), () =>
    LabReplicas.start({ hypervisors: [hv], controllerIp: hv.mgmt!.controllerIp, intervalMs: INTERVAL_MS }));
  try {
    await set.rpc(0, 'tenant.create', { name: 'bench' });
    await set.rpc(0, 'network.create', POOL_NETWORK);
    await hv.ovs.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=hv${hv.index}`, `external_ids:weft-encap-ip=${hv.underlayIp}`);
    await hv.ovs.vsctl('set-manager', ...set.managers);
    await until('every replica connected to the bridge', async () => {
      const c = await controllers(hv);
      return set.controllerTargets.every((target) => c.some((x) => x.target === target && x.connected));
    }, 60_000);
    await relayFlow(hv);
    const leader = await until(`one leader of ${NET}`, async () => {
      const self = await set.selfLeaders(NET);
      return self.length === 1 ? self[0] : undefined;
    }, 60_000, 50);
    // The replicas have just synced the bridge: let them settle before the first trial.
    await sleep(2000);
    const figures = await measure('cluster', relay, (m, p) => set.rpc(leader, m, p));
    const others = await Promise.all(set.alive().filter((i) => i !== leader).map((i) => set.rpc<DhcpStats>(i, 'dhcp.stats')));
    const moved = others.filter((s) => s.offers + s.acks > 0).map((s) => s.replicaId);
    // A replica other than the first leader that answered means leadership moved during the search.
    return moved.length === 0 ? figures : { ...figures, error: `leadership moved during the search: ${moved.join(', ')} answered too` };
  } finally {
    await set.teardown();
  }
}

export interface DhcpStoresResult {
  what: string;
  sqlite: StoreFigures;
  cluster: StoreFigures;
  /** cluster / SQLite. */
  ratios: { dorasPerSecond?: number; leaseWriteP50?: number; leaseWriteP99?: number; answerP99?: number };
}

/** DORA/s and lease-write latency with the clustered store against the SQLite store, in one lab. */
export async function measureDhcpStores(): Promise<DhcpStoresResult> {
  const teardowns: (() => unknown)[] = [];
  const teardown = (fn: () => unknown) => teardowns.unshift(fn);
  const lab = await Lab.create({ t: { teardown } });
  try {
    const hv = await lab.addHypervisor({ mgmt: true });
    const relay = await addRelay(lab, hv);
    const failed = (store: StoreFigures['store']) => (e: unknown): StoreFigures =>
      ({ store, dorasPerSecond: 0, trials: [], conflicts: 0, storeErrors: 0, fenced: 0, error: (e as Error).message });
    const a = await sqlite(lab, hv, relay, teardown).catch(failed('sqlite'));
    const b = await cluster(hv, relay).catch(failed('cluster'));
    const ratio = (x: number | undefined, y: number | undefined) => (x !== undefined && y ? Math.round((x / y) * 100) / 100 : undefined);
    return {
      what: `perfdhcp (relayed DORAs from a VM namespace) through one hypervisor's OVS to (a) one weft serve on SQLite and (b) three weft serve replicas on a 3-member ovsdb-server Raft cluster (adverts every ${INTERVAL_MS} ms; the network's leader answers), all on this machine; lease latencies from the answering replica's dhcp.stats over the trial at the highest clean rate`,
      sqlite: a,
      cluster: b,
      ratios: {
        dorasPerSecond: ratio(b.dorasPerSecond, a.dorasPerSecond),
        leaseWriteP50: ratio(b.leaseWrite?.p50Ms, a.leaseWrite?.p50Ms),
        leaseWriteP99: ratio(b.leaseWrite?.p99Ms, a.leaseWrite?.p99Ms),
        answerP99: ratio(b.answer?.p99Ms, a.answer?.p99Ms),
      },
    };
  } finally {
    for (const fn of teardowns) await fn();
  }
}
