// `npm run bench -- ovsdb`: the OVSDB management plane at scale, against a
// real `weft serve` in its own process (so its RSS is weft's alone) and real
// ovsdb-servers, one per "hypervisor" (ovsdb-server only: the plane talks to
// the database, never to ovs-vswitchd).
//
// mesh: for N = 10, 50, 100 fresh hosts and a fresh weft with `--admit auto`,
// the time from the moment every host is told its manager (one transaction
// each, sent to all hosts at once, as `ovs-vsctl set-manager` would) until
// weft reports every host connected, converged and holding N-1 tunnels (its
// replica of each host is the host's database as monitored, so this is the
// hosts' state, seen without the cost of N ovs-vsctl runs per poll); then
// a sample of hosts is checked with ovs-vsctl for the right remote IPs. RSS
// is weft's VmRSS after convergence and its peak (VmHWM).
//
// transact: the same 1,000 small update transactions to one ovsdb-server,
// (a) pipelined over one weft Session, (b) one `ovsdb-client transact`
// process per transaction, as a shell script would, (c) one `ovsdb-client
// transact` carrying all 1,000 operations in one transaction (the fair bulk
// comparison: one round trip, one commit), and (d) weft's session sending
// the same single bulk transaction.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient } from '../../src/api/client.js';
import { Session } from '../../src/ovsdb/session.js';
import { freePort } from '../harness/free-port.js';
import { Ovs } from '../harness/ovs.js';
import { registerCleanup, run as exec, sleep, waitGone } from '../harness/proc.js';
import type { HostInfo } from '../integration/ovsdb-hosts.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SIZES = (process.env.WEFT_BENCH_OVSDB_SIZES ?? '10,50,100').split(',').map(Number);
const TRANSACTIONS = 1_000;
/** Runs per size: the box is shared, so one run says little; the median is reported. */
const RUNS = Number(process.env.WEFT_BENCH_OVSDB_RUNS ?? 3);
/** ovsdb-servers started at once; more only makes the 2-core box thrash. */
const START_BATCH = 10;
const SAMPLE = 5;
/** How often weft's host list is read while waiting: each read costs weft a few ms at N=100, so not too often. */
const POLL_MS = 100;
const CONVERGE_DEADLINE = 300_000;

const log = (msg: string) => process.stderr.write(`bench ovsdb: ${msg}\n`);

function memory(pid: number): { rssMB: number; peakRssMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMB: Math.round(kb('VmRSS') / 102.4) / 10, peakRssMB: Math.round(kb('VmHWM') / 102.4) / 10 };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
const hostsCpu = (hosts: Ovs[]) => hosts.reduce((sum, h) => sum + cpuSeconds(h.ovsdbPid), 0);
const round2 = (x: number) => Math.round(x * 100) / 100;

const ms = (start: number) => Math.round(performance.now() - start);

/** Runs `fn` over `items`, at most `width` at a time. */
async function batched<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

interface Weft {
  process: ChildProcess;
  client: HttpClient;
  ovsdbPort: number;
  stop(): Promise<void>;
}

async function startWeft(dir: string): Promise<Weft> {
  const [api, ovsdbPort] = [await freePort(), await freePort()];
  const args = [cli, 'serve', '--data', dir, '--api', `127.0.0.1:${api}`, '--log-level', process.env.WEFT_BENCH_LOG_LEVEL ?? 'warn', '--ovsdb', `ptcp:${ovsdbPort}:127.0.0.1`, '--openflow', 'ptcp:0:127.0.0.1', '--admit', 'auto'];
  // WEFT_BENCH_LOG=FILE keeps weft's log (with WEFT_BENCH_LOG_LEVEL=debug, for a post-mortem).
  const logFile = process.env.WEFT_BENCH_LOG;
  // WEFT_BENCH_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, profiles weft itself.
  const nodeArgs = (process.env.WEFT_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', logFile ? openSync(logFile, 'a') : 'ignore', 'inherit'] });
  const unregister = registerCleanup(() => child.kill('SIGKILL'));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${api}/healthz`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('weft serve did not come up');
    await sleep(50);
  }
  const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const client = new HttpClient({ url: `http://127.0.0.1:${api}`, token, timeout: 60_000 });
  return {
    process: child,
    client,
    ovsdbPort,
    async stop() {
      await client.close();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        if (child.pid !== undefined && !(await waitGone(child.pid, 10_000))) log('weft did not stop on SIGTERM; killed');
      }
      unregister();
    },
  };
}

const encapIp = (i: number) => `198.18.0.${i + 1}`;
const hostName = (i: number) => `hv${String(i + 1).padStart(3, '0')}`;

async function startHosts(n: number): Promise<Ovs[]> {
  const hosts: Ovs[] = [];
  try {
    await batched(
      Array.from({ length: n }, (_, i) => i),
      START_BATCH,
      async (i) => {
        const ovs = await Ovs.start({ vswitchd: false });
        hosts.push(ovs);
        await ovs.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=${hostName(i)}`, `external_ids:weft-encap-ip=${encapIp(i)}`);
        (ovs as Ovs & { index: number }).index = i;
      },
    );
  } catch (err) {
    await stopHosts(hosts);
    throw err;
  }
  return hosts.sort((a, b) => (a as Ovs & { index: number }).index - (b as Ovs & { index: number }).index);
}

async function stopHosts(hosts: Ovs[]): Promise<void> {
  await batched(hosts, START_BATCH, (h) => h.stop().catch((err: unknown) => log(`stopping ${h.dir}: ${String(err)}`)));
}

/** A weft Session on a host's unix socket, for the bench's own transactions. */
function connect(ovs: Ovs): Promise<Session> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path: ovs.dbSock }, () => resolve(new Session(socket, ovs.db, { probeInterval: 0, requestTimeout: 120_000 })));
    socket.once('error', reject);
  });
}

/** `ovs-vsctl set-manager TARGET` as one transaction. */
const setManager = (target: string) => ({
  method: 'transact',
  params: [
    'Open_vSwitch',
    { op: 'insert', table: 'Manager', row: { target }, 'uuid-name': 'm' },
    { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['manager_options', 'insert', ['set', [['named-uuid', 'm']]]]] },
  ],
});

async function tunnelsByVsctl(ovs: Ovs): Promise<string[]> {
  const json = JSON.parse(await ovs.vsctl('--format=json', '--columns=options,external_ids', 'list', 'Interface')) as {
    data: [['map', [string, string][]], ['map', [string, string][]]][];
  };
  const out: string[] = [];
  for (const [options, ext] of json.data) {
    const e = new Map(ext[1]);
    if (e.get('weft') === 'owned' && e.get('weft-peer')) out.push(`${e.get('weft-peer')}=${new Map(options[1]).get('remote_ip')}`);
  }
  return out.sort();
}

async function mesh(n: number) {
  log(`mesh of ${n}: starting ${n} ovsdb-servers`);
  const startedAt = performance.now();
  const hosts = await startHosts(n);
  const startMs = ms(startedAt);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-ovsdb-'));
  let weft: Weft | undefined;
  const sessions: Session[] = [];
  try {
    weft = await startWeft(dir);
    const idle = memory(weft.process.pid!);
    for (const h of hosts) sessions.push(await connect(h));
    log(`mesh of ${n}: hosts up in ${startMs} ms; pointing them at weft`);
    const cpu0 = { weft: cpuSeconds(weft.process.pid), hosts: hostsCpu(hosts) };
    const t0 = performance.now();
    log(`mesh of ${n}: t0 ${new Date().toISOString()}`);
    // Closing the connection after the commit, as ovs-vsctl does, matters: an
    // ovsdb-server applies a new manager_options at its next main-loop wake-up,
    // and a client that stays connected and silent leaves it asleep until its
    // 2.5 s status timer (observed: the first hosts connected 1.6-2.5 s late).
    await Promise.all(
      sessions.map(async (s) => {
        await s.request(setManager(`tcp:127.0.0.1:${weft!.ovsdbPort}`) as never);
        s.close();
      }),
    );
    const managersSetMs = ms(t0);
    let connectedMs: number | undefined;
    let polls = 0;
    let hostsSeen: HostInfo[] = [];
    for (;;) {
      polls++;
      hostsSeen = (await weft.client.call<{ hosts: HostInfo[] }>('host.list', {})).hosts;
      const connected = hostsSeen.filter((h) => h.status.connected).length;
      if (connectedMs === undefined && connected === n) connectedMs = ms(t0);
      const done = hostsSeen.filter((h) => h.status.connected && h.state === 'admitted' && h.status.reconcile === 'converged' && h.status.tunnels.length === n - 1).length;
      if (done === n) break;
      if (performance.now() - t0 > CONVERGE_DEADLINE) throw new Error(`mesh of ${n}: ${done} hosts converged, ${connected} connected after ${CONVERGE_DEADLINE} ms`);
      await sleep(POLL_MS);
    }
    const convergeMs = ms(t0);
    const cpu = { weftCpuSeconds: round2(cpuSeconds(weft.process.pid) - cpu0.weft), ovsdbServersCpuSeconds: round2(hostsCpu(hosts) - cpu0.hosts) };
    const mem = memory(weft.process.pid!);
    log(`mesh of ${n}: converged in ${convergeMs} ms, RSS ${mem.rssMB} MB, CPU s: weft ${cpu.weftCpuSeconds}, ovsdb-servers ${cpu.ovsdbServersCpuSeconds}`);
    // The hosts themselves, as an operator would look: a sample, all peers, right addresses.
    const sample = [...new Set([0, n - 1, ...Array.from({ length: SAMPLE - 2 }, () => Math.floor(Math.random() * n))])];
    for (const i of sample) {
      const want = Array.from({ length: n }, (_, j) => j)
        .filter((j) => j !== i)
        .map((j) => `${hostName(j)}=${encapIp(j)}`)
        .sort();
      const got = await tunnelsByVsctl(hosts[i]!);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`mesh of ${n}: ${hostName(i)} has ${got.length} tunnels, not the ${n - 1} expected (or wrong remote IPs)`);
    }
    return {
      convergeMs,
      allConnectedMs: connectedMs,
      managersSetMs,
      verifiedWithOvsVsctl: sample.length,
      ...cpu,
      weftIdleRssMB: idle.rssMB,
      weftRssMB: mem.rssMB,
      weftPeakRssMB: mem.peakRssMB,
      ovsdbServersStartMs: startMs,
      pollMs: POLL_MS,
      polls,
    };
  } finally {
    for (const s of sessions) s.close();
    await weft?.stop();
    await stopHosts(hosts);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One small update: the kind of write weft makes (a column of one row). */
const update = (i: number) => ({ op: 'update', table: 'Open_vSwitch', where: [], row: { external_ids: ['map', [['bench', String(i)]]] } });

async function transactions() {
  log(`transact: ${TRANSACTIONS} update transactions, four ways`);
  const ovs = await Ovs.start({ vswitchd: false });
  try {
    const session = await connect(ovs);
    let t = performance.now();
    const results = await Promise.all(Array.from({ length: TRANSACTIONS }, (_, i) => session.request({ method: 'transact', params: ['Open_vSwitch', update(i)] } as never)));
    const pipelined = ms(t);
    if (results.some((r) => !Array.isArray(r) || (r[0] as { error?: unknown })?.error)) throw new Error('a pipelined transaction failed');

    t = performance.now();
    const bulk = await session.request({ method: 'transact', params: ['Open_vSwitch', ...Array.from({ length: TRANSACTIONS }, (_, i) => update(i))] } as never);
    const sessionBulk = ms(t);
    if (!Array.isArray(bulk) || bulk.length !== TRANSACTIONS) throw new Error('the bulk transaction failed');
    session.close();

    t = performance.now();
    for (let i = 0; i < TRANSACTIONS; i++) await exec('ovsdb-client', ['transact', ovs.db, JSON.stringify(['Open_vSwitch', update(i)])]);
    const sequential = ms(t);

    t = performance.now();
    await exec('ovsdb-client', ['transact', ovs.db, JSON.stringify(['Open_vSwitch', ...Array.from({ length: TRANSACTIONS }, (_, i) => update(i))])]);
    const clientBulk = ms(t);

    const rate = (n: number, took: number) => Math.round((n * 1000) / Math.max(1, took));
    return {
      transactions: TRANSACTIONS,
      weftPipelined: { ms: pipelined, perSecond: rate(TRANSACTIONS, pipelined) },
      ovsdbClientSequential: { ms: sequential, perSecond: rate(TRANSACTIONS, sequential) },
      weftOneTransaction: { ms: sessionBulk, operationsPerSecond: rate(TRANSACTIONS, sessionBulk) },
      ovsdbClientOneTransaction: { ms: clientBulk, operationsPerSecond: rate(TRANSACTIONS, clientBulk) },
    };
  } finally {
    await ovs.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run() {
  const meshes = [];
  for (const n of SIZES) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await mesh(n));
    const converge = runs.map((r) => r.convergeMs);
    meshes.push({
      hosts: n,
      convergeMsMedian: median(converge),
      convergeMsMin: Math.min(...converge),
      convergeMsMax: Math.max(...converge),
      weftRssMBMax: Math.max(...runs.map((r) => r.weftRssMB)),
      weftPeakRssMBMax: Math.max(...runs.map((r) => r.weftPeakRssMB)),
      runs,
    });
  }
  return { meshes, transact: await transactions(), goal: { hosts: 100, convergeMs: 5_000, rssMB: 200 }, cores: (await import('node:os')).cpus().length, loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 10) / 10) };
}
