// Durable lease writes: the SQLite store one commit at a time and with group
// commit, side by side in the same run and on the same disk with what dnsmasq
// does today (append a line to a lease file and fsync it, per lease).
//
// WEFT_BENCH_DIR picks the directory (default: the OS temp dir; make sure it
// is on the disk you mean, not a tmpfs: the JSON says which file system it
// measured), WEFT_BENCH_SECONDS the length of each phase (default 3).
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { keyOf } from '../../src/model/index.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { put, type Store } from '../../src/store/store.js';
import { namespace } from '../unit/store/conformance.js';
import { lease } from '../unit/store/leases.js';
import { fileSystemOf, loopTurns, quantiles, round, withBenchDir, writeFigures, type WriteFigures } from './stats.js';

const seconds = Number(process.env.WEFT_BENCH_SECONDS ?? 3);

interface Figures extends WriteFigures {
  /**
   * How long one turn of the event loop took, p99 and max: the flush and its
   * fsync run on the main thread and block everything else meanwhile.
   */
  eventLoopTurnMs?: { p99: number; max: number };
}

async function timed(run: (deadline: number) => Promise<number[]>, probeLoop = true): Promise<Figures> {
  const turns = probeLoop ? loopTurns() : undefined;
  const start = performance.now();
  const latencies = await run(start + seconds * 1000);
  const result: Figures = writeFigures(latencies, performance.now() - start);
  if (turns) {
    const at = quantiles(turns());
    result.eventLoopTurnMs = { p99: at(0.99), max: at(1) };
  }
  return result;
}

function leaseOp(ns: string, seq: number) {
  const l = lease(ns, seq, seq);
  return put('lease', keyOf('lease', l), l);
}

async function oneAtATime(store: Store): Promise<Figures> {
  const ns = namespace();
  return timed(async (deadline) => {
    const latencies: number[] = [];
    for (let seq = 0; performance.now() < deadline; seq++) {
      const t0 = performance.now();
      await store.commit([leaseOp(ns, seq)]);
      latencies.push(performance.now() - t0);
    }
    return latencies;
  });
}

/** `inFlight` commits outstanding at all times, as a busy DHCP plane would have. */
async function grouped(store: Store, inFlight: number): Promise<Figures> {
  const ns = namespace();
  return timed(
    (deadline) =>
      new Promise((resolve, reject) => {
        const latencies: number[] = [];
        let seq = 0;
        let outstanding = 0;
        const issue = () => {
          const t0 = performance.now();
          outstanding++;
          store.commit([leaseOp(ns, seq++)]).then(() => {
            latencies.push(performance.now() - t0);
            outstanding--;
            if (performance.now() < deadline) issue();
            else if (outstanding === 0) resolve(latencies);
          }, reject);
        };
        for (let i = 0; i < inFlight; i++) issue();
      }),
  );
}

/** dnsmasq's way: one line appended and fsync'd per lease. */
async function appendFsync(file: string): Promise<Figures> {
  const ns = namespace();
  const fd = openSync(file, 'a');
  try {
    return await timed(async (deadline) => {
      const latencies: number[] = [];
      for (let seq = 0; performance.now() < deadline; seq++) {
        const l = lease(ns, seq, seq);
        const t0 = performance.now();
        writeSync(fd, `${Math.floor(l.expiresAt / 1000)} ${l.mac} ${l.ip} * 01${l.mac.replaceAll(':', '')}\n`);
        fsyncSync(fd);
        latencies.push(performance.now() - t0);
      }
      return latencies;
    }, false);
  } finally {
    closeSync(fd);
  }
}

export function run(): Promise<unknown> {
  return withBenchDir('weft-bench-store-', async (dir) => {
    const store = await openSqliteStore(join(dir, 'store.sqlite'));
    try {
      process.stderr.write(`  sqlite, one commit at a time (${seconds} s)\n`);
      const single = await oneAtATime(store);
      process.stderr.write(`  sqlite, group commit, 64 in flight\n`);
      const g64 = await grouped(store, 64);
      process.stderr.write(`  sqlite, group commit, 1024 in flight\n`);
      const g1024 = await grouped(store, 1024);
      process.stderr.write(`  lease file, append + fsync per lease\n`);
      const file = await appendFsync(join(dir, 'dnsmasq.leases'));
      return {
        dir,
        fileSystem: fileSystemOf(dir),
        secondsPerPhase: seconds,
        sqlite: { oneAtATime: single, groupCommit: { inFlight64: g64, inFlight1024: g1024 } },
        leaseFile: { appendFsync: file },
        ratioToLeaseFile: {
          oneAtATime: round(single.writesPerSecond / file.writesPerSecond),
          groupCommit64: round(g64.writesPerSecond / file.writesPerSecond),
          groupCommit1024: round(g1024.writesPerSecond / file.writesPerSecond),
        },
      };
    } finally {
      await store.close();
    }
  });
}
