// weft dhcp stats: the DHCP server's counters and latencies on the replica the CLI talks to.
import type { Command } from 'commander';
import type { z } from 'zod';
import type { DhcpStats, DhcpSummary, Latency } from '../../api/methods/dhcp.js';
import { call, clientCommand, table } from './client.js';

type Stats = z.infer<typeof DhcpStats>;

const ms = (x: number | undefined) => (x === undefined ? '-' : String(x));

function latencyRow(name: string, l: z.infer<typeof Latency>): (string | number)[] {
  return [name, l.count, ms(l.p50Ms), ms(l.p99Ms), l.count === 0 ? '-' : ms(l.maxMs), l.count === 0 ? '-' : ms(Math.round((l.sumMs / l.count) * 1000) / 1000)];
}

export function dhcpStatsText(s: Stats): string {
  const paths = Object.entries(s.paths).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    `DHCP on ${s.replicaId || 'this replica'} since ${new Date(s.since).toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    `received ${s.received}: offers ${s.offers}, ACKs ${s.acks}, NAKs ${s.naks}, silent ${s.silent}`,
    `not answered: not-leader ${s.notLeader}, rate-limited ${s.rateLimited}, fenced ${s.fenced}, unknown-network ${s.unknownNetwork}, malformed ${s.malformed}, ignored ${s.ignored}, spoofed ${s.spoofed}`,
    `lease writes ${s.writes}, conflicts ${s.conflicts}, store errors ${s.storeErrors}; errors ${s.errors}`,
    '',
    table(['LATENCY', 'COUNT', 'P50 MS', 'P99 MS', 'MAX MS', 'MEAN MS'], [latencyRow('lease write', s.latency.leaseWrite), latencyRow('answer', s.latency.answer)]),
    paths.length === 0 ? '' : table(['PATH', 'COUNT'], paths),
  ].join('\n');
}

/** The line `weft status` prints about DHCP. */
export function dhcpSummaryLine(d: z.infer<typeof DhcpSummary>): string {
  const p99 = (x: number | undefined) => (x === undefined ? '-' : `${x} ms`);
  return `dhcp: offers ${d.offers}, ACKs ${d.acks}, NAKs ${d.naks}; p99 lease write ${p99(d.leaseWriteP99Ms)}, answer ${p99(d.answerP99Ms)}`;
}

export function registerDhcp(program: Command): void {
  const dhcp = program.command('dhcp').description("this replica's DHCP server: stats");
  clientCommand(dhcp, 'stats', "the DHCP server's counters, and the latency of lease writes and answers, since it started on this replica")
    .action((_o: unknown, cmd: Command) => call<Stats>(cmd, 'dhcp.stats', {}, dhcpStatsText));
}
