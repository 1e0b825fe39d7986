// The OVN side of the `networkCreateWait` bench: `ovn-nbctl --wait=hv` making
// a logical switch with one bound port on each of N hosts, in the same run
// and the same kind of lab as weft's side. One NB and one SB ovsdb-server and
// ovn-northd on unix sockets; per host an ovsdb-server + ovs-vswitchd (dummy
// datapath, the test harness's Ovs) and an ovn-controller with its own run
// directory, geneve encapsulation on 127.0.0.N. `--wait=hv` waits for every
// chassis, not only those with a port in the switch, so for each count the lab
// holds exactly N chassis (controllers are added as the count grows): every
// chassis needs the network, as in issue 6's figures and as on weft's side,
// where exactly N switches change. `withAllChassis` repeats the smaller counts
// once every chassis runs, where OVN also waits on chassis the switch does not
// touch. Timed is the ovn-nbctl process, wall clock, its start included.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ovs } from '../harness/ovs.js';
import { alive, out, readPid, registerCleanup, run, sleep, waitGone, waitGoneSync } from '../harness/proc.js';

export interface WaitSeries {
  medianMs: number;
  samplesMs: number[];
  chassis: number;
}

export type OvnWaitResult =
  | { version: string; samples: number; timed: string; ovn: Record<string, WaitSeries>; withAllChassis: Record<string, WaitSeries> }
  | { unavailable: string };

const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
const SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number): number => Math.round(x * 10) / 10;

async function missing(): Promise<string | undefined> {
  for (const cmd of ['ovn-nbctl', 'ovn-sbctl', 'ovn-northd', 'ovn-controller']) {
    const r = await run(cmd, ['--version'], { allowFailure: true }).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    if (r.code !== 0) return `${cmd} not runnable (${(r.stderr || r.stdout).trim() || `exit ${r.code}`}); install ovn-central and ovn-host`;
  }
  return undefined;
}

class OvnLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'weft-bench-ovn-'));
  readonly nb = `unix:${join(this.dir, 'nb.sock')}`;
  readonly sb = `unix:${join(this.dir, 'sb.sock')}`;
  readonly hosts: Ovs[] = [];
  /** Pidfiles of every daemon started here outside the Ovs harness, stopped in reverse. */
  private readonly pidfiles: string[] = [];
  private readonly unregister = registerCleanup(() => this.stopSync());

  private async daemon(cmd: string, args: string[], pidfile: string, env: NodeJS.ProcessEnv): Promise<void> {
    this.pidfiles.push(pidfile);
    await run(cmd, [...args, `--pidfile=${pidfile}`, '--detach', '--no-chdir', '-vconsole:off', '-vsyslog:off'], { env });
  }

  async startCentral(): Promise<void> {
    const env = { ...process.env, OVN_RUNDIR: this.dir, OVN_LOGDIR: this.dir, OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir };
    for (const [name, schema] of [['nb', NB_SCHEMA], ['sb', SB_SCHEMA]] as const) {
      const db = join(this.dir, `${name}.db`);
      await run('ovsdb-tool', ['create', db, schema]);
      await this.daemon(
        'ovsdb-server',
        [db, `--remote=punix:${join(this.dir, `${name}.sock`)}`, `--unixctl=${join(this.dir, `${name}.ctl`)}`, `--log-file=${join(this.dir, `${name}.log`)}`],
        join(this.dir, `${name}.pid`),
        env,
      );
    }
    await this.daemon(
      'ovn-northd',
      [`--ovnnb-db=${this.nb}`, `--ovnsb-db=${this.sb}`, `--unixctl=${join(this.dir, 'northd.ctl')}`, `--log-file=${join(this.dir, 'northd.log')}`],
      join(this.dir, 'northd.pid'),
      env,
    );
  }

  /** Host k (1-based): its own OVS pair with br-int, pointed at the SB, and its ovn-controller. */
  async addHost(): Promise<void> {
    const k = this.hosts.length + 1;
    const ovs = await Ovs.start();
    this.hosts.push(ovs);
    // ovn-controller speaks OpenFlow 1.5 to br-int.
    await ovs.addBridge('br-int', { failMode: 'secure', protocols: 'OpenFlow10,OpenFlow13,OpenFlow15' });
    await ovs.vsctl(
      'set', 'Open_vSwitch', '.',
      `external_ids:ovn-remote=${this.sb}`,
      'external_ids:ovn-encap-type=geneve',
      `external_ids:ovn-encap-ip=127.0.0.${k}`,
      `external_ids:system-id=hv${k}`,
      `external_ids:ovn-bridge-datapath-type=${ovs.datapath}`,
    );
    // ovn-controller takes no --unixctl: OVN_RUNDIR keeps its control socket in the host's directory.
    const env = { ...ovs.env, OVN_RUNDIR: ovs.dir, OVN_LOGDIR: ovs.dir, OVN_DBDIR: ovs.dir };
    await this.daemon('ovn-controller', [ovs.db, `--log-file=${join(ovs.dir, 'ovn-controller.log')}`], join(ovs.dir, 'ovn-controller.pid'), env);
  }

  nbctl(...args: string[]): Promise<string> {
    return out('ovn-nbctl', [`--db=${this.nb}`, '--timeout=30', ...args], { timeout: 40_000 });
  }

  async waitChassis(n: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const names = (await out('ovn-sbctl', [`--db=${this.sb}`, '--bare', '--columns=name', 'list', 'Chassis'])).split('\n').filter((l) => l.trim());
      if (names.length >= n) break;
      if (Date.now() > deadline) throw new Error(`only ${names.length} of ${n} chassis registered in the SB`);
      await sleep(100);
    }
    await this.nbctl('--wait=hv', 'sync');
  }

  /** Unbound dummy interfaces `p<tag>.k` on br-int of hosts 1..n, claimed once the logical ports exist. */
  async addPorts(tag: number, n: number): Promise<string[]> {
    const names: string[] = [];
    for (const [i, h] of this.hosts.slice(0, n).entries()) {
      const name = `p${tag}.${i + 1}`;
      names.push(name);
      await h.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=dummy', `external_ids:iface-id=${name}`);
    }
    return names;
  }

  createSwitch(name: string, ports: string[]): Promise<string> {
    return this.nbctl('--wait=hv', 'ls-add', name, ...ports.flatMap((p) => ['--', 'lsp-add', name, p]));
  }

  async stop(): Promise<void> {
    for (const file of [...this.pidfiles].reverse()) {
      const pid = readPid(file);
      if (pid === undefined || !alive(pid)) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        continue;
      }
      await waitGone(pid);
    }
    this.pidfiles.length = 0;
    for (const h of this.hosts) await h.stop();
    rmSync(this.dir, { recursive: true, force: true });
    this.unregister();
  }

  private stopSync(): void {
    for (const file of [...this.pidfiles].reverse()) {
      const pid = readPid(file);
      if (pid === undefined || !alive(pid)) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        continue;
      }
      waitGoneSync(pid);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function runOvnWait(counts: number[], samples: number): Promise<OvnWaitResult> {
  const why = await missing();
  if (why) return { unavailable: why };
  const version = (await out('ovn-nbctl', ['--version'])).split('\n')[0]!.trim();
  const lab = new OvnLab();
  let tag = 100;
  // One switch over hosts 1..n, timed; its ports are made first and left to settle, as on weft's side.
  const measure = async (n: number): Promise<WaitSeries> => {
    const ms: number[] = [];
    for (let s = 0; s < samples; s++) {
      const t = tag++;
      const ports = await lab.addPorts(t, n);
      await sleep(500);
      const t0 = performance.now();
      await lab.createSwitch(`s${t}`, ports);
      ms.push(round1(performance.now() - t0));
    }
    return { medianMs: round1(median(ms)), samplesMs: ms, chassis: lab.hosts.length };
  };
  try {
    await lab.startCentral();
    const ovn: Record<string, WaitSeries> = {};
    for (const n of [...counts].sort((a, b) => a - b)) {
      while (lab.hosts.length < n) await lab.addHost();
      await lab.waitChassis(n);
      // New chassis bring tunnels to every other one: a first switch over all of them takes that, untimed.
      await lab.createSwitch(`warm${n}`, await lab.addPorts(tag++, n));
      ovn[`${n}Hosts`] = await measure(n);
    }
    const withAllChassis: Record<string, WaitSeries> = {};
    for (const n of counts) if (n < lab.hosts.length) withAllChassis[`${n}Hosts`] = await measure(n);
    return { version, samples, timed: 'ovn-nbctl --wait=hv ls-add + one lsp-add per host, process wall clock', ovn, withAllChassis };
  } finally {
    await lab.stop();
  }
}
