// dhcp.stats: this replica's DHCP server counters and latencies. Admin only:
// the counters cover every tenant's networks. Each replica counts what it
// received and answered itself, so ask the leader of a network for its
// figures (leader.list names it).
import { z } from 'zod';
import { ErrorCode, notFound } from '../errors.js';
import { defineMethod, NoParams, type AnyMethod } from '../registry.js';
import type { LeaderDeps } from './leader.js';

const Count = z.number().int().nonnegative();

export const Latency = z.object({
  count: Count.describe('durations recorded'),
  sumMs: z.number().describe('their sum: with `count`, the mean'),
  maxMs: z.number(),
  p50Ms: z.number().optional().describe('median, from the buckets (absent while `count` is 0)'),
  p99Ms: z.number().optional().describe('99th percentile, from the buckets (absent while `count` is 0)'),
  buckets: z.array(z.object({ leMs: z.number().describe('upper bound'), count: Count }))
    .describe('the non-empty buckets (4 per doubling, 1/64 ms to 65,536 ms, which also holds anything longer), cumulative since `since`: subtract two readings for the histogram of the time between them'),
});

export const DhcpStats = z.object({
  replicaId: z.string().describe('the replica that answered'),
  since: z.number().describe('epoch ms the counters start from (the DHCP server started)'),
  received: Count.describe('packet-ins handed to the DHCP server'),
  malformed: Count.describe('undecodable frames or messages, dropped'),
  ignored: Count.describe('decodable but not for a server (not to UDP 67, not a BOOTREQUEST)'),
  spoofed: Count.describe('not relayed, and `chaddr` is not the source MAC: dropped'),
  rateLimited: Count.describe("beyond the client's token bucket: not answered"),
  notLeader: Count.describe('for a network this replica does not answer now (another replica leads, or its leadership is quiet): not answered, not decoded'),
  fenced: Count.describe('lease writes refused for a stale term, and requests dropped since, until the replica leads again'),
  unknownNetwork: Count.describe('for a network that does not exist'),
  offers: Count,
  acks: Count,
  naks: Count,
  silent: Count.describe('decided without a reply (RELEASE, DECLINE, the silences of RFC 2131)'),
  writes: Count.describe('lease writes that succeeded (the ACKs, releases, declines and the expiry sweeper)'),
  conflicts: Count.describe('lease writes that met a concurrent write and were decided again'),
  storeErrors: Count.describe('lease writes the store failed: the request got no answer'),
  errors: Count.describe("weft's own failures (logged); the packet was dropped"),
  paths: z.record(z.string(), Count).describe('requests by RFC 2131 path taken (`discover-offer`, `selecting-ack`, `held-by-other-port`, ...)'),
  latency: z.object({
    leaseWrite: Latency.describe("each lease write, from the call to the store's answer, whatever it was (so `count` is writes, conflicts and failed writes together)"),
    answer: Latency.describe('each answered request, from the packet-in reaching the DHCP server (after the OpenFlow queue) to its reply frames, the lease write included'),
  }),
});

/** What the DHCP server answers with; main.ts hands over the service's own stats(). */
export type DhcpRuntimeStats = Omit<z.input<typeof DhcpStats>, 'replicaId'>;

export interface DhcpRuntime {
  stats(): DhcpRuntimeStats;
}

export interface DhcpDeps {
  /** Absent in builds without a DHCP server (docs, unit tests of other methods): dhcp.stats answers not found. */
  dhcp?: DhcpRuntime;
}

/** The line of `status` about DHCP: what a person checks first. */
export const DhcpSummary = z.object({
  offers: Count,
  acks: Count,
  naks: Count,
  leaseWriteP99Ms: z.number().optional().describe('99th percentile of the lease writes since the start'),
  answerP99Ms: z.number().optional().describe('99th percentile of the time to answer since the start'),
});

export function dhcpSummary(stats: DhcpRuntimeStats): z.infer<typeof DhcpSummary> {
  const { leaseWrite, answer } = stats.latency;
  return {
    offers: stats.offers, acks: stats.acks, naks: stats.naks,
    ...(leaseWrite.p99Ms === undefined ? {} : { leaseWriteP99Ms: leaseWrite.p99Ms }),
    ...(answer.p99Ms === undefined ? {} : { answerP99Ms: answer.p99Ms }),
  };
}

export function dhcpMethods({ dhcp, leaders }: DhcpDeps & LeaderDeps): AnyMethod[] {
  return [
    defineMethod({
      name: 'dhcp.stats',
      summary: "This replica's DHCP server counters, and the latency of its lease writes and answers.",
      description:
        'Counted since the DHCP server started on this replica, whichever networks it led meanwhile; a replica that does not lead a network counts its requests under `notLeader`. Latencies are histograms over the same time: `p50Ms`/`p99Ms` cover the whole lifetime, and the difference of two readings\' `buckets` gives the histogram of the time between them.',
      scope: 'admin',
      params: NoParams,
      result: DhcpStats,
      errors: [ErrorCode.NotFound],
      handler: () => {
        if (!dhcp) throw notFound('the DHCP server (this daemon runs none)');
        return { replicaId: leaders?.replica().replicaId ?? '', ...dhcp.stats() };
      },
    }),
  ];
}
