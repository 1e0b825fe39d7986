// weft as a lab sees it: `weft serve` as a real process listening on the
// management links of the lab's hypervisors, hypervisors pointed at it with
// `set-manager` only, its CLI, its log, and the switch state that tests read
// back (flows by weft's cookies, controller connections). Every wait polls.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hypervisor, Lab, TeardownHost } from '../harness/lab.js';
import { registerCleanup, run, until, waitGone } from '../harness/proc.js';

export { until };

const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** weft's cookie owners (docs/pipeline.md): static flows of the pipeline, and what `learn()` creates. */
export const STATIC_COOKIES = 'cookie=0x5746000000000000/0xffff000000000000';
export const LEARNED_COOKIES = 'cookie=0x574c000000000000/0xffff000000000000';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string; time?: string };


/** A TCP port nothing listens on now, on any address (so it is free on every management address too). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface WeftOptions {
  lab: Lab;
  t: TeardownHost;
  /** The hypervisors whose management links weft listens on (root side, 198.19.M.254). */
  hypervisors: Hypervisor[];
  /** `--admit` rules; default none (hosts wait for `host admit`). */
  admit?: string[];
  /** More `serve` flags. */
  extra?: string[];
}

/**
 * One weft daemon of a lab, restartable on the same data directory and the
 * same ports (the hypervisors' manager and controller targets stay valid).
 */
export class Weft {
  readonly dataDir: string;
  readonly logFile: string;
  readonly ovsdbPort: number;
  readonly openflowPort: number;
  /** Every log line of every run, in order; `runs[i]` is the index of run i's first line. */
  readonly lines: LogLine[] = [];
  readonly runs: number[] = [];
  apiUrl = '';
  private proc: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private stderrText = '';

  private constructor(
    private readonly opts: WeftOptions,
    ports: { ovsdb: number; openflow: number },
  ) {
    this.dataDir = join(opts.lab.dir, 'weft-data');
    this.logFile = join(opts.lab.dir, 'weft.log');
    this.ovsdbPort = ports.ovsdb;
    this.openflowPort = ports.openflow;
  }

  static async start(opts: WeftOptions): Promise<Weft> {
    const w = new Weft(opts, { ovsdb: await freePort(), openflow: await freePort() });
    const unregister = registerCleanup(() => w.proc?.kill('SIGKILL'));
    opts.t.teardown(async () => {
      await w.kill();
      unregister();
    });
    await w.spawn();
    return w;
  }

  get pid(): number | undefined {
    return this.proc?.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  /** Lines of the current (or last) run only. */
  get currentLines(): LogLine[] {
    return this.lines.slice(this.runs.at(-1) ?? 0);
  }

  /** The daemon's stderr of the current run (startup failures, crashes). */
  get stderr(): string {
    return this.stderrText;
  }

  /** Starts `weft serve` (again) and resolves with its `ready` line. */
  async spawn(): Promise<LogLine> {
    if (this.pid) throw new Error('weft is already running');
    const listen = (port: number) => this.opts.hypervisors.flatMap((hv) => [`ptcp:${port}:${hv.mgmt!.controllerIp}`]);
    const args = [
      cliPath, 'serve', '--data', this.dataDir, '--api', '127.0.0.1:0', '--log-level', 'debug',
      ...listen(this.ovsdbPort).flatMap((x) => ['--ovsdb', x]),
      ...listen(this.openflowPort).flatMap((x) => ['--openflow', x]),
      ...(this.opts.admit ?? []).flatMap((r) => ['--admit', r]),
      ...(this.opts.extra ?? []),
    ];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.stderrText = '';
    this.runs.push(this.lines.length);
    appendFileSync(this.logFile, `# weft serve, pid ${proc.pid}\n`);
    let partial = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      appendFileSync(this.logFile, d);
      partial += d;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        if (!l.startsWith('{')) continue;
        try {
          this.lines.push(JSON.parse(l) as LogLine);
        } catch {
          /* a torn line at a kill */
        }
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      appendFileSync(this.logFile, d);
      this.stderrText += d;
    });
    this.exited = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
    let gone = false;
    void this.exited.then(() => (gone = true));
    const line = await until(
      'weft to be ready',
      () => {
        if (gone) throw new Error(`weft exited before ready: ${this.stderrText}`);
        return this.currentLines.find((l) => l.msg === 'ready');
      },
      30_000,
      50,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- weft stderr\n${this.stderrText}\n--- weft log\n${this.tail()}`);
    });
    const listeners = line.listeners as { name: string; address: string }[];
    const api = listeners.find((l) => l.name === 'api')?.address;
    if (!api) throw new Error(`no api listener in ${JSON.stringify(line)}`);
    this.apiUrl = api;
    return line;
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    if (!this.pid) return this.exited;
    this.proc!.kill('SIGTERM');
    return this.exited;
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (!pid) return;
    this.proc!.kill('SIGKILL');
    await this.exited;
    await waitGone(pid, 2000);
  }

  get token(): string {
    return readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
  }

  /** Runs the `weft` CLI against this daemon; rejects on a non-zero exit. */
  async cli(...args: string[]): Promise<string> {
    const r = await run(process.execPath, [cliPath, ...args, '--api', this.apiUrl, '--token', this.token], { timeout: 60_000 });
    return r.stdout;
  }

  /** One JSON-RPC call over HTTP with the admin token. */
  async call<T = unknown>(method: string, params: object = {}): Promise<T> {
    const res = await fetch(this.apiUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
    return body.result as T;
  }

  /** Log lines (all runs) whose fields include every given field. */
  logged(fields: Record<string, unknown>, lines: LogLine[] = this.lines): LogLine[] {
    return lines.filter((l) => Object.entries(fields).every(([k, v]) => (v instanceof RegExp ? v.test(String(l[k])) : l[k] === v)));
  }

  /** The last lines of the log, for failure messages. */
  tail(n = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-n - 1).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Points a hypervisor at weft the way an operator does: a system-id, the
   * tunnel endpoint, and `set-manager tcp:<weft on its mgmt link>:PORT`.
   */
  async manage(hv: Hypervisor, name = `hv${hv.index}`): Promise<void> {
    await hv.ovs.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=${name}`, `external_ids:weft-encap-ip=${hv.underlayIp}`);
    await hv.ovs.vsctl('set-manager', `tcp:${hv.mgmt!.controllerIp}:${this.ovsdbPort}`);
  }
}

/** A flow as `ovs-ofctl dump-flows` prints it, split into what tests compare. */
export interface DumpedFlow {
  cookie: bigint;
  table: number;
  priority: number;
  /** The match, without table/priority/cookie. */
  match: string;
  actions: string;
  nPackets: number;
  /** cookie, table, priority, match and actions: what must not change when nothing changed. */
  key: string;
  line: string;
}

export function parseFlows(text: string): DumpedFlow[] {
  const flows: DumpedFlow[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('cookie=')) continue;
    const [head, actions = ''] = line.split(/ actions=/);
    const fields = head!.split(/,\s*|\s+/).filter(Boolean);
    let cookie = 0n;
    let table = 0;
    let priority = 32768;
    let nPackets = 0;
    const match: string[] = [];
    for (const f of fields) {
      const [k, v = ''] = f.split('=');
      if (k === 'cookie') cookie = BigInt(v);
      else if (k === 'table') table = Number(v);
      else if (k === 'priority') priority = Number(v);
      else if (k === 'n_packets') nPackets = Number(v);
      else if (['duration', 'n_bytes', 'idle_age', 'hard_age'].includes(k!)) continue;
      else if (k === 'reset_counts' || k === 'send_flow_rem' || k === 'no_packet_counts' || k === 'no_byte_counts') match.push(k);
      else match.push(f);
    }
    const m = match.join(',');
    flows.push({ cookie, table, priority, match: m, actions, nPackets, key: `0x${cookie.toString(16)} table=${table} priority=${priority} ${m} actions=${actions}`, line });
  }
  return flows;
}

/** `ovs-ofctl -O OpenFlow13 dump-flows br-int [filter]` on a hypervisor, ports as numbers. */
export async function dumpFlows(hv: Hypervisor, filter?: string): Promise<DumpedFlow[]> {
  const text = await hv.ovs.ofctl('--no-names', 'dump-flows', hv.bridge, ...(filter ? [filter] : []));
  return parseFlows(text);
}

/** The raw dump, for failure messages. */
export async function dumpText(hv: Hypervisor): Promise<string> {
  try {
    return await hv.ovs.ofctl('--no-names', '--no-stats', 'dump-flows', hv.bridge);
  } catch (e) {
    return String(e);
  }
}

/** The OpenFlow port number of a port on the hypervisor's integration bridge. */
export async function ofport(hv: Hypervisor, port: string): Promise<number> {
  return Number((await hv.ovs.vsctl('get', 'Interface', port, 'ofport')).trim());
}

/** The Controller rows of the integration bridge: target and whether ovs-vswitchd is connected. */
/** The bridge's controllers: target, connected, and the OpenFlow role OVS reports (`master`, `slave`, `other` for EQUAL). */
export async function controllers(hv: Hypervisor): Promise<{ target: string; connected: boolean; role: string }[]> {
  const text = await hv.ovs.vsctl('--format=json', '--columns=target,is_connected,role', 'list', 'Controller');
  const json = JSON.parse(text) as { data: [string, boolean, string | [string, unknown[]]][] };
  // An unset role is OVSDB's empty set, ["set", []].
  return json.data.map(([target, connected, role]) => ({ target, connected, role: typeof role === 'string' ? role : '' }));
}

/** True once every given hypervisor's bridge has a connected controller. */
export async function allConnected(hvs: Hypervisor[]): Promise<boolean> {
  for (const hv of hvs) {
    const c = await controllers(hv);
    if (c.length === 0 || !c.some((x) => x.connected)) return false;
  }
  return true;
}

/** Everything a post-mortem needs from one hypervisor. */
export async function hvDiagnostics(hv: Hypervisor): Promise<string> {
  const show = await hv.ovs.vsctl('show').catch((e: unknown) => String(e));
  return `=== hv${hv.index} (${hv.netns})\n--- ovs-vsctl show\n${show}\n--- dump-flows\n${await dumpText(hv)}\n${hv.ovs.diagnostics(15)}`;
}

/** Diagnostics of the whole lab and weft's log tail, for a failing assertion. */
export async function labDiagnostics(lab: Lab, weft: Weft): Promise<string> {
  const parts = await Promise.all(lab.hypervisors.map(hvDiagnostics));
  return `${parts.join('\n')}\n=== weft log (${weft.logFile})\n${weft.tail(60)}`;
}
