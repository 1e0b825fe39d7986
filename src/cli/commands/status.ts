// weft status, weft events
import type { Command } from 'commander';
import type { z } from 'zod';
import type { DhcpSummary } from '../../api/methods/dhcp.js';
import { call, clientCommand, collect, stream, table } from './client.js';
import { dhcpSummaryLine } from './dhcp.js';

interface Status {
  version: string;
  uptime: number;
  store: { backend: string; revision: number };
  listeners: { name: string; address: string }[];
  counts: Record<string, number>;
  tenant?: string;
  replica?: {
    replicaId: string;
    election: boolean;
    address?: string;
    leads: number;
    peers: { replicaId: string; address?: string; lastSeen: number; live: boolean; leads: number }[];
    store?: { reachable: boolean; latencyMs?: number };
    adverts?: { sent: number; received: number; rejected: Record<string, number> };
  };
  dhcp?: z.infer<typeof DhcpSummary>;
}

/** The replica's view of its peers and the store, for `weft status`. */
function replicaLines(r: NonNullable<Status['replica']>, now = Date.now()): string[] {
  if (!r.election) return [`replica ${r.replicaId}: single replica, leads every network`, ''];
  const rejected = Object.entries(r.adverts?.rejected ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `replica ${r.replicaId}, adverts on ${r.address ?? '-'}, leads ${r.leads} network(s); store ${r.store?.reachable ? `reachable (${r.store.latencyMs ?? '-'} ms)` : 'UNREACHABLE'}`,
    `adverts sent ${r.adverts?.sent ?? 0}, received ${r.adverts?.received ?? 0}, ignored: ${rejected || 'none'}`,
    '',
    table(['PEER', 'ADDRESS', 'STATE', 'LAST ADVERT', 'LEADS'], r.peers.map((p) => [p.replicaId, p.address, p.live ? 'live' : 'dead', `${Math.max(0, now - p.lastSeen)} ms ago`, p.leads])),
  ];
}

interface Event {
  revision: number;
  kind: string;
  key: string;
  action: string;
}

export function registerStatus(program: Command): void {
  clientCommand(program, 'status', "version, uptime, listeners, object counts, and the replica's view of its peers and the store").action((_o: unknown, cmd: Command) =>
    call<Status>(cmd, 'status', {}, (s) => {
      const lines = [
        `weft ${s.version}, up ${s.uptime} s, store ${s.store.backend} at revision ${s.store.revision}${s.tenant ? `, tenant ${s.tenant}` : ''}`,
        '',
        ...(s.replica ? replicaLines(s.replica) : []),
        ...(s.dhcp ? [dhcpSummaryLine(s.dhcp), ''] : []),
        table(['LISTENER', 'ADDRESS'], s.listeners.map((l) => [l.name, l.address])),
        table(['KIND', 'COUNT'], Object.entries(s.counts).map(([k, n]) => [k, n])),
      ];
      return lines.join('\n');
    }),
  );
  clientCommand(program, 'events', 'follow object changes as they happen (Ctrl-C to stop)')
    .option('--kind <kind>', 'only this kind: tenant, network, reservation, host, port, lease, token (repeatable)', collect)
    .action((o: { kind?: string[] }, cmd: Command) =>
      stream(cmd, 'events.subscribe', o.kind ? { kinds: o.kind } : {}, (method, params, json) => {
        if (method !== 'event') return;
        const e = params as Event;
        process.stdout.write(json ? `${JSON.stringify(e)}\n` : `${e.revision}  ${e.action.padEnd(7)}  ${e.kind} ${e.key}\n`);
      }),
    );
}
