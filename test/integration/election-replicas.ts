// Real `weft serve` replicas for the election's acceptance test and the ha
// benchmark: N processes on loopback, each with its own API, OVSDB, OpenFlow
// and advert ports, the others' advert addresses as peers, one shared advert
// key, all on one store (a 3-member ovsdb-server Raft cluster).
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../harness/cluster.js';
import { apiAddress, LOOPBACK_LISTENERS, rpc, weft, type Exit, type Proc } from '../harness/daemon.js';
import { sleep } from '../harness/proc.js';

export const ADVERT_KEY = 'acceptance-test advert key, 32 b';

/** A UDP port that was free a moment ago: a replica's advert port must be known to its peers before it starts. */
function freeUdp(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

import type { LeaderRow } from '../../src/api/methods/leader.js';

export type { LeaderRow };

export interface Replica {
  id: string;
  /** The API's base URL, `http://HOST:PORT`, of its latest start. */
  api: string;
  advertPort: number;
  data: string;
  process?: Proc;
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

  private constructor(readonly cluster: Cluster, readonly dir: string, readonly options: ReplicasOptions) {}

  static async start(options: ReplicasOptions): Promise<Replicas> {
    const cluster = await Cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'weft-ha-'));
    const set = new Replicas(cluster, dir, options);
    try {
      const count = options.count ?? 3;
      for (let i = 0; i < count; i++) {
        set.replicas.push({ id: `replica-${i + 1}`, api: '', advertPort: await freeUdp(), data: join(dir, `r${i + 1}`) });
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
      'serve', '--data', r.data, '--store', `ovsdb:${this.cluster.remotes.join(',')}`, ...LOOPBACK_LISTENERS,
      '--replica-id', r.id, '--advert-listen', `127.0.0.1:${r.advertPort}`, ...peers,
      '--advert-key', ADVERT_KEY, '--advert-interval', String(this.options.intervalMs),
      ...(this.options.extra?.(i) ?? []),
    ];
  }

  async startReplica(i: number): Promise<void> {
    const r = this.replicas[i]!;
    r.process = weft(this.args(i));
    r.api = apiAddress(await r.process.ready(60_000)).replace(/\/rpc$/, '');
  }

  async rpc<T>(i: number, method: string, params: unknown = {}): Promise<T> {
    const body = await rpc<T>(this.replicas[i]!.api, this.token, method, params, 5000);
    if (body.error) throw new Error(`${method} on ${this.replicas[i]!.id}: ${body.error.message}`);
    return body.result as T;
  }

  /** Everything replica i logged since its latest start. */
  log(i: number): string {
    const p = this.replicas[i]!.process;
    return p ? p.stdout() + p.stderr() : '';
  }

  /** The leader of a network as replica i reports it, and whether i says it leads. */
  async leaderSeenBy(i: number, network: string): Promise<LeaderRow | undefined> {
    const r = await this.rpc<{ leaders: LeaderRow[] }>(i, 'leader.list', { network });
    return r.leaders[0];
  }

  alive(): number[] {
    return this.replicas.flatMap((r, i) => (r.process?.running ? [i] : []));
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

  /** Sends replica i `signal` and resolves with how it exited. */
  kill(i: number, signal: NodeJS.Signals): Promise<Exit> {
    return this.replicas[i]!.process!.stop(signal);
  }

  async teardown(): Promise<void> {
    for (const r of this.replicas) await r.process?.kill();
    await this.cluster.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
