// weft leaders [TENANT/NETWORK]: who leads each network, as the replica the CLI talks to sees it.
import type { Command } from 'commander';
import { call, clientCommand, networkRef, table } from './client.js';

export interface LeaderRow {
  network: string;
  leader: string | null;
  term: number;
  role: string;
  priority: number;
  since: number;
  peers: { replicaId: string; priority: number; live: boolean }[];
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function leaderTable(rows: LeaderRow[]): string {
  return table(
    ['NETWORK', 'LEADER', 'TERM', 'ROLE', 'PRIORITY', 'SINCE', 'PEERS'],
    rows.map((r) => [
      r.network, r.leader ?? '-', r.term, r.role, r.priority, when(r.since),
      r.peers.map((p) => `${p.replicaId}=${p.priority}${p.live ? '' : ' (dead)'}`).join(', '),
    ]),
  );
}

export function registerLeader(program: Command): void {
  clientCommand(program, 'leaders', "each network's leader, term and priorities, as this replica sees them")
    .argument('[tenant/network]')
    .action((ref: string | undefined, _o: unknown, cmd: Command) => {
      if (ref !== undefined) networkRef(cmd, ref);
      return call<{ replicaId: string; leaders: LeaderRow[] }>(cmd, 'leader.list', ref !== undefined ? { network: ref } : {}, (r) =>
        `as seen by ${r.replicaId || 'this replica'}\n${leaderTable(r.leaders)}`);
    });
}
