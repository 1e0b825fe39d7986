// Latencies as fixed-bucket histograms, kept for the service's lifetime.
// Recording is a logarithm and an increment, memory is constant whatever
// the load, and the counts are cumulative, so a reader that keeps two
// snapshots gets the histogram of the time between them by subtracting
// bucket counts (what a benchmark or a monitoring system does), instead of
// the service choosing one window for everybody.
//
// Buckets are 4 per doubling, from 1/64 ms to 65,536 ms: an upper bound is
// 19 % above its lower one, which bounds the error of a percentile read
// from the buckets. Anything slower than the last bound lands in it; the
// exact maximum is kept beside.

const PER_DOUBLING = 4;
const LOWEST_EXPONENT = -6;
const HIGHEST_EXPONENT = 16;
const BUCKETS = (HIGHEST_EXPONENT - LOWEST_EXPONENT) * PER_DOUBLING + 1;

/** The upper bound, in ms, of bucket i. */
export function bucketBound(i: number): number {
  return 2 ** (LOWEST_EXPONENT + i / PER_DOUBLING);
}

/** The bucket a duration falls in: the first whose upper bound is not below it. */
function bucketOf(ms: number): number {
  if (!(ms > bucketBound(0))) return 0;
  const i = Math.ceil((Math.log2(ms) - LOWEST_EXPONENT) * PER_DOUBLING);
  // log2 rounding can put a duration just past an exact bound one bucket too high.
  const fixed = i > 0 && ms <= bucketBound(i - 1) ? i - 1 : i;
  return Math.min(fixed, BUCKETS - 1);
}

export interface LatencyBucket {
  /** Upper bound, ms. */
  leMs: number;
  count: number;
}

export interface LatencySnapshot {
  count: number;
  sumMs: number;
  maxMs: number;
  /** Absent while nothing was recorded. */
  p50Ms?: number;
  p99Ms?: number;
  /** The buckets that hold something, by bound. */
  buckets: LatencyBucket[];
}

/**
 * The q-quantile (0 < q <= 1) of bucketed durations, interpolated linearly
 * inside its bucket and never above `maxMs` when it is known. Undefined when
 * the buckets are empty.
 */
export function bucketQuantile(buckets: readonly LatencyBucket[], q: number, maxMs?: number): number | undefined {
  const total = buckets.reduce((n, b) => n + b.count, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (const b of buckets) {
    if (b.count > 0 && seen + b.count >= rank) {
      // Buckets are listed only when they hold something: the lower bound comes from the bound's own bucket.
      const lower = b.leMs <= bucketBound(0) ? 0 : b.leMs / 2 ** (1 / PER_DOUBLING);
      const at = lower + ((b.leMs - lower) * (rank - seen)) / b.count;
      return maxMs === undefined ? at : Math.min(at, maxMs);
    }
    seen += b.count;
  }
  return maxMs ?? buckets.at(-1)!.leMs;
}

/**
 * What was recorded between two snapshots of one histogram, as buckets
 * (`earlier` taken first). The maximum of the interval is not known; its
 * percentiles come from the buckets alone.
 */
export function bucketsSince(later: readonly LatencyBucket[], earlier: readonly LatencyBucket[]): LatencyBucket[] {
  const before = new Map(earlier.map((b) => [b.leMs, b.count]));
  return later.map((b) => ({ leMs: b.leMs, count: b.count - (before.get(b.leMs) ?? 0) })).filter((b) => b.count > 0);
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
/** A bound as JSON shows it: exact enough to name its bucket again. */
const bound = (i: number) => Number(bucketBound(i).toPrecision(6));

export class LatencyHistogram {
  private readonly counts = new Array<number>(BUCKETS).fill(0);
  private count = 0;
  private sum = 0;
  private max = 0;

  record(ms: number): void {
    this.counts[bucketOf(ms)]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  snapshot(): LatencySnapshot {
    const buckets = this.counts.flatMap((count, i) => (count > 0 ? [{ leMs: bound(i), count }] : []));
    const p50 = bucketQuantile(buckets, 0.5, this.max);
    const p99 = bucketQuantile(buckets, 0.99, this.max);
    return {
      count: this.count,
      sumMs: round(this.sum),
      maxMs: round(this.max),
      ...(p50 === undefined ? {} : { p50Ms: round(p50) }),
      ...(p99 === undefined ? {} : { p99Ms: round(p99) }),
      buckets,
    };
  }
}
