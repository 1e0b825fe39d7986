// The namespace lab of LAB.md: hypervisors as network namespaces, each with
// its own Open vSwitch (netdev datapath), an underlay between them, VMs as
// namespaces on veth access ports of br-int. Every name carries a random run
// id so labs run in parallel, and everything is removed on teardown, on a
// signal, or later by `sweep` when the owning process died.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ovs } from './ovs.js';
import {
  alive,
  out,
  readPid,
  registerCleanup,
  run,
  type RunOptions,
  type RunResult,
  runId,
  waitGone,
  waitGoneSync,
} from './proc.js';

/** Prefix of every namespace and temp dir a lab creates: `weft-<id>-...`. */
const PREFIX = 'weft-';
/** What a lab or OVS instance of this harness names: temp dirs and namespaces, capturing the run id. */
const OUR_DIR = /^weft-([0-9a-z]{5})-(?:lab|ovs)$/;
const OUR_NETNS = /^weft-([0-9a-z]{5})-(?:hv\d+|vm\d+|ul)$/;
/** Root-namespace management veths: `wm<id><N>`. */
const MGMT_LINK = /^wm([0-9a-z]{5})\d+$/;
const UNDERLAY_MTU = 1600;

const keep = ['1', 'true'].includes((process.env.WEFT_KEEP_LAB ?? '').toLowerCase());

// LAB.md section 7: `ethtool -K IFNAME tx off` by ioctl, as ethtool is not
// installed; without it UDP/TCP between VMs fail through the userspace datapath.
const TXOFF_PY = `import socket, fcntl, struct, ctypes, sys
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
for ifname in sys.argv[1:]:
    ev = ctypes.create_string_buffer(struct.pack('II', ETHTOOL_STXCSUM, 0))
    fcntl.ioctl(socket.socket(), SIOCETHTOOL, struct.pack('16sP', ifname.encode(), ctypes.addressof(ev)))
`;

// Debian's interpreter (what .ci/run installs) rather than whatever `python3`
// is first on PATH: a pyenv shim costs most of a second per VM.
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// LAB.md section 5: client scripts that only set the address (the packaged
// ones would rewrite the host's /etc/resolv.conf). Each also leaves the
// environment of its last call (the options the client received) in
// `<lab dir>/<VM netns>.<client>.env`, and appends the event to `.events`.
const RECORD_ENV = (client: string, event: string) => `d=$(dirname "$0"); ns=$(ip netns identify 2>/dev/null)
env > "$d/$ns.${client}.env.tmp" && mv "$d/$ns.${client}.env.tmp" "$d/$ns.${client}.env"; echo "${event}" >> "$d/$ns.${client}.events"
`;
const DHCLIENT_SH = `#!/bin/sh
${RECORD_ENV('dhclient', '$reason')}case "$reason" in BOUND|RENEW|REBIND|REBOOT) ip addr flush dev "$interface" scope global
  ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface";; esac; exit 0
`;
const UDHCPC_SH = `#!/bin/sh
${RECORD_ENV('udhcpc', '$1')}case "$1" in deconfig) ip addr flush dev "$interface" scope global;;
  bound|renew) ip addr flush dev "$interface" scope global; ip addr add "$ip/\${mask:-24}" dev "$interface";; esac; exit 0
`;

export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

export interface HypervisorOptions {
  /** Management veth to the root namespace (198.19.M.0/24, root side .254) so a controller there is reachable over TCP. */
  mgmt?: boolean;
  /** Integration bridge name; default `br-int`. */
  bridge?: string;
  /** fail_mode of the integration bridge; unset behaves as standalone (NORMAL). */
  failMode?: 'standalone' | 'secure';
}

export interface VmOptions {
  /** Address with prefix, e.g. `192.0.2.11/24`; none for a DHCP client. */
  ip?: string;
  /** VLAN tag of the access port, as Proxmox sets it. */
  tag?: number;
  mac?: string;
  /** MTU of the VM NIC; default 1500 (the underlay carries 1600). */
  mtu?: number;
  /** The hypervisor's bridge the access port goes on; default its integration bridge. */
  bridge?: string;
}

export interface PingResult {
  transmitted: number;
  received: number;
  /** Percent, as ping prints it. */
  loss: number;
  output: string;
}

export interface Capture {
  /** Stops tcpdump and returns what it printed. */
  stop(): Promise<string>;
}

export interface Mgmt {
  /** The hypervisor's address on its management link. */
  ip: string;
  /** The root namespace's address on that link: where a controller listens. */
  controllerIp: string;
  /** Root-namespace interface name. */
  rootLink: string;
}

export class Hypervisor {
  constructor(
    readonly lab: Lab,
    /** 1-based; the underlay address is 198.18.0.N. */
    readonly index: number,
    readonly netns: string,
    readonly ovs: Ovs,
    readonly bridge: string,
    readonly underlayLink: string,
    readonly mgmt: Mgmt | undefined,
  ) {}

  get underlayIp(): string {
    return `198.18.0.${this.index}`;
  }

  /** Runs a command inside the hypervisor's namespace. */
  exec(cmd: string, args: string[], opts?: RunOptions): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.netns, cmd, ...args], opts);
  }

  /**
   * Adds a tunnel port on the integration bridge towards another hypervisor
   * (or an underlay address), `key=flow` unless given. Returns the port name.
   */
  async addTunnel(
    remote: Hypervisor | string,
    opts: { type?: 'vxlan' | 'gre' | 'geneve'; key?: string; name?: string } = {},
  ): Promise<string> {
    const type = opts.type ?? 'vxlan';
    const remoteIp = typeof remote === 'string' ? remote : remote.underlayIp;
    const name = opts.name ?? `${type}${remoteIp.split('.').pop()}`;
    await this.ovs.vsctl(
      'add-port', this.bridge, name, '--', 'set', 'interface', name, `type=${type}`,
      `options:remote_ip=${remoteIp}`, `options:key=${opts.key ?? 'flow'}`,
    );
    return name;
  }

  /** Adds an internal port on the integration bridge, optionally tagged and addressed (e.g. for a DHCP server). */
  async addInternalPort(name: string, opts: { ip?: string; tag?: number } = {}): Promise<void> {
    await this.ovs.vsctl(
      'add-port', this.bridge, name, ...(opts.tag ? [`tag=${opts.tag}`] : []),
      '--', 'set', 'interface', name, 'type=internal',
    );
    if (opts.ip) await run('ip', ['-n', this.netns, 'addr', 'add', opts.ip, 'dev', name]);
    await run('ip', ['-n', this.netns, 'link', 'set', name, 'up']);
  }
}

export class Vm {
  constructor(
    readonly lab: Lab,
    readonly index: number,
    readonly netns: string,
    readonly hv: Hypervisor,
    /** The access port's name on the hypervisor's integration bridge. */
    readonly port: string,
    readonly mac: string,
    readonly ip: string | undefined,
    readonly tag: number | undefined,
  ) {}

  /** Runs a command inside the VM's namespace. */
  exec(cmd: string, args: string[], opts?: RunOptions): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.netns, cmd, ...args], opts);
  }

  /** `ping -c count -i interval`; resolves with the counts whatever the loss. */
  async ping(dst: string, opts: { count?: number; interval?: number; size?: number; dontFragment?: boolean } = {}): Promise<PingResult> {
    const count = opts.count ?? 5;
    const args = ['-n', '-c', String(count), '-i', String(opts.interval ?? 0.2), '-W', '1'];
    if (opts.size !== undefined) args.push('-s', String(opts.size));
    if (opts.dontFragment) args.push('-M', 'do');
    const r = await this.exec('ping', [...args, dst], { allowFailure: true, timeout: 10_000 + count * 2000 });
    const m = /(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss/.exec(r.stdout);
    if (!m) throw new Error(`ping ${dst} from ${this.netns}: ${r.stderr || r.stdout}`);
    return { transmitted: Number(m[1]), received: Number(m[2]), loss: Number(m[3]), output: r.stdout };
  }

  /** IPv4 addresses (with prefix) on eth0. */
  async addresses(): Promise<string[]> {
    const text = await out('ip', ['-n', this.netns, '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    return [...text.matchAll(/inet (\S+)/g)].map((m) => m[1]!);
  }

  /**
   * One DORA with ISC dhclient and the minimal script; returns the bound address. dhclient is stopped afterwards.
   * `request` replaces dhclient's default parameter request list (e.g. to add `interface-mtu`, as Debian's dhclient.conf does).
   * The lease file is kept between calls, so a second call starts with INIT-REBOOT.
   */
  async dhclient(opts: { timeout?: number; request?: string[] } = {}): Promise<string> {
    const dir = this.lab.dir;
    const pidfile = join(dir, `${this.netns}.dhclient.pid`);
    const conf = join(dir, `${this.netns}.dhclient.conf`);
    writeFileSync(conf, `timeout ${opts.timeout ?? 20};\n${opts.request ? `request ${opts.request.join(', ')};\n` : ''}`);
    try {
      await this.exec(
        'dhclient',
        ['-1', '-v', '-cf', conf, '-lf', join(dir, `${this.netns}.leases`), '-pf', pidfile, '-sf', this.lab.script('dhclient'), 'eth0'],
        { timeout: ((opts.timeout ?? 20) + 10) * 1000 },
      );
    } finally {
      const pid = readPid(pidfile);
      if (pid && alive(pid)) {
        process.kill(pid, 'SIGTERM');
        await waitGone(pid);
      }
    }
    return this.boundAddress();
  }

  /** One DORA with busybox udhcpc and the minimal script; returns the bound address. `options` are requested with `-O` (e.g. `mtu`). */
  async udhcpc(opts: { tries?: number; timeout?: number; options?: string[] } = {}): Promise<string> {
    const tries = opts.tries ?? 5;
    const t = opts.timeout ?? 2;
    await this.exec(
      'udhcpc',
      ['-i', 'eth0', '-n', '-q', '-f', '-t', String(tries), '-T', String(t), ...(opts.options ?? []).flatMap((o) => ['-O', o]), '-s', this.lab.script('udhcpc')],
      { timeout: (tries * t + 10) * 1000 },
    );
    return this.boundAddress();
  }

  /** The environment the client's script got on its last call (the options received), or undefined if it never ran. */
  dhcpEnv(client: 'dhclient' | 'udhcpc'): Record<string, string> | undefined {
    const file = join(this.lab.dir, `${this.netns}.${client}.env`);
    if (!existsSync(file)) return undefined;
    const env: Record<string, string> = {};
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
    }
    return env;
  }

  /** The events the client's script was called with, in order (`BOUND`, `RENEW`, `bound`, `renew`...). */
  dhcpEvents(client: 'dhclient' | 'udhcpc'): string[] {
    const file = join(this.lab.dir, `${this.netns}.${client}.events`);
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }

  private async boundAddress(): Promise<string> {
    const [addr] = await this.addresses();
    if (!addr) throw new Error(`${this.netns}: no IPv4 address on eth0 after DHCP`);
    return addr.split('/')[0]!;
  }

  /** Starts tcpdump on eth0 (or `iface`) in the VM; resolves once it listens. */
  capture(filter: string[] = [], iface = 'eth0'): Promise<Capture> {
    return this.lab.capture(this.netns, iface, filter);
  }
}

/** Everything one lab created, in a form the sync and async teardowns share. */
interface Owned {
  netns: string[];
  rootLinks: string[];
  mgmtLocks: string[];
  children: ChildProcess[];
}

export class Lab {
  readonly id: string;
  readonly dir: string;
  readonly hypervisors: Hypervisor[] = [];
  readonly vms: Vm[] = [];
  /** Namespace of the underlay switch (a Linux bridge `ul` joining every hypervisor's underlay veth). */
  readonly underlayNetns: string;
  private readonly owned: Owned = { netns: [], rootLinks: [], mgmtLocks: [], children: [] };
  private unregister: () => void = () => {};
  private tornDown = false;
  // Indexes are taken before any await so concurrent adds get distinct names.
  private hvCount = 0;
  private vmCount = 0;

  private constructor(id: string) {
    this.id = id;
    this.dir = join(tmpdir(), `${PREFIX}${id}-lab`);
    this.underlayNetns = `${PREFIX}${id}-ul`;
  }

  /** Creates an empty lab (the underlay switch only). With `t`, teardown is registered on it. */
  static async create(opts: { t?: TeardownHost } = {}): Promise<Lab> {
    const lab = new Lab(runId());
    mkdirSync(lab.dir, { recursive: true });
    writeFileSync(join(lab.dir, 'owner.pid'), `${process.pid}\n`);
    lab.unregister = registerCleanup(() => lab.teardownSync());
    opts.t?.teardown(() => lab.teardown());
    try {
      writeFileSync(join(lab.dir, 'txoff.py'), TXOFF_PY);
      for (const [name, text] of [['dhclient', DHCLIENT_SH], ['udhcpc', UDHCPC_SH]] as const) {
        writeFileSync(lab.script(name), text);
        chmodSync(lab.script(name), 0o755);
      }
      await lab.addNetns(lab.underlayNetns);
      await run('ip', ['-n', lab.underlayNetns, 'link', 'add', 'ul', 'type', 'bridge']);
      await run('ip', ['-n', lab.underlayNetns, 'link', 'set', 'ul', 'mtu', String(UNDERLAY_MTU), 'up']);
    } catch (e) {
      await lab.teardown();
      throw e;
    }
    return lab;
  }

  /** Path of a client script written into the lab dir. */
  script(name: 'dhclient' | 'udhcpc'): string {
    return join(this.dir, `${name}-script.sh`);
  }

  /** Every namespace this lab has created (and not yet removed). */
  get namespaces(): string[] {
    return [...this.owned.netns];
  }

  /** Root-namespace interfaces this lab has created. */
  get rootLinks(): string[] {
    return [...this.owned.rootLinks];
  }

  private async addNetns(name: string): Promise<void> {
    this.owned.netns.push(name);
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  /**
   * A hypervisor: namespace, its own ovsdb-server + ovs-vswitchd (netdev),
   * `br-phy` holding the underlay veth and the tunnel endpoint 198.18.0.N/24,
   * an empty integration bridge, and optionally a management link.
   */
  async addHypervisor(opts: HypervisorOptions = {}): Promise<Hypervisor> {
    const n = ++this.hvCount;
    const netns = `${PREFIX}${this.id}-hv${n}`;
    await this.addNetns(netns);
    const uplink = `u${this.id}h${n}`;
    await run('ip', ['link', 'add', uplink, 'netns', netns, 'mtu', String(UNDERLAY_MTU), 'type', 'veth',
      'peer', 'name', `u${this.id}s${n}`, 'netns', this.underlayNetns, 'mtu', String(UNDERLAY_MTU)]);
    await run('ip', ['-n', this.underlayNetns, 'link', 'set', `u${this.id}s${n}`, 'master', 'ul', 'up']);
    await run('ip', ['-n', netns, 'link', 'set', uplink, 'up']);

    const ovs = await Ovs.start({ netns, datapath: 'netdev', dir: join(this.dir, `hv${n}`) });
    const bridge = opts.bridge ?? 'br-int';
    try {
      await ovs.addBridge('br-phy');
      await ovs.vsctl('add-port', 'br-phy', uplink);
      await ovs.addBridge(bridge, opts.failMode ? { failMode: opts.failMode } : {});
      await run('ip', ['-n', netns, 'addr', 'add', `198.18.0.${n}/24`, 'dev', 'br-phy']);
      await run('ip', ['-n', netns, 'link', 'set', 'br-phy', 'up']);
      await run('ip', ['-n', netns, 'link', 'set', bridge, 'up']);
    } catch (e) {
      await ovs.stop();
      throw e;
    }
    const mgmt = opts.mgmt ? await this.addMgmt(netns, n) : undefined;
    const hv = new Hypervisor(this, n, netns, ovs, bridge, uplink, mgmt);
    this.hypervisors.push(hv);
    return hv;
  }

  private async addMgmt(netns: string, n: number): Promise<Mgmt> {
    const m = await this.claimMgmtSubnet();
    const rootLink = `wm${this.id}${n}`;
    this.owned.rootLinks.push(rootLink);
    await run('ip', ['link', 'add', rootLink, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', netns]);
    await run('ip', ['addr', 'add', `198.19.${m}.254/24`, 'dev', rootLink]);
    await run('ip', ['link', 'set', rootLink, 'up']);
    await run('ip', ['-n', netns, 'addr', 'add', `198.19.${m}.1/24`, 'dev', 'mgmt0']);
    await run('ip', ['-n', netns, 'link', 'set', 'mgmt0', 'up']);
    return { ip: `198.19.${m}.1`, controllerIp: `198.19.${m}.254`, rootLink };
  }

  /**
   * A free 198.19.M.0/24 for a management link: one /24 per hypervisor in the
   * root namespace, shared by every lab running on the machine, so claimed
   * with an exclusive lock file (reclaimed when its owner is dead).
   */
  private async claimMgmtSubnet(): Promise<number> {
    const used = await out('ip', ['-4', '-o', 'addr', 'show']);
    for (let m = 1; m <= 254; m++) {
      if (used.includes(` 198.19.${m}.`)) continue;
      const lock = join(tmpdir(), `${PREFIX}mgmt-${m}.lock`);
      try {
        writeFileSync(lock, `${process.pid} ${this.id}\n`, { flag: 'wx' });
      } catch {
        const owner = readPid(lock);
        if (owner !== undefined && alive(owner)) continue;
        rmSync(lock, { force: true });
        try {
          writeFileSync(lock, `${process.pid} ${this.id}\n`, { flag: 'wx' });
        } catch {
          continue;
        }
      }
      this.owned.mgmtLocks.push(lock);
      return m;
    }
    throw new Error('no free 198.19.M.0/24 management subnet');
  }

  /**
   * A VM: a namespace with `eth0`, whose veth peer is an access port of the
   * hypervisor's integration bridge (tagged if `tag`), TX checksum offload off.
   */
  async addVm(hv: Hypervisor, opts: VmOptions = {}): Promise<Vm> {
    const k = ++this.vmCount;
    const netns = `${PREFIX}${this.id}-vm${k}`;
    await this.addNetns(netns);
    const port = `v${this.id}p${k}`;
    await run('ip', ['link', 'add', port, 'netns', hv.netns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns,
      ...(opts.mac ? ['address', opts.mac] : [])]);
    if (opts.mtu) await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'mtu', String(opts.mtu)]);
    if (opts.ip) await run('ip', ['-n', netns, 'addr', 'add', opts.ip, 'dev', 'eth0']);
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', hv.netns, 'link', 'set', port, 'up']);
    await run('ip', ['netns', 'exec', netns, PYTHON, '-I', '-S', join(this.dir, 'txoff.py'), 'eth0']);
    await hv.ovs.vsctl('add-port', opts.bridge ?? hv.bridge, port, ...(opts.tag ? [`tag=${opts.tag}`] : []));
    const link = await out('ip', ['-n', netns, '-o', 'link', 'show', 'dev', 'eth0']);
    const mac = /link\/ether (\S+)/.exec(link)?.[1] ?? '';
    const vm = new Vm(this, k, netns, hv, port, mac, opts.ip?.split('/')[0], opts.tag);
    this.vms.push(vm);
    return vm;
  }

  /** Full mesh of tunnels between all hypervisors (`key=flow`). */
  async mesh(type: 'vxlan' | 'gre' | 'geneve' = 'vxlan'): Promise<void> {
    for (const a of this.hypervisors) for (const b of this.hypervisors) if (a !== b) await a.addTunnel(b, { type });
  }

  /** Runs a long-lived command in a namespace; it is killed on teardown. */
  spawnIn(netns: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.owned.children.push(child);
    return child;
  }

  /** Starts tcpdump in a namespace (`-l -n -e`); resolves once it listens. */
  capture(netns: string, iface: string, filter: string[] = []): Promise<Capture> {
    const child = this.spawnIn(netns, 'tcpdump', ['-i', iface, '-l', '-n', '-e', '-U', ...filter]);
    let text = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    return new Promise((resolve, reject) => {
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        if (err.includes('listening on')) {
          resolve({
            stop: async () => {
              child.kill('SIGTERM');
              await exited;
              return text;
            },
          });
        }
      });
      child.once('exit', (code) => reject(new Error(`tcpdump in ${netns} exited ${code}: ${err}`)));
    });
  }

  /** Removes everything the lab created. Idempotent. */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const c of this.owned.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(this.owned.children.map((c) => (c.pid ? waitGone(c.pid, 2000) : undefined)));
    await Promise.all(this.hypervisors.map((hv) => hv.ovs.stop()));
    for (const ns of this.owned.netns) await killNetnsPids(ns);
    for (const link of this.owned.rootLinks) await run('ip', ['link', 'del', link], { allowFailure: true });
    for (const ns of [...this.owned.netns].reverse()) await run('ip', ['netns', 'del', ns], { allowFailure: true });
    for (const lock of this.owned.mgmtLocks) rmSync(lock, { force: true });
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
    this.unregister();
  }

  /** Synchronous teardown for exit/signal handlers. */
  private teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const c of this.owned.children) if (c.pid) waitGoneSync(c.pid, 0);
    for (const ns of this.owned.netns) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
      for (const pid of pids.split(/\s+/).filter(Boolean).map(Number)) waitGoneSync(pid, 0);
    }
    for (const link of this.owned.rootLinks) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    for (const ns of this.owned.netns) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    for (const lock of this.owned.mgmtLocks) rmSync(lock, { force: true });
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** SIGTERM, then SIGKILL, whatever still runs inside a namespace. */
async function killNetnsPids(ns: string): Promise<void> {
  const r = await run('ip', ['netns', 'pids', ns], { allowFailure: true });
  const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  await Promise.all(pids.map((pid) => waitGone(pid, 2000)));
}

/**
 * Removes what labs and OVS instances of dead processes left behind (their
 * owner.pid is not alive): processes from their pidfiles and namespaces,
 * management veths, namespaces, lock files and temp dirs. Returns what it removed.
 */
export async function sweep(): Promise<string[]> {
  const removed: string[] = [];
  // Listing first and judging each id afterwards keeps a run that starts
  // meanwhile safe: its dir (with owner.pid) exists before its namespaces.
  const namespaces = (await out('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!);
  const links = [...(await out('ip', ['-o', 'link', 'show'])).matchAll(/^\d+: ([^:@\s]+)/gm)].map((m) => m[1]!);
  const dirs = readdirSync(tmpdir()).filter((e) => OUR_DIR.test(e));
  const liveness = new Map<string, boolean>();
  const live = (id: string): boolean => {
    if (!liveness.has(id)) liveness.set(id, runIsLive(id));
    return liveness.get(id)!;
  };
  const deadDirs = dirs.filter((e) => !live(OUR_DIR.exec(e)![1]!)).map((e) => join(tmpdir(), e));
  const deadNetns = namespaces.filter((ns) => OUR_NETNS.test(ns) && !live(OUR_NETNS.exec(ns)![1]!));
  for (const dir of deadDirs) {
    for (const pidfile of findPidfiles(dir)) {
      const pid = readPid(pidfile);
      if (pid && alive(pid)) {
        process.kill(pid, 'SIGTERM');
        await waitGone(pid, 2000);
        removed.push(`pid ${pid}`);
      }
    }
  }
  for (const ns of deadNetns) await killNetnsPids(ns);
  for (const link of links) {
    const id = MGMT_LINK.exec(link)?.[1];
    if (id && !live(id)) {
      await run('ip', ['link', 'del', link], { allowFailure: true });
      removed.push(`link ${link}`);
    }
  }
  for (const ns of deadNetns) {
    await run('ip', ['netns', 'del', ns], { allowFailure: true });
    removed.push(`netns ${ns}`);
  }
  for (const entry of readdirSync(tmpdir())) {
    if (!/^weft-mgmt-\d+\.lock$/.test(entry)) continue;
    const owner = readPid(join(tmpdir(), entry));
    if (owner === undefined || !alive(owner)) {
      rmSync(join(tmpdir(), entry), { force: true });
      removed.push(`lock ${entry}`);
    }
  }
  for (const dir of deadDirs) {
    rmSync(dir, { recursive: true, force: true });
    removed.push(`dir ${dir}`);
  }
  return removed;
}

/** A run is live while a dir of it has a live owner, or was made in the last minute (owner.pid not written yet). */
function runIsLive(id: string): boolean {
  for (const entry of readdirSync(tmpdir())) {
    if (OUR_DIR.exec(entry)?.[1] !== id) continue;
    const dir = join(tmpdir(), entry);
    const owner = readPid(join(dir, 'owner.pid'));
    if (owner !== undefined && alive(owner)) return true;
    try {
      if (owner === undefined && Date.now() - statSync(dir).mtimeMs < 60_000) return true;
    } catch {
      /* removed meanwhile */
    }
  }
  return false;
}

function findPidfiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) found.push(...findPidfiles(p));
    else if (e.name.endsWith('.pid') && e.name !== 'owner.pid') found.push(p);
  }
  return found;
}
