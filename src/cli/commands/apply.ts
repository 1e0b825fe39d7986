// weft apply -f FILE [--dry-run] [--prune] [--wait]
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { call, clientCommand, usage, waitOptions, waitParams, withWaited, type WaitFlags, type Waited } from './client.js';

interface Change {
  action: 'create' | 'update' | 'delete';
  kind: string;
  key: string;
  fields?: string[];
}
interface Applied {
  applied: boolean;
  revision?: number;
  changes: Change[];
  waited?: Waited[];
}

const SIGN = { create: '+', update: '~', delete: '-' } as const;

export function renderDiff(result: Applied, dryRun: boolean): string {
  if (result.changes.length === 0) return 'no changes\n';
  const lines = result.changes.map((c) => `${SIGN[c.action]} ${c.kind} ${c.key}${c.fields ? ` (${c.fields.join(', ')})` : ''}`);
  const n = result.changes.length;
  lines.push(dryRun ? `${n} change${n === 1 ? '' : 's'} (dry run, nothing applied)` : `applied ${n} change${n === 1 ? '' : 's'} at revision ${result.revision}`);
  return `${lines.join('\n')}\n`;
}

export function registerApply(program: Command): void {
  waitOptions(clientCommand(program, 'apply', "make a tenant match a manifest (YAML or JSON); prints the diff"))
    .requiredOption('-f, --file <file>', 'the manifest, or - for stdin')
    .option('--dry-run', 'show the diff without applying it')
    .option('--prune', "delete the tenant's networks and reservations the manifest does not list")
    .action((o: { file: string; dryRun?: boolean; prune?: boolean } & WaitFlags, cmd: Command) => {
      let text: string;
      try {
        text = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
      } catch (err) {
        usage(cmd, `cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      let manifest: unknown;
      try {
        manifest = parse(text, { maxAliasCount: 100 });
      } catch (err) {
        usage(cmd, `${o.file} is not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
      }
      if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) usage(cmd, `${o.file} must hold one manifest object`);
      const dryRun = o.dryRun === true;
      if (dryRun && o.wait) usage(cmd, '--wait with --dry-run: a dry run changes no switch');
      return call<Applied>(cmd, 'apply', { manifest, dryRun, prune: o.prune === true, ...waitParams(cmd, o) }, withWaited((r) => renderDiff(r, dryRun)));
    });
}
