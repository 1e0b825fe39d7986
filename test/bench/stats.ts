// What the benchmark families share: quantiles and medians of samples,
// rounding to microseconds, the figures of a phase of writes, the length of
// event-loop turns, and a scratch directory on the disk WEFT_BENCH_DIR names
// (with the file system it is on, for the figures). A helper module: it
// exports no run(), so `npm run bench` skips it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Milliseconds to three decimals (microseconds). */
export const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/** The q-quantile (0 to 1) of the samples, rounded; q = 1 is the maximum. NaN when there are none. */
export function quantiles(values: ArrayLike<number>): (q: number) => number {
  const sorted = Float64Array.from(values).sort();
  return (q) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
}

/** The median: the middle sample, or the mean of the two middle ones. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A phase of durable writes: how many, how many a second, and their latency in ms. */
export interface WriteFigures {
  writes: number;
  writesPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

export function writeFigures(latencies: number[], elapsedMs: number): WriteFigures {
  const at = quantiles(latencies);
  return {
    writes: latencies.length,
    writesPerSecond: Math.round((latencies.length * 1000) / elapsedMs),
    latencyMs: { p50: at(0.5), p99: at(0.99), max: at(1) },
  };
}

/**
 * Starts timing the event loop's turns; the function returned stops and gives
 * their lengths in ms. A setImmediate chain runs once per loop turn: the gaps
 * between its runs are the turns' lengths (monitorEventLoopDelay samples with
 * a timer and sees nothing when the loop never idles).
 */
export function loopTurns(): () => number[] {
  const turns: number[] = [];
  let probing = true;
  let last = performance.now();
  const probe = () => {
    const now = performance.now();
    turns.push(now - last);
    last = now;
    if (probing) setImmediate(probe);
  };
  setImmediate(probe);
  return () => {
    probing = false;
    return turns;
  };
}

/** The file system type and source of `dir`, as `df` says; "unknown" where it cannot. */
export function fileSystemOf(dir: string): string {
  try {
    return execFileSync('df', ['--output=fstype,source', dir], { encoding: 'utf8' }).trim().split('\n').pop()!.trim();
  } catch {
    return 'unknown';
  }
}

/** Runs `use` on a new directory under WEFT_BENCH_DIR (default the OS temp dir) and removes it afterwards. */
export async function withBenchDir<T>(prefix: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(process.env.WEFT_BENCH_DIR ?? tmpdir(), prefix));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
