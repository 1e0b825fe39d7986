// Real `weft serve` replicas for the election's acceptance test and the ha
// benchmark: N processes on loopback, each with its own API, OVSDB, OpenFlow
// and advert ports, the others' advert addresses as peers, one shared advert
// key, all on one store (a 3-member ovsdb-server Raft cluster).
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../harness/cluster.js';
import { registerCleanup, sleep } from '../harness/proc.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(root, 'dist/src/cli/main.js');
export const ADVERT_KEY = 'acceptance-test advert key, 32 b';

function freeTcp(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function freeUdp(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

export interface LeaderRow {
  network: string;
  leader: string | null;
  term: number;
  role: string;
}

export interface Replica {
  id: string;
  api: string;
  advertPort: number;
  data: string;
  process?: ChildProcess;
  exited?: Promise<void>;
  log: string;
}

export interface ReplicasOptions {
  count?: number;
  intervalMs: number;
  /** Extra `weft serve` arguments per replica index. */
  extra?: (i: number) => string[];
}

export class Replicas {
  readonly replicas: Replica[] = [];
  token = '';
  private unregister: () => void;

  private constructor(readonly cluster: Cluster, readonly dir: string, readonly options: ReplicasOptions) {
    this.unregister = registerCleanup(() => {
      for (const r of this.replicas) if (r.process?.pid && r.process.exitCode === null) r.process.kill('SIGKILL');
    });
  }

  static async start(options: ReplicasOptions): Promise<Replicas> {
    const cluster = await Cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'weft-ha-'));
    const set = new Replicas(cluster, dir, options);
    try {
      const count = options.count ?? 3;
      for (let i = 0; i < count; i++) {
        set.replicas.push({ id: `replica-${i + 1}`, api: `http://127.0.0.1:${await freeTcp()}`, advertPort: await freeUdp(), data: join(dir, `r${i + 1}`), log: '' });
      }
      // The first start writes the admin token to its data directory; the others share its store.
      await set.startReplica(0);
      set.token = readFileSync(join(set.replicas[0]!.data, 'admin.token'), 'utf8').trim();
      for (let i = 1; i < count; i++) await set.startReplica(i);
    } catch (e) {
      await set.teardown();
      throw e;
    }
    return set;
  }

  args(i: number): string[] {
    const r = this.replicas[i]!;
    const peers = this.replicas.filter((_, j) => j !== i).flatMap((p) => ['--peer', `127.0.0.1:${p.advertPort}`]);
    return [
      CLI, 'serve', '--data', r.data, '--store', `ovsdb:${this.cluster.remotes.join(',')}`,
      '--api', r.api.replace('http://', ''), '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1',
      '--replica-id', r.id, '--advert-listen', `127.0.0.1:${r.advertPort}`, ...peers,
      '--advert-key', ADVERT_KEY, '--advert-interval', String(this.options.intervalMs),
      ...(this.options.extra?.(i) ?? []),
    ];
  }

  async startReplica(i: number): Promise<void> {
    const r = this.replicas[i]!;
    r.log = '';
    const p = spawn(process.execPath, this.args(i), { stdio: ['ignore', 'pipe', 'pipe'] });
    r.process = p;
    p.stdout!.on('data', (c: Buffer) => (r.log = (r.log + c.toString()).slice(-200_000)));
    p.stderr!.on('data', (c: Buffer) => (r.log = (r.log + c.toString()).slice(-200_000)));
    r.exited = new Promise((resolve) => p.once('exit', () => resolve()));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (await fetch(`${r.api}/healthz`).then((res) => res.ok, () => false)) return;
      if (p.exitCode !== null || Date.now() > deadline) throw new Error(`${r.id} did not come up:\n${r.log}`);
      await sleep(50);
    }
  }

  async rpc<T>(i: number, method: string, params: unknown = {}): Promise<T> {
    const res = await fetch(`${this.replicas[i]!.api}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method} on ${this.replicas[i]!.id}: ${body.error.message}`);
    return body.result as T;
  }

  /** The leader of a network as replica i reports it, and whether i says it leads. */
  async leaderSeenBy(i: number, network: string): Promise<LeaderRow | undefined> {
    const r = await this.rpc<{ leaders: LeaderRow[] }>(i, 'leader.list', { network });
    return r.leaders[0];
  }

  alive(): number[] {
    return this.replicas.flatMap((r, i) => (r.process && r.process.exitCode === null && r.process.signalCode === null ? [i] : []));
  }

  /** The replicas (among the live ones) whose own role for the network is leader. */
  async selfLeaders(network: string): Promise<number[]> {
    const out: number[] = [];
    for (const i of this.alive()) {
      const row = await this.leaderSeenBy(i, network).catch(() => undefined);
      if (row?.role === 'leader') out.push(i);
    }
    return out;
  }

  /** Polls every `ms` until some live replica other than `not` reports itself leader; the time from `since` it was first seen. */
  async waitNewLeader(network: string, not: number, since: number, timeoutMs = 30_000, ms = 5): Promise<{ index: number; gapMs: number }> {
    const others = this.alive().filter((i) => i !== not);
    for (;;) {
      const rows = await Promise.all(others.map((i) => this.leaderSeenBy(i, network).catch(() => undefined)));
      const at = performance.now();
      const k = rows.findIndex((r) => r?.role === 'leader');
      if (k >= 0) return { index: others[k]!, gapMs: at - since };
      if (at - since > timeoutMs) throw new Error(`no new leader of ${network} after ${timeoutMs} ms`);
      await sleep(ms);
    }
  }

  async kill(i: number, signal: NodeJS.Signals): Promise<void> {
    const r = this.replicas[i]!;
    r.process?.kill(signal);
    await r.exited;
  }

  async teardown(): Promise<void> {
    for (const r of this.replicas) {
      if (r.process && r.process.exitCode === null && r.process.signalCode === null) {
        r.process.kill('SIGKILL');
        await r.exited;
      }
    }
    this.unregister();
    await this.cluster.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
