// weft status, weft events
import type { Command } from 'commander';
import { call, clientCommand, collect, stream, table } from './client.js';

interface Status {
  version: string;
  uptime: number;
  store: { backend: string; revision: number };
  listeners: { name: string; address: string }[];
  counts: Record<string, number>;
  tenant?: string;
}

interface Event {
  revision: number;
  kind: string;
  key: string;
  action: string;
}

export function registerStatus(program: Command): void {
  clientCommand(program, 'status', 'version, uptime, listeners and object counts').action((_o: unknown, cmd: Command) =>
    call<Status>(cmd, 'status', {}, (s) => {
      const lines = [
        `weft ${s.version}, up ${s.uptime} s, store ${s.store.backend} at revision ${s.store.revision}${s.tenant ? `, tenant ${s.tenant}` : ''}`,
        '',
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
