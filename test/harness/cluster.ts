// A private ovsdb-server Raft cluster for tests: N members of weft's `Weft`
// database in a fresh temp dir, talking Raft and serving clients over unix
// sockets (no ports to allocate, nothing reachable from outside). The first
// member creates the cluster, the others join it. Members can be stopped,
// killed with SIGKILL and started again; teardown kills whatever is left and
// removes the directory, also when the test process dies of a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEFT_SCHEMA_PATH } from '../../src/store/ovsdb-cluster.js';
import { alive, out, registerCleanup, run, sleep, waitGone } from './proc.js';

export interface Member {
  name: string;
  /** The database file (the member's Raft log). */
  db: string;
  /** Where weft connects: `unix:...`. */
  remote: string;
  /** The member's Raft address. */
  raft: string;
  /** The unixctl socket, for `ovs-appctl -t`. */
  ctl: string;
  log: string;
  process?: ChildProcess;
}

const keep = ['1', 'true'].includes((process.env.WEFT_KEEP_LAB ?? '').toLowerCase());

export class Cluster {
  readonly members: Member[];
  private unregister: () => void;

  private constructor(
    readonly dir: string,
    size: number,
  ) {
    this.members = Array.from({ length: size }, (_, i) => ({
      name: `s${i + 1}`,
      db: join(dir, `s${i + 1}.db`),
      remote: `unix:${join(dir, `s${i + 1}.sock`)}`,
      raft: `unix:${join(dir, `s${i + 1}.raft`)}`,
      ctl: join(dir, `s${i + 1}.ctl`),
      log: join(dir, `s${i + 1}.log`),
    }));
    this.unregister = registerCleanup(() => this.killAllSync());
  }

  /** Creates and starts an N-member cluster (default 3) in a new directory under `parent` (default the OS temp dir) and waits until it has a leader. */
  static async start(options: { size?: number; schema?: string; parent?: string } = {}): Promise<Cluster> {
    const dir = mkdtempSync(join(options.parent ?? tmpdir(), 'weft-cluster-'));
    const cluster = new Cluster(dir, options.size ?? 3);
    try {
      const [first, ...rest] = cluster.members;
      await run('ovsdb-tool', ['create-cluster', first!.db, options.schema ?? WEFT_SCHEMA_PATH, first!.raft]);
      for (const m of rest) await run('ovsdb-tool', ['join-cluster', m.db, 'Weft', m.raft, first!.raft]);
      for (let i = 0; i < cluster.members.length; i++) await cluster.startMember(i);
      await cluster.leader();
      for (let i = 0; i < cluster.members.length; i++) await cluster.waitMember(i);
    } catch (e) {
      await cluster.teardown();
      throw e;
    }
    return cluster;
  }

  /** The client remotes of every member, in member order. */
  get remotes(): string[] {
    return this.members.map((m) => m.remote);
  }

  /** Starts (or restarts) member `i` and waits until it accepts clients. */
  async startMember(i: number): Promise<void> {
    const m = this.members[i]!;
    if (m.process && alive(m.process.pid!)) return;
    const p = spawn(
      'ovsdb-server',
      [
        '--no-chdir',
        `--remote=p${m.remote}`,
        `--unixctl=${m.ctl}`,
        `--log-file=${m.log}`,
        '-vconsole:off',
        '-vfile:info',
        m.db,
      ],
      { stdio: 'ignore' },
    );
    p.on('error', () => {});
    m.process = p;
    const path = m.remote.slice('unix:'.length);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`${m.name}: ovsdb-server exited with ${p.exitCode}; see ${m.log}`);
      if (existsSync(path) && (await accepts(path))) return;
      if (Date.now() > deadline) throw new Error(`${m.name}: ovsdb-server does not accept clients on ${path}`);
      await sleep(20);
    }
  }

  /** SIGKILL, as a crash or power loss would stop it. */
  async kill(i: number): Promise<void> {
    await this.signal(i, 'SIGKILL');
  }

  /** SIGTERM: a clean stop. */
  async stop(i: number): Promise<void> {
    await this.signal(i, 'SIGTERM');
  }

  private async signal(i: number, sig: NodeJS.Signals): Promise<void> {
    const p = this.members[i]!.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill(sig);
    await gone;
    await waitGone(p.pid!);
  }

  /** `ovs-appctl cluster/status` of member i. */
  status(i: number): Promise<string> {
    return out('ovs-appctl', ['-t', this.members[i]!.ctl, 'cluster/status', 'Weft'], { timeout: 5_000 });
  }

  /** Whether member i is up (its process lives). */
  running(i: number): boolean {
    const p = this.members[i]!.process;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** The index of the current leader, waiting (up to 20 s) for one to be elected among the running members. */
  async leader(timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.members.length; i++) {
        if (!this.running(i)) continue;
        const s = await this.status(i).catch(() => '');
        if (/^Role: leader$/m.test(s)) return i;
      }
      if (Date.now() > deadline) throw new Error('the cluster has no leader');
      await sleep(50);
    }
  }

  /** Waits until member i is a connected cluster member that has caught up with the log. */
  async waitMember(i: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status(i).catch(() => '');
      if (/^Status: cluster member$/m.test(s) && /^Leader: (?!unknown)/m.test(s) && /^Entries not yet applied: 0$/m.test(s)) return;
      if (Date.now() > deadline) throw new Error(`${this.members[i]!.name} did not join: ${s}`);
      await sleep(50);
    }
  }

  async teardown(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    this.unregister();
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }

  private killAllSync(): void {
    for (const m of this.members) {
      try {
        m.process?.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
