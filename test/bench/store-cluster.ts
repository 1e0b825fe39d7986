// Durable lease writes on the clustered store (a three-member ovsdb-server
// Raft cluster on this machine, over unix sockets) against the SQLite store,
// in the same run and on the same disk: writes/s and p50/p99 commit latency,
// one commit at a time and with 64 and 1,024 commits in flight. Every write
// is a lease fenced by the writer's term, as the DHCP plane writes them.
//
// All three members share one disk here, so each Raft commit costs the
// leader's fsync plus a follower's, on the same device; on three machines
// the network round trip replaces the second local fsync.
// WEFT_BENCH_DIR picks the directory (default the OS temp dir; not a tmpfs if
// you mean to measure the disk), WEFT_BENCH_SECONDS the length of each phase
// (default 3).
import { join } from 'node:path';
import { keyOf } from '../../src/model/index.js';
import { openOvsdbClusterStore } from '../../src/store/ovsdb-cluster.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { put, type Fence, type Store } from '../../src/store/store.js';
import { Cluster } from '../harness/cluster.js';
import { namespace } from '../unit/store/conformance.js';
import { lease } from '../unit/store/leases.js';
import { fileSystemOf, round, withBenchDir, writeFigures, type WriteFigures } from './stats.js';

const seconds = Number(process.env.WEFT_BENCH_SECONDS ?? 3);

/** `inFlight` fenced lease commits outstanding at all times for `seconds`. */
async function leaseWrites(store: Store, inFlight: number): Promise<WriteFigures> {
  const ns = namespace();
  const scope = `network:${ns}-t/net`;
  const fence: Fence = { scope, term: await store.claimTerm(scope, 0) };
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const latencies: number[] = [];
  let seq = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        const l = lease(ns, seq, seq);
        seq++;
        const t0 = performance.now();
        await store.commit([put('lease', keyOf('lease', l), l)], { fence });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return writeFigures(latencies, performance.now() - start);
}

async function phases(name: string, store: Store): Promise<Record<string, WriteFigures>> {
  const out: Record<string, WriteFigures> = {};
  for (const inFlight of [1, 64, 1024]) {
    process.stderr.write(`  ${name}, ${inFlight} in flight (${seconds} s)\n`);
    out[`inFlight${inFlight}`] = await leaseWrites(store, inFlight);
  }
  return out;
}

export function run(): Promise<unknown> {
  return withBenchDir('weft-bench-cluster-', async (dir) => {
    const sqliteStore = await openSqliteStore(join(dir, 'store.sqlite'));
    const sqlite = await phases('sqlite', sqliteStore).finally(() => sqliteStore.close());

    const cluster = await Cluster.start({ parent: dir });
    let clustered: Record<string, WriteFigures>;
    try {
      const store = await openOvsdbClusterStore({ remotes: cluster.remotes });
      clustered = await phases('ovsdb cluster (3 members)', store).finally(() => store.close());
    } finally {
      await cluster.teardown();
    }
    const ratio = (k: string) => ({
      writesPerSecond: round(clustered[k]!.writesPerSecond / sqlite[k]!.writesPerSecond),
      p99: round(clustered[k]!.latencyMs.p99 / sqlite[k]!.latencyMs.p99),
    });
    return {
      dir,
      fileSystem: fileSystemOf(dir),
      secondsPerPhase: seconds,
      members: 3,
      sqlite,
      cluster: clustered,
      clusterToSqlite: { inFlight1: ratio('inFlight1'), inFlight64: ratio('inFlight64'), inFlight1024: ratio('inFlight1024') },
    };
  });
}
