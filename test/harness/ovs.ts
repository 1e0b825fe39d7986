// A private Open vSwitch instance for tests: its own ovsdb-server and
// (optionally) ovs-vswitchd, in a fresh directory that holds the database,
// sockets, pidfiles and logs, optionally running inside a network namespace.
// See LAB.md sections 1, 4 and 6 for the recipes this follows.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, out, readPid, registerCleanup, run, runId, waitGone, waitGoneSync } from './proc.js';

export const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

/** `netdev`: userspace datapath with real kernel taps; `dummy`: no kernel objects at all. */
export type Datapath = 'netdev' | 'dummy';

export interface OvsOptions {
  /** Run both daemons inside this network namespace (it must exist). */
  netns?: string;
  /** Datapath type of bridges made with `addBridge`; default `dummy` outside a netns, `netdev` inside. */
  datapath?: Datapath;
  /** Start ovs-vswitchd too (default true); false gives an ovsdb-server-only "host". */
  vswitchd?: boolean;
  /** Directory to use (created if missing, never removed); default a fresh temp dir removed on stop. */
  dir?: string;
  /** Extra ovsdb-server remotes, e.g. `ptcp:0:127.0.0.1`. */
  remotes?: string[];
}

export interface OvsLogs {
  ovsdb: string;
  vswitchd: string;
}

/** Keep temp dirs (with logs) after teardown for post-mortems. */
const keep = ['1', 'true'].includes((process.env.WEFT_KEEP_LAB ?? '').toLowerCase());

export class Ovs {
  readonly dir: string;
  readonly netns: string | undefined;
  readonly datapath: Datapath;
  readonly dbPath: string;
  /** Path of the ovsdb-server unix socket; `db` is its OVS target form. */
  readonly dbSock: string;
  readonly db: string;
  readonly logs: OvsLogs;
  readonly env: NodeJS.ProcessEnv;
  private readonly ownsDir: boolean;
  private readonly remotes: string[];
  private vswitchdWanted: boolean;
  private unregister: () => void = () => {};
  private stopped = false;

  private constructor(opts: OvsOptions) {
    this.ownsDir = opts.dir === undefined;
    this.dir = opts.dir ?? join(tmpdir(), `weft-${runId()}-ovs`);
    this.netns = opts.netns;
    this.datapath = opts.datapath ?? (opts.netns ? 'netdev' : 'dummy');
    this.vswitchdWanted = opts.vswitchd ?? true;
    this.remotes = opts.remotes ?? [];
    this.dbPath = join(this.dir, 'conf.db');
    this.dbSock = join(this.dir, 'db.sock');
    this.db = `unix:${this.dbSock}`;
    this.logs = { ovsdb: join(this.dir, 'ovsdb-server.log'), vswitchd: join(this.dir, 'ovs-vswitchd.log') };
    // With OVS_RUNDIR set, ovs-ofctl resolves a bare bridge name to this
    // instance's `<bridge>.mgmt`, and nothing falls back to /var/run/openvswitch.
    this.env = { ...process.env, OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir };
  }

  static async start(opts: OvsOptions = {}): Promise<Ovs> {
    const ovs = new Ovs(opts);
    mkdirSync(ovs.dir, { recursive: true });
    if (ovs.ownsDir) writeFileSync(join(ovs.dir, 'owner.pid'), `${process.pid}\n`);
    ovs.unregister = registerCleanup(() => ovs.stopSync());
    try {
      await run('ovsdb-tool', ['create', ovs.dbPath, VSWITCH_SCHEMA]);
      await ovs.startOvsdb();
      await ovs.vsctl('--no-wait', 'init');
      if (ovs.vswitchdWanted) await ovs.startVswitchd();
    } catch (e) {
      await ovs.stop();
      throw e;
    }
    return ovs;
  }

  get ovsdbPid(): number | undefined {
    return readPid(join(this.dir, 'ovsdb-server.pid'));
  }

  get vswitchdPid(): number | undefined {
    return readPid(join(this.dir, 'ovs-vswitchd.pid'));
  }

  private pidAlive(pid: number | undefined): boolean {
    return pid !== undefined && alive(pid);
  }

  /** argv prefix that runs a daemon in the instance's namespace. */
  private inNetns(cmd: string, args: string[]): [string, string[]] {
    return this.netns ? ['ip', ['netns', 'exec', this.netns, cmd, ...args]] : [cmd, args];
  }

  private async daemon(cmd: string, args: string[], log: string): Promise<void> {
    const [c, a] = this.inNetns(cmd, [...args, '--detach', '--no-chdir', '-vconsole:off', '-vsyslog:off']);
    try {
      await run(c, a, { env: this.env });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- ${log} (tail)\n${this.logTail(log)}`);
    }
  }

  private async startOvsdb(): Promise<void> {
    await this.daemon(
      'ovsdb-server',
      [
        this.dbPath,
        `--remote=punix:${this.dbSock}`,
        '--remote=db:Open_vSwitch,Open_vSwitch,manager_options',
        ...this.remotes.map((r) => `--remote=${r}`),
        `--pidfile=${join(this.dir, 'ovsdb-server.pid')}`,
        `--unixctl=${join(this.dir, 'ovsdb-server.ctl')}`,
        `--log-file=${this.logs.ovsdb}`,
      ],
      this.logs.ovsdb,
    );
  }

  /** Starts ovs-vswitchd (also later, on an instance started ovsdb-server-only). */
  async startVswitchd(): Promise<void> {
    this.vswitchdWanted = true;
    await this.daemon(
      'ovs-vswitchd',
      [
        this.db,
        ...(this.datapath === 'dummy' ? ['--enable-dummy'] : []),
        `--pidfile=${join(this.dir, 'ovs-vswitchd.pid')}`,
        `--unixctl=${join(this.dir, 'ovs-vswitchd.ctl')}`,
        `--log-file=${this.logs.vswitchd}`,
      ],
      this.logs.vswitchd,
    );
  }

  /** `ovs-vsctl` against this instance; adds `--no-wait` while no ovs-vswitchd runs (LAB pitfall 12). */
  async vsctl(...args: string[]): Promise<string> {
    const noWait = this.pidAlive(this.vswitchdPid) ? [] : ['--no-wait'];
    return out('ovs-vsctl', [`--db=${this.db}`, '--timeout=20', ...noWait, ...args], { env: this.env });
  }

  /**
   * `ovs-ofctl -O OpenFlow13 ARGS`; a bare bridge name as switch resolves to
   * this instance's `<bridge>.mgmt` socket (through OVS_RUNDIR).
   */
  async ofctl(...args: string[]): Promise<string> {
    return out('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { env: this.env });
  }

  /** `ovs-appctl` against this instance's ovs-vswitchd (LAB pitfall 13). */
  async appctl(...args: string[]): Promise<string> {
    return out('ovs-appctl', ['-t', join(this.dir, 'ovs-vswitchd.ctl'), ...args], { env: this.env });
  }

  /** `ovs-appctl` against this instance's ovsdb-server. */
  async dbAppctl(...args: string[]): Promise<string> {
    return out('ovs-appctl', ['-t', join(this.dir, 'ovsdb-server.ctl'), ...args], { env: this.env });
  }

  /**
   * Adds a bridge of this instance's datapath type. `protocols` defaults to
   * OpenFlow10+13 so `ofctl` (OpenFlow13) and humans (plain ovs-ofctl) both work.
   */
  async addBridge(name: string, opts: { failMode?: 'standalone' | 'secure'; protocols?: string } = {}): Promise<void> {
    const set = [`datapath_type=${this.datapath}`, `protocols=${opts.protocols ?? 'OpenFlow10,OpenFlow13'}`];
    if (opts.failMode) set.push(`fail_mode=${opts.failMode}`);
    await this.vsctl('add-br', name, '--', 'set', 'bridge', name, ...set);
  }

  /** Restarts ovs-vswitchd without --cleanup (taps survive); waits on the old PID first (LAB pitfall 6). */
  async restartVswitchd(): Promise<void> {
    const old = this.vswitchdPid;
    if (this.pidAlive(old)) {
      await run('ovs-appctl', ['-t', join(this.dir, 'ovs-vswitchd.ctl'), 'exit'], { env: this.env, allowFailure: true });
      await waitGone(old!);
    }
    await this.startVswitchd();
  }

  /** Restarts ovsdb-server on the same database file. */
  async restartOvsdb(): Promise<void> {
    const old = this.ovsdbPid;
    if (this.pidAlive(old)) {
      await run('ovs-appctl', ['-t', join(this.dir, 'ovsdb-server.ctl'), 'exit'], { env: this.env, allowFailure: true });
      await waitGone(old!);
    }
    await this.startOvsdb();
  }

  /** Last `lines` lines of a log (for failure messages). */
  logTail(path: string, lines = 30): string {
    try {
      return readFileSync(path, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Both logs' tails, labelled, for a failing assertion's message. */
  diagnostics(lines = 30): string {
    return `--- ${this.logs.ovsdb}\n${this.logTail(this.logs.ovsdb, lines)}\n--- ${this.logs.vswitchd}\n${this.logTail(this.logs.vswitchd, lines)}`;
  }

  /** Stops both daemons (ovs-vswitchd with --cleanup, so its taps go) and removes the temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const vs = this.vswitchdPid;
    if (this.pidAlive(vs)) {
      await run('ovs-appctl', ['-t', join(this.dir, 'ovs-vswitchd.ctl'), 'exit', '--cleanup'], {
        env: this.env,
        allowFailure: true,
        timeout: 5000,
      });
      await waitGone(vs!);
    }
    const db = this.ovsdbPid;
    if (this.pidAlive(db)) {
      await run('ovs-appctl', ['-t', join(this.dir, 'ovsdb-server.ctl'), 'exit'], {
        env: this.env,
        allowFailure: true,
        timeout: 5000,
      });
      await waitGone(db!);
    }
    if (this.ownsDir && !keep) rmSync(this.dir, { recursive: true, force: true });
    this.unregister();
  }

  /** Synchronous stop for exit/signal handlers. */
  private stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const [ctl, pidfile, extra] of [
      ['ovs-vswitchd.ctl', 'ovs-vswitchd.pid', ['--cleanup']],
      ['ovsdb-server.ctl', 'ovsdb-server.pid', []],
    ] as const) {
      const pid = readPid(join(this.dir, pidfile));
      if (pid === undefined || !alive(pid)) continue;
      spawnSync('ovs-appctl', ['-t', join(this.dir, ctl), 'exit', ...extra], { stdio: 'ignore', timeout: 3000 });
      waitGoneSync(pid);
    }
    if (this.ownsDir && !keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
