// The latency histogram: fixed buckets, 4 per doubling, so a percentile read
// from it is within one bucket (19 %) of the exact one, and two readings of
// it subtract into the histogram of the time between them.
import t from 'tap';
import { bucketBound, bucketQuantile, bucketsSince, LatencyHistogram } from '../../../src/dhcp/latency.js';

const exact = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.ceil(q * xs.length) - 1]!;

t.test('nothing recorded: counts are zero and there is no percentile', async (t) => {
  const s = new LatencyHistogram().snapshot();
  t.same(s, { count: 0, sumMs: 0, maxMs: 0, buckets: [] });
  t.equal(bucketQuantile([], 0.5), undefined);
});

t.test('p50 and p99 are within one bucket of the exact percentiles, and never above the maximum', async (t) => {
  const h = new LatencyHistogram();
  // A skewed spread over four decades, as lease writes under load look.
  const xs = Array.from({ length: 10_000 }, (_, i) => 0.05 * 1.001 ** i);
  for (const x of xs) h.record(x);
  const s = h.snapshot();
  t.equal(s.count, xs.length);
  t.equal(s.maxMs, Math.round(Math.max(...xs) * 1000) / 1000);
  t.ok(Math.abs(s.sumMs - xs.reduce((a, b) => a + b, 0)) < 0.01, 'the sum is exact');
  for (const [q, got] of [[0.5, s.p50Ms!], [0.99, s.p99Ms!]] as const) {
    const want = exact(xs, q);
    t.ok(got / want < 1.19 && want / got < 1.19, `p${q * 100}: ${got} against ${want}`);
  }
  t.ok(s.p99Ms! <= s.maxMs);
  t.equal(s.buckets.reduce((n, b) => n + b.count, 0), xs.length, 'every duration is in a bucket');
});

t.test('a duration on a bound is in the bucket of that bound; beyond the last, in the last', async (t) => {
  const h = new LatencyHistogram();
  h.record(1);
  h.record(0);
  h.record(1e9);
  const { buckets, maxMs } = h.snapshot();
  t.same(buckets.map((b) => b.leMs), [bucketBound(0), 1, 65_536]);
  t.equal(maxMs, 1e9, 'the maximum stays exact');
});

t.test('two readings subtract into the histogram of what came between them', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 100; i++) h.record(0.5);
  const before = h.snapshot();
  for (let i = 0; i < 100; i++) h.record(40);
  const between = bucketsSince(h.snapshot().buckets, before.buckets);
  t.equal(between.reduce((n, b) => n + b.count, 0), 100);
  const p50 = bucketQuantile(between, 0.5)!;
  t.ok(p50 > 40 / 1.19 && p50 <= 40 * 1.19, `only the later durations: p50 ${p50}`);
});
