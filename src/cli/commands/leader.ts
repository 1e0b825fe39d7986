// weft leaders [TENANT/NETWORK]: who leads each network, and who writes each
// host's flows, as the replica the CLI talks to sees it.
import type { Command } from 'commander';
import { call, clientCommand, networkRef, table } from './client.js';

export interface LeaderRow {
  network: string;
  leader: string | null;
  term: number;
  role: string;
  answering: boolean;
  priority: number;
  since: number;
  peers: { replicaId: string; priority: number; live: boolean }[];
}

export interface FlowWriterRow extends Omit<LeaderRow, 'network'> {
  host: string;
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `first`: the column naming the row (NETWORK, or HOST for flow writers). */
export function leaderTable(rows: (Omit<LeaderRow, 'network'> & { name: string })[], first = 'NETWORK', who = 'LEADER'): string {
  return table(
    [first, who, 'TERM', 'ROLE', 'PRIORITY', 'SINCE', 'PEERS'],
    rows.map((r) => [
      // A leader whose term the store has not confirmed in time leads but does not answer.
      r.name, r.leader ?? '-', r.term, r.role === 'leader' && !r.answering ? 'leader (quiet)' : r.role, r.priority, when(r.since),
      r.peers.map((p) => `${p.replicaId}=${p.priority}${p.live ? '' : ' (dead)'}`).join(', '),
    ]),
  );
}

export function registerLeader(program: Command): void {
  clientCommand(program, 'leaders', "each network's leader, term and priorities, as this replica sees them")
    .argument('[tenant/network]')
    .action((ref: string | undefined, _o: unknown, cmd: Command) => {
      if (ref !== undefined) networkRef(cmd, ref);
      return call<{ replicaId: string; leaders: LeaderRow[]; flowWriters: FlowWriterRow[] }>(cmd, 'leader.list', ref !== undefined ? { network: ref } : {}, (r) => {
        const networks = leaderTable(r.leaders.map((l) => ({ ...l, name: l.network })));
        // A single replica writes every switch's flows itself: no table to show.
        const writers = r.flowWriters.length > 0 && ref === undefined ? `\n\n${leaderTable(r.flowWriters.map((w) => ({ ...w, name: w.host })), 'HOST', 'FLOW WRITER')}` : '';
        return `as seen by ${r.replicaId || 'this replica'}\n${networks}${writers}`;
      });
    });
}
