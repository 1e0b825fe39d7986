// Three `weft serve` replicas managing a lab: each listens for OVSDB and
// OpenFlow on the root side of every management link (ports of its own),
// all share one 3-member ovsdb-server Raft cluster, and their adverts and
// store connections pass through relays in the test process, so a replica
// can be cut off for real: its adverts in and out, and its store sessions,
// stop arriving while the process runs on (a partition, not a pause).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../harness/cluster.js';
import { apiAddress, rpc, weft, type Exit, type Proc } from '../harness/daemon.js';
import type { Hypervisor } from '../harness/lab.js';
import { sleep } from '../harness/proc.js';
import { ADVERT_KEY, type LeaderRow } from '../integration/election-replicas.js';
import { freePort } from './weft.js';

function udp(port = 0): Promise<UdpSocket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.on('error', () => {});
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

/**
 * A relay in front of each replica's advert socket: peers send to the relay,
 * the relay forwards to the replica. Cutting replica k drops what arrives
 * for it and what it sends (recognised by its socket's port).
 */
class AdvertRelays {
  cut: number | undefined;
  dropped = 0;

  private constructor(
    private readonly relays: UdpSocket[],
    readonly listenPorts: number[],
  ) {}

  static async start(count: number): Promise<AdvertRelays> {
    const relays = await Promise.all(Array.from({ length: count }, () => udp()));
    // The replicas' own sockets: ports free a moment ago, bound by the replicas.
    const probes = await Promise.all(Array.from({ length: count }, () => udp()));
    const listenPorts = probes.map((s) => s.address().port);
    await Promise.all(probes.map((s) => new Promise<void>((r) => s.close(() => r()))));
    const set = new AdvertRelays(relays, listenPorts);
    relays.forEach((s, j) =>
      s.on('message', (msg, from) => {
        const k = set.cut;
        if (k !== undefined && (j === k || from.port === listenPorts[k])) {
          set.dropped++;
          return;
        }
        s.send(msg, listenPorts[j]!, '127.0.0.1');
      }),
    );
    return set;
  }

  /** Where peers send replica j's adverts. */
  port(j: number): number {
    return this.relays[j]!.address().port;
  }

  async close(): Promise<void> {
    await Promise.all(this.relays.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/**
 * One replica's way to the cluster: a unix-socket relay per member. Cut, it
 * forwards nothing either way (connections stay open, as behind a dropped
 * link); healed, the connections that lost bytes are closed so the client
 * reconnects.
 */
class StoreRelay {
  private isCut = false;
  private readonly pairs = new Set<net.Socket[]>();
  private readonly tainted = new Set<net.Socket[]>();

  private constructor(
    private readonly servers: net.Server[],
    readonly remotes: string[],
  ) {}

  static async start(dir: string, name: string, upstream: string[]): Promise<StoreRelay> {
    const servers: net.Server[] = [];
    const remotes: string[] = [];
    const relay = new StoreRelay(servers, remotes);
    for (const [i, remote] of upstream.entries()) {
      const path = join(dir, `${name}-s${i + 1}.sock`);
      const server = net.createServer((client) => relay.accept(client, remote.slice('unix:'.length)));
      await new Promise<void>((r) => server.listen(path, r));
      servers.push(server);
      remotes.push(`unix:${path}`);
    }
    return relay;
  }

  private accept(client: net.Socket, path: string): void {
    const server = net.connect({ path });
    const pair = [client, server];
    this.pairs.add(pair);
    if (this.isCut) this.tainted.add(pair);
    const end = () => {
      client.destroy();
      server.destroy();
      this.pairs.delete(pair);
      this.tainted.delete(pair);
    };
    for (const [from, to] of [[client, server], [server, client]] as const) {
      from.on('data', (d) => {
        if (!this.isCut) to.write(d);
      });
      from.on('error', end);
      from.on('close', end);
    }
  }

  cut(): void {
    this.isCut = true;
    for (const p of this.pairs) this.tainted.add(p);
  }

  heal(): void {
    this.isCut = false;
    for (const p of this.tainted) for (const s of p) s.destroy();
    this.tainted.clear();
  }

  async close(): Promise<void> {
    for (const p of this.pairs) for (const s of p) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export interface LabReplica {
  id: string;
  /** The API's base URL, `http://HOST:PORT`, of its latest start. */
  api: string;
  ovsdbPort: number;
  openflowPort: number;
  data: string;
  process?: Proc;
}

export interface LabReplicasOptions {
  hypervisors: Hypervisor[];
  /** The address every hypervisor reaches every replica at (the root side of a management link). */
  controllerIp: string;
  intervalMs: number;
  count?: number;
  /** false: `--no-preempt`, a better replica that comes back leaves a live leader alone. */
  preempt?: boolean;
}

export class LabReplicas {
  readonly replicas: LabReplica[] = [];
  token = '';

  private constructor(
    readonly cluster: Cluster,
    readonly dir: string,
    readonly adverts: AdvertRelays,
    /** Per replica, its relay to the cluster's members. */
    readonly stores: StoreRelay[],
    readonly options: LabReplicasOptions,
  ) {}

  static async start(options: LabReplicasOptions): Promise<LabReplicas> {
    const count = options.count ?? 3;
    const cluster = await Cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'weft-ha-lab-'));
    const adverts = await AdvertRelays.start(count);
    const stores: StoreRelay[] = [];
    const set = new LabReplicas(cluster, dir, adverts, stores, options);
    try {
      for (let i = 0; i < count; i++) {
        stores.push(await StoreRelay.start(dir, `r${i + 1}`, cluster.remotes));
        set.replicas.push({ id: `replica-${i + 1}`, api: '', ovsdbPort: await freePort(), openflowPort: await freePort(), data: join(dir, `r${i + 1}`) });
      }
      await set.startReplica(0);
      set.token = readFileSync(join(set.replicas[0]!.data, 'admin.token'), 'utf8').trim();
      for (let i = 1; i < count; i++) await set.startReplica(i);
    } catch (e) {
      await set.teardown();
      throw e;
    }
    return set;
  }

  /** What `set-manager` gets on every hypervisor: one target per replica. */
  get managers(): string[] {
    return this.replicas.map((r) => `tcp:${this.options.controllerIp}:${r.ovsdbPort}`);
  }

  /** What every bridge's controllers are: one target per replica. */
  get controllerTargets(): string[] {
    return this.replicas.map((r) => `tcp:${this.options.controllerIp}:${r.openflowPort}`);
  }

  args(i: number): string[] {
    const r = this.replicas[i]!;
    const listen = (port: number) => this.options.hypervisors.map((hv) => `ptcp:${port}:${hv.mgmt!.controllerIp}`);
    const peers = this.replicas.flatMap((_, j) => (j === i ? [] : ['--peer', `127.0.0.1:${this.adverts.port(j)}`]));
    return [
      'serve', '--data', r.data, '--store', `ovsdb:${this.stores[i]!.remotes.join(',')}`, '--api', '127.0.0.1:0',
      ...listen(r.ovsdbPort).flatMap((x) => ['--ovsdb', x]),
      ...listen(r.openflowPort).flatMap((x) => ['--openflow', x]),
      ...this.controllerTargets.flatMap((x) => ['--controller-target', x]),
      '--admit', 'cidr:198.19.0.0/16',
      '--replica-id', r.id, '--advert-listen', `127.0.0.1:${this.adverts.listenPorts[i]}`, ...peers,
      '--advert-key', ADVERT_KEY, '--advert-interval', String(this.options.intervalMs),
      ...(this.options.preempt === false ? ['--no-preempt'] : []),
    ];
  }

  async startReplica(i: number): Promise<void> {
    const r = this.replicas[i]!;
    r.process = weft(this.args(i));
    r.api = apiAddress(await r.process.ready(60_000)).replace(/\/rpc$/, '');
  }

  async rpc<T>(i: number, method: string, params: unknown = {}): Promise<T> {
    const body = await rpc<T>(this.replicas[i]!.api, this.token, method, params, 10_000);
    if (body.error) throw new Error(`${method} on ${this.replicas[i]!.id}: ${body.error.message}`);
    return body.result as T;
  }

  /** Everything replica i logged since its latest start. */
  log(i: number): string {
    const p = this.replicas[i]!.process;
    return p ? p.stdout() + p.stderr() : '';
  }

  /**
   * The network's row of replica i's `leader.list`. Asked for all networks:
   * naming one makes the method look the network up in the store, which a
   * replica cut off from the store cannot answer.
   */
  async leaderSeenBy(i: number, network: string): Promise<LeaderRow | undefined> {
    const r = await this.rpc<{ leaders: LeaderRow[] }>(i, 'leader.list');
    return r.leaders.find((l) => l.network === network);
  }

  alive(): number[] {
    return this.replicas.flatMap((r, i) => (r.process?.running ? [i] : []));
  }

  /** The live replicas (but `not`) whose own role for the network is leader. */
  async selfLeaders(network: string, not?: number): Promise<number[]> {
    const asked = this.alive().filter((i) => i !== not);
    const rows = await Promise.all(asked.map(async (i) => [i, await this.leaderSeenBy(i, network).catch(() => undefined)] as const));
    return rows.filter(([, r]) => r?.role === 'leader').map(([i]) => i);
  }

  /** Polls until a live replica other than `not` says it leads; the time from `since` it was first seen. */
  async waitNewLeader(network: string, not: number, since: number, timeoutMs = 60_000): Promise<{ index: number; gapMs: number }> {
    for (;;) {
      const [k] = await this.selfLeaders(network, not);
      const at = performance.now();
      if (k !== undefined) return { index: k, gapMs: at - since };
      if (at - since > timeoutMs) throw new Error(`no new leader of ${network} after ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  kill(i: number, signal: NodeJS.Signals): Promise<Exit> {
    return this.replicas[i]!.process!.stop(signal);
  }

  /** Cuts replica k off from its peers and from the store; it keeps its sessions with the hypervisors. */
  partition(k: number): void {
    this.adverts.cut = k;
    this.stores[k]!.cut();
  }

  heal(): void {
    const k = this.adverts.cut;
    this.adverts.cut = undefined;
    if (k !== undefined) this.stores[k]!.heal();
  }

  async teardown(): Promise<void> {
    for (const r of this.replicas) await r.process?.kill();
    await this.adverts.close();
    for (const s of this.stores) await s.close();
    await this.cluster.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
