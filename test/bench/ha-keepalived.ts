// The keepalived side of `npm run bench -- ha`: keepalived 2.2 (VRRPv3) in
// two network namespaces, MASTER at priority 150 and BACKUP at 100, unicast
// adverts, moving the VIP 198.18.0.100/24; a third namespace, the client,
// joins them with a Linux bridge (a veth from each to a port of it) and
// pings the VIP every 10 ms from the bridge's own address. A trial is a
// power cut of the master: its link goes down and its process group gets
// kill -9 (the parent and its VRRP child at once, so that neither sends a
// priority-0 advert nor respawns the other). A kill alone would leave the
// VIP on the master's interface, where its kernel would go on answering the
// ping. Two gaps from the cut: the VIP added on the backup's interface, as
// `ip monitor address` reports it, and the longest wait between two replies
// of the ping (the client moves to the backup on its gratuitous ARP).
// Debian's keepalived is installed when missing, with its system service
// kept from starting. A helper module: it exports no run().
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Proc } from '../harness/daemon.js';
import { registerCleanup, run as runCommand, runId, sleep } from '../harness/proc.js';
import { Ping } from './ha-probes.js';

const KEEPALIVED = '/usr/sbin/keepalived';
const VIP = '198.18.0.100';
const CLIENT = '198.18.0.3';
/** How long the ping goes on after it has come back, so that a late loss would show. */
const PING_AFTER_MS = 500;
const MASTER_PRIORITY = 150;
export const BACKUP_PRIORITY = 100;

/** RFC 5798's Master_Down_Interval: 3 intervals + the skew, (256 - priority) / 256 of one. */
export function vrrpMasterDownMs(priority: number, intervalMs: number): number {
  return 3 * intervalMs + ((256 - priority) * intervalMs) / 256;
}

/** Debian's keepalived, installed when missing; policy-rc.d 101 keeps apt from starting its service. */
export async function keepalived(): Promise<string> {
  if (!existsSync(KEEPALIVED)) {
    process.stderr.write('bench: installing keepalived\n');
    const policy = '/usr/sbin/policy-rc.d';
    const guard = !existsSync(policy);
    if (guard) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const install = ['install', '-y', '--no-install-recommends', 'keepalived'];
      const first = await runCommand('apt-get', install, { timeout: 600_000, env, allowFailure: true });
      if (first.code !== 0) {
        await runCommand('apt-get', ['update'], { timeout: 600_000, env });
        await runCommand('apt-get', install, { timeout: 600_000, env });
      }
    } finally {
      if (guard) unlinkSync(policy);
    }
  }
  return (await runCommand(KEEPALIVED, ['--version'], { allowFailure: true })).stderr.split('\n')[0]!.trim();
}

interface Node {
  netns: string;
  dev: string;
  address: string;
  peer: string;
  state: 'MASTER' | 'BACKUP';
  priority: number;
}

function config(node: Node, intervalMs: number): string {
  return `global_defs {
  router_id ${node.netns}
  vrrp_version 3
}
vrrp_instance weft_bench {
  state ${node.state}
  interface ${node.dev}
  virtual_router_id 51
  priority ${node.priority}
  advert_int ${intervalMs / 1000}
  unicast_src_ip ${node.address}
  unicast_peer {
    ${node.peer}
  }
  virtual_ipaddress {
    ${VIP}/24 dev ${node.dev}
  }
}
`;
}

async function hasVip(node: Node): Promise<boolean> {
  const r = await runCommand('ip', ['-n', node.netns, '-o', '-4', 'addr', 'show', 'dev', node.dev]);
  return r.stdout.includes(` ${VIP}/`);
}

/** Three namespaces and a bridge; `close` removes them and stops what still runs in them, also when the bench process dies. */
class Pair {
  readonly master: Node;
  readonly backup: Node;
  readonly client: string;
  private readonly procs = new Set<Proc>();
  private readonly unregister: () => void;

  constructor(readonly dir: string) {
    const id = runId();
    this.master = { netns: `weft-ka-${id}-m`, dev: 'ka0', address: '198.18.0.1', peer: '198.18.0.2', state: 'MASTER', priority: MASTER_PRIORITY };
    this.backup = { netns: `weft-ka-${id}-b`, dev: 'ka1', address: '198.18.0.2', peer: '198.18.0.1', state: 'BACKUP', priority: BACKUP_PRIORITY };
    this.client = `weft-ka-${id}-c`;
    this.unregister = registerCleanup(() => {
      // Synchronous: an exit handler cannot wait. keepalived and ping are SIGKILLed by Proc's own cleanup.
      for (const ns of this.namespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
    });
  }

  private get namespaces(): string[] {
    return [this.master.netns, this.backup.netns, this.client];
  }

  async open(): Promise<void> {
    for (const ns of this.namespaces) {
      await runCommand('ip', ['netns', 'add', ns]);
      await runCommand('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const c = this.client;
    await runCommand('ip', ['-n', c, 'link', 'add', 'kabr', 'type', 'bridge']);
    await runCommand('ip', ['-n', c, 'addr', 'add', `${CLIENT}/24`, 'dev', 'kabr']);
    await runCommand('ip', ['-n', c, 'link', 'set', 'kabr', 'up']);
    for (const n of [this.master, this.backup]) {
      const port = `${n.dev}p`;
      await runCommand('ip', ['-n', n.netns, 'link', 'add', n.dev, 'type', 'veth', 'peer', 'name', port, 'netns', c]);
      await runCommand('ip', ['-n', c, 'link', 'set', port, 'master', 'kabr', 'up']);
      await runCommand('ip', ['-n', n.netns, 'addr', 'add', `${n.address}/24`, 'dev', n.dev]);
      await runCommand('ip', ['-n', n.netns, 'link', 'set', n.dev, 'up']);
    }
  }

  start(node: Node, intervalMs: number): Proc {
    const conf = join(this.dir, `${node.state}.conf`);
    writeFileSync(conf, config(node, intervalMs));
    const pid = join(this.dir, `${node.state}.pid`);
    const vrrpPid = join(this.dir, `${node.state}-vrrp.pid`);
    // --vrrp: no checker child; -n: the parent stays this process (and its group's leader), so one group signal reaches both.
    const p = new Proc('ip', ['netns', 'exec', node.netns, KEEPALIVED, '-n', '-l', '--vrrp', '-f', conf, '-p', pid, '-r', vrrpPid], { detached: true });
    this.procs.add(p);
    void p.exit.then(() => this.procs.delete(p));
    return p;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.kill()));
    // A killed VRRP child may stay a zombie until init reaps it, and keepalived refuses to start while its pid file names a live pid.
    for (const f of readdirSync(this.dir)) if (f.endsWith('.pid')) rmSync(join(this.dir, f), { force: true });
    for (const n of [this.master, this.backup]) {
      await runCommand('ip', ['-n', n.netns, 'addr', 'del', `${VIP}/24`, 'dev', n.dev], { allowFailure: true });
      // Back from the power cut.
      await runCommand('ip', ['-n', n.netns, 'link', 'set', n.dev, 'up']);
    }
  }

  async close(): Promise<void> {
    await this.stopAll().catch(() => undefined);
    for (const ns of this.namespaces) await runCommand('ip', ['netns', 'del', ns], { allowFailure: true });
    this.unregister();
  }
}

/** Resolves with performance.now() when `ip monitor address` in the backup's namespace shows the VIP added; rejects after `ms`. */
function watchVip(node: Node, ms: number): { added: Promise<number>; ready: Promise<void>; stop: () => void } {
  const child = spawn('ip', ['-n', node.netns, 'monitor', 'address', 'dev', node.dev], { stdio: ['ignore', 'pipe', 'ignore'] });
  let buf = '';
  let resolveAdded: (t: number) => void;
  let timer: NodeJS.Timeout | undefined;
  const added = new Promise<number>((resolve, reject) => {
    resolveAdded = resolve;
    timer = setTimeout(() => reject(new Error(`keepalived: the VIP did not move within ${ms} ms`)), ms);
  });
  // Awaited only once the master is killed: a rejection before then must not count as unhandled.
  added.catch(() => undefined);
  const ready = new Promise<void>((r) => child.once('spawn', () => setTimeout(r, 100)));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const at = performance.now();
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    if (lines.some((l) => !l.startsWith('Deleted') && l.includes(` ${VIP}/`))) resolveAdded(at);
  });
  return {
    added, ready, stop: () => {
      clearTimeout(timer);
      child.kill('SIGKILL');
    },
  };
}

async function until(what: string, ms: number, test: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await test())) {
    if (performance.now() > deadline) throw new Error(`keepalived: ${what} not within ${ms} ms`);
    await sleep(10);
  }
}

export interface KeepalivedTrial {
  vipGapMs: number;
  pingGapMs: number;
  pingLost: number;
  pingSpacingMs: number;
  /** When the longest wait between ping replies began, ms from the cut (negative: before it). */
  pingGapStartMs: number;
}

export interface KeepalivedFigures {
  intervalMs: number;
  trials: KeepalivedTrial[];
}

/** `trials` power cuts of the master at each interval; each trial starts both keepalived afresh. */
export async function measureKeepalived(intervals: number[], trials: number): Promise<KeepalivedFigures[]> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ka-'));
  const pair = new Pair(dir);
  const { master, backup } = pair;
  const out: KeepalivedFigures[] = [];
  try {
    await pair.open();
    for (const intervalMs of intervals) {
      const results: KeepalivedTrial[] = [];
      for (let trial = 0; trial < trials; trial++) {
        const m = pair.start(master, intervalMs);
        const b = pair.start(backup, intervalMs);
        try {
          // The master holds the VIP and the backup does not: it has heard the master's adverts.
          await until('the master holding the VIP', 10_000 + 10 * intervalMs, async () => {
            for (const p of [m, b]) if (!p.running) throw new Error(`keepalived exited: ${p.stdout()}${p.stderr()}`);
            return (await hasVip(master)) && !(await hasVip(backup));
          });
          const watch = watchVip(backup, 60_000);
          const ping = Ping.start(pair.client, VIP);
          let vipGapMs: number;
          let cutWall = 0;
          try {
            await Promise.all([watch.ready, ping.warm(20)]);
            // Let a few adverts go by so the cut lands at a random point of the interval.
            await sleep(intervalMs * 2 + Math.random() * intervalMs);
            if (await hasVip(backup)) throw new Error('keepalived: the backup took the VIP while the master ran');
            const cutAt = performance.now();
            cutWall = Date.now();
            const down = runCommand('ip', ['-n', master.netns, 'link', 'set', master.dev, 'down']);
            await m.kill();
            await down;
            vipGapMs = Math.round((await watch.added) - cutAt);
            const before = ping.replies().length;
            await until('the ping to the VIP answered again', 60_000, async () => ping.replies().length > before);
            await sleep(PING_AFTER_MS);
          } catch (e) {
            await ping.stop().catch(() => undefined);
            throw e;
          } finally {
            watch.stop();
          }
          const pinged = await ping.stop();
          results.push({ vipGapMs, pingGapMs: pinged.largestGapMs, pingLost: pinged.lost, pingSpacingMs: pinged.medianGapMs, pingGapStartMs: Math.round(pinged.largestGapFrom - cutWall) });
          process.stderr.write(`bench ha: keepalived, advert_int ${intervalMs} ms, trial ${trial + 1}: VIP ${vipGapMs} ms, ping ${pinged.largestGapMs} ms (${pinged.lost} lost of ${pinged.sent})\n`);
        } finally {
          await pair.stopAll();
        }
      }
      out.push({ intervalMs, trials: results });
    }
  } finally {
    await pair.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
