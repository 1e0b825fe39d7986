// DHCP through the lab (issue 7): DORAs per second with no drops, and the
// DORA latency, measured with perfdhcp from a VM namespace, for weft through
// OVS and, in the same run on the same hypervisor namespace, for dnsmasq and
// kea-dhcp4 on an OVS internal port.
//
// perfdhcp is a relay agent (giaddr = the VM's address, UDP 67 to 67,
// broadcast), so every server answers relayed requests, from a pool in
// 198.18.64.0/18 (the VM is 198.18.64.2, the server side 198.18.64.1).
//
// Paths. weft: VM → the hypervisor's integration bridge in fail_mode=secure
// with weft's pipeline (table 20 sends the relayed request to the
// controller) → packet-in over TCP on the management veth to `weft serve`
// in the root namespace → lease write fsync'd (SQLite, grouped commits) →
// packet-out on the VM's port. dnsmasq and Kea: a second VM → a plain
// netdev bridge `br-ref` in NORMAL mode in the same hypervisor namespace →
// its internal port `ref0` → the kernel → the server's socket, and back.
// The reference servers cannot sit on weft's bridge: its pipeline has no
// NORMAL and sends every DHCP request to weft. Both paths cross the same
// ovs-vswitchd (userspace netdev datapath) once each way; weft's adds the
// controller round trip, the reference servers' the tap into the kernel.
//
// Servers as configured: weft with every lease fsync'd before its ACK
// (SQLite store), the packet-in rate guard raised above the rates tried;
// dnsmasq with --no-ping (its default ping check holds every new client
// about 3 s, LAB.md) and --dhcp-lease-max above the clients used; Kea with
// the memfile backend, persist: true (appends each lease, no fsync).
//
// For each server a short search over rates: the rate doubles from
// START_RATE until a trial drops something, then a few bisection steps
// between the last clean rate and the first one that dropped. A trial runs
// perfdhcp for TRIAL_S seconds with CLIENTS distinct clients (MACs), then
// waits for stragglers; it is clean when no DISCOVER and no REQUEST was
// dropped (perfdhcp counts an exchange as dropped after 1 s without
// answer). The latency figures are of the highest clean rate: p50 and p99
// of DISCOVER-OFFER, REQUEST-ACK and the whole DORA (DISCOVER sent to ACK
// received) from perfdhcp's per-exchange timestamps (-x t), next to its own
// min/avg/max. perfdhcp does not say which OFFER led to which REQUEST: it
// sends the REQUEST as it reads the OFFER, so the n-th OFFER received pairs
// with the n-th REQUEST sent.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type Hypervisor, type Vm } from '../harness/lab.js';
import { run as runCommand, sleep, waitGone } from '../harness/proc.js';
import { exchangeStats, exchangeTimes, quantile, type ExchangeStats } from '../lab/perfdhcp.js';
import { dumpFlows, STATIC_COOKIES, until, Weft } from '../lab/weft.js';

const TRIAL_S = Number(process.env.WEFT_BENCH_DHCP_TRIAL_S ?? 4);
const START_RATE = Number(process.env.WEFT_BENCH_DHCP_START_RATE ?? 250);
const MAX_RATE = Number(process.env.WEFT_BENCH_DHCP_MAX_RATE ?? 32_000);
const BISECT = Number(process.env.WEFT_BENCH_DHCP_BISECT ?? 3);
const CLIENTS = Number(process.env.WEFT_BENCH_DHCP_CLIENTS ?? 15_000);
const SERVERS = (process.env.WEFT_BENCH_DHCP_SERVERS ?? 'weft,dnsmasq,kea').split(',');

export const SUBNET = '198.18.64.0/18';
const MASK = '255.255.192.0';
export const SERVER_IP = '198.18.64.1';
const RELAY_IP = '198.18.64.2';
export const POOL = ['198.18.64.10', '198.18.127.250'] as const;
/** The VLAN of weft's pool network, which the relay's port is tagged with. */
export const POOL_VLAN = 64;

/** weft's settings for the benchmark: the packet-in guard above the rates tried, and no debug line per packet. */
export const WEFT_SERVE_FLAGS = ['--log-level', 'info', '--packet-in-rate', '1000000', '--packet-in-queue', '100000'];

/** perfdhcp's figures for an exchange, and the percentiles of its per-exchange delays (ms). */
interface Exchange extends ExchangeStats {
  p50: number;
  p99: number;
}

type Latency = Omit<Exchange, 'sent' | 'received' | 'drops'>;

export interface Trial {
  rate: number;
  /** Completed DORAs a second over the sending time. */
  achieved: number;
  discoverOffer: Exchange;
  requestAck: Exchange;
  /** DISCOVER sent to ACK received, ms; absent when OFFERs and REQUESTs do not pair up. */
  dora?: { p50: number; p99: number; avg: number; count: number };
  clean: boolean;
}

export interface ServerResult {
  server: string;
  /** The highest rate tried with no drop: DORAs a second. */
  dorasPerSecond: number;
  /** The rate perfdhcp was asked for in that trial. */
  rate?: number;
  /** At that rate, ms: each exchange's percentiles and perfdhcp's figures, and the whole DORA's. */
  latency?: { discoverOffer: Latency; requestAck: Latency; dora?: Trial['dora'] };
  trials: { rate: number; achieved: number; drops: number }[];
  /** Why the server was not measured. */
  error?: string;
}

const ms = (x: number) => Math.round(x * 1000) / 1000;

/** perfdhcp's statistics for `name` with p50/p99 from its timestamps (-x t). */
function parseExchange(text: string, name: string): Exchange | undefined {
  const stats = exchangeStats(text, name);
  if (!stats) return undefined;
  const delays = exchangeTimes(text, name).map(([sent, received]) => (received - sent) * 1000);
  return { ...stats, p50: ms(quantile(delays, 0.5)), p99: ms(quantile(delays, 0.99)) };
}

/**
 * Whole DORAs: the n-th OFFER received (by time) with the n-th REQUEST sent.
 * OFFERs that arrive while perfdhcp waits for stragglers get no REQUEST and
 * are the last ones; a REQUEST without its ACK would shift the pairs, so
 * then, or when a REQUEST would precede its OFFER, there is no figure.
 */
function doras(text: string, requestsSent: number): Trial['dora'] {
  const offers = exchangeTimes(text, 'DISCOVER-OFFER').sort((a, b) => a[1] - b[1]);
  const requests = exchangeTimes(text, 'REQUEST-ACK').sort((a, b) => a[0] - b[0]);
  if (requests.length === 0 || requests.length !== requestsSent || offers.length < requests.length) return undefined;
  if (requests.some(([requestSent], i) => requestSent < offers[i]![1])) return undefined;
  const delays = requests.map(([, ackReceived], i) => (ackReceived - offers[i]![0]) * 1000);
  return { p50: ms(quantile(delays, 0.5)), p99: ms(quantile(delays, 0.99)), avg: ms(delays.reduce((a, b) => a + b, 0) / delays.length), count: delays.length };
}

/** One perfdhcp run from the VM at `rate` DORAs a second. */
async function trial(vm: Vm, rate: number): Promise<Trial> {
  const r = await vm.exec('perfdhcp', ['-4', '-l', 'eth0', '-r', String(rate), '-R', String(CLIENTS), '-p', String(TRIAL_S), '-W', '1500000', '-x', 't'], {
    timeout: (TRIAL_S + 30) * 1000,
    allowFailure: true,
  });
  const text = `${r.stdout}\n${r.stderr}`;
  const discoverOffer = parseExchange(text, 'DISCOVER-OFFER');
  const requestAck = parseExchange(text, 'REQUEST-ACK');
  if (!discoverOffer || !requestAck) throw new Error(`perfdhcp printed no statistics (exit ${r.code}): ${text.slice(-2000)}`);
  // perfdhcp's own "Rate:" divides by the run including the wait for stragglers: count completed DORAs over the sending time.
  const achieved = Math.round(requestAck.received / TRIAL_S);
  // Fewer DISCOVERs than asked for is the client falling behind, not a clean run at that rate.
  const clean = discoverOffer.drops === 0 && requestAck.drops === 0 && discoverOffer.sent >= rate * TRIAL_S * 0.9;
  const dora = doras(text, requestAck.sent);
  return { rate, achieved, discoverOffer, requestAck, ...(dora ? { dora } : {}), clean };
}

/** Runs around every trial of a search: `before` just before perfdhcp starts, `after` as soon as it is done. */
export interface TrialHooks {
  before(): Promise<void>;
  after(trial: Trial): Promise<void>;
}

/** The highest clean rate over a doubling then bisecting search. */
export async function search(name: string, vm: Vm, hooks?: TrialHooks): Promise<ServerResult> {
  const trials: Trial[] = [];
  const attempt = async (rate: number) => {
    await hooks?.before();
    const tr = await trial(vm, rate);
    await hooks?.after(tr);
    trials.push(tr);
    process.stderr.write(`bench: dhcp ${name} ${rate}/s: achieved ${tr.achieved}, drops ${tr.discoverOffer.drops}+${tr.requestAck.drops}${tr.clean ? '' : ' (not clean)'}\n`);
    // Let the server catch up with anything still queued before the next trial.
    await sleep(1000);
    return tr;
  };
  let good: Trial | undefined;
  let bad: number | undefined;
  for (let rate = START_RATE; rate <= MAX_RATE; rate *= 2) {
    const tr = await attempt(rate);
    if (!tr.clean) {
      bad = rate;
      break;
    }
    good = tr;
  }
  if (bad !== undefined) {
    let lo = good?.rate ?? 0;
    let hi = bad;
    for (let i = 0; i < BISECT && hi - lo > Math.max(10, lo * 0.05); i++) {
      const mid = Math.round((lo + hi) / 2);
      const tr = await attempt(mid);
      if (tr.clean) {
        good = tr;
        lo = mid;
      } else hi = mid;
    }
  }
  const out: ServerResult = {
    server: name,
    dorasPerSecond: good ? Math.round(good.achieved) : 0,
    trials: trials.map((t) => ({ rate: t.rate, achieved: t.achieved, drops: t.discoverOffer.drops + t.requestAck.drops })),
  };
  if (good) {
    out.rate = good.rate;
    const pick = ({ p50, p99, min, avg, max, std }: Exchange): Latency => ({ p50, p99, min, avg, max, std });
    out.latency = { discoverOffer: pick(good.discoverOffer), requestAck: pick(good.requestAck), ...(good.dora ? { dora: good.dora } : {}) };
  }
  return out;
}

/** kea-dhcp4, from Debian's kea-dhcp4-server, installed when missing. */
async function keaDhcp4(): Promise<string> {
  const path = '/usr/sbin/kea-dhcp4';
  if (existsSync(path)) return path;
  process.stderr.write('bench: installing kea-dhcp4-server\n');
  await runCommand('apt-get', ['install', '-y', '--no-install-recommends', 'kea-dhcp4-server'], { timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return path;
}

/** A server process in the hypervisor's namespace, killed by its pid when done. */
async function serve(lab: Lab, hv: Hypervisor, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<() => Promise<void>> {
  const child = spawn('ip', ['netns', 'exec', hv.netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (text += d));
  await sleep(1500);
  if (child.exitCode !== null) throw new Error(`${cmd} exited ${child.exitCode}: ${text.slice(-2000)}`);
  writeFileSync(join(lab.dir, `${cmd.split('/').pop()}.out`), text);
  return async () => {
    child.kill('SIGTERM');
    if (child.pid) await waitGone(child.pid, 5000).catch(() => child.kill('SIGKILL'));
  };
}

/** perfdhcp's VM on weft's bridge, in the pool network: a relay, as perfdhcp is. */
export async function addRelay(lab: Lab, hv: Hypervisor): Promise<Vm> {
  const relay = await lab.addVm(hv, { tag: POOL_VLAN, mac: '02:00:00:40:00:02', ip: `${RELAY_IP}/18` });
  // The relay's port declares its MAC, so the leases it relays never hold it to their clients' MACs.
  await hv.ovs.vsctl('set', 'Interface', relay.port, `external_ids:attached-mac=${relay.mac}`);
  return relay;
}

/** Waits for the pipeline's flow that sends relayed requests to the controller. */
export async function relayFlow(hv: Hypervisor): Promise<void> {
  await until('the relay flow in table 20', async () => (await dumpFlows(hv, STATIC_COOKIES)).some((f) => f.table === 20 && /tp_src=67,tp_dst=67/.test(f.match) && /CONTROLLER/.test(f.actions)), 60_000);
}

export async function run(): Promise<unknown> {
  const teardowns: (() => unknown)[] = [];
  const lab = await Lab.create({ t: { teardown: (fn) => teardowns.unshift(fn) } });
  try {
    const hv = await lab.addHypervisor({ mgmt: true });
    const results: ServerResult[] = [];

    if (SERVERS.includes('weft')) {
      const relay = await addRelay(lab, hv);
      const weft = await Weft.start({
        lab,
        t: { teardown: (fn) => teardowns.unshift(fn) },
        hypervisors: [hv],
        admit: ['auto'],
        extra: WEFT_SERVE_FLAGS,
      });
      await weft.cli('tenant', 'create', 'bench');
      await weft.cli('network', 'create', 'bench/pool', '--vlan', String(POOL_VLAN), '--subnet', SUBNET, '--gateway', SERVER_IP, '--dhcp-range', `${POOL[0]}-${POOL[1]}`, '--lease-time', '3600');
      await weft.manage(hv);
      await relayFlow(hv);
      results.push(await search('weft', relay));
      await weft.stop();
    }

    // The reference servers: a plain NORMAL bridge with an internal port, and a VM of its own.
    const reference = SERVERS.filter((s) => s !== 'weft');
    if (reference.length > 0) {
      await hv.ovs.vsctl('add-br', 'br-ref', '--', 'set', 'bridge', 'br-ref', 'datapath_type=netdev', 'fail_mode=standalone');
      await hv.ovs.vsctl('add-port', 'br-ref', 'ref0', '--', 'set', 'interface', 'ref0', 'type=internal');
      await runCommand('ip', ['-n', hv.netns, 'addr', 'add', `${SERVER_IP}/18`, 'dev', 'ref0']);
      await runCommand('ip', ['-n', hv.netns, 'link', 'set', 'ref0', 'up']);
      await runCommand('ip', ['-n', hv.netns, 'link', 'set', 'br-ref', 'up']);
      const client = await lab.addVm(hv, { bridge: 'br-ref', mac: '02:00:00:40:01:02', ip: `${RELAY_IP}/18` });
      for (const name of reference) {
        let stop: (() => Promise<void>) | undefined;
        try {
          if (name === 'dnsmasq') {
            stop = await serve(lab, hv, '/usr/sbin/dnsmasq', [
              '--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=ref0', '--bind-interfaces', '--no-ping',
              `--dhcp-range=${POOL[0]},${POOL[1]},${MASK},1h`, `--dhcp-lease-max=${CLIENTS + 1000}`,
              `--dhcp-leasefile=${join(lab.dir, 'dnsmasq.leases')}`, `--pid-file=${join(lab.dir, 'dnsmasq.pid')}`,
            ]);
          } else if (name === 'kea') {
            const kea = await keaDhcp4();
            const conf = join(lab.dir, 'kea-dhcp4.conf');
            writeFileSync(conf, JSON.stringify({
              Dhcp4: {
                'interfaces-config': { interfaces: ['ref0'], 'dhcp-socket-type': 'raw' },
                'lease-database': { type: 'memfile', persist: true, name: join(lab.dir, 'kea-leases4.csv'), 'lfc-interval': 0 },
                'valid-lifetime': 3600,
                subnet4: [{ id: 1, subnet: SUBNET, pools: [{ pool: `${POOL[0]} - ${POOL[1]}` }], 'option-data': [{ name: 'routers', data: SERVER_IP }] }],
                loggers: [{ name: 'kea-dhcp4', severity: 'WARN', output_options: [{ output: join(lab.dir, 'kea.log') }] }],
              },
            }));
            stop = await serve(lab, hv, kea, ['-c', conf], { KEA_PIDFILE_DIR: lab.dir, KEA_LOCKFILE_DIR: lab.dir });
          } else throw new Error(`unknown server ${name}`);
          results.push(await search(name, client));
        } catch (e) {
          results.push({ server: name, dorasPerSecond: 0, trials: [], error: (e as Error).message });
        } finally {
          await stop?.();
        }
      }
    }

    const rate = (s: string) => results.find((r) => r.server === s)?.dorasPerSecond;
    const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? Math.round((a / b) * 100) / 100 : undefined);
    return {
      perfdhcp: { trialSeconds: TRIAL_S, clients: CLIENTS, startRate: START_RATE, maxRate: MAX_RATE, bisectSteps: BISECT },
      weftDurability: 'every lease fsync’d before its ACK (SQLite, grouped commits)',
      results,
      ratios: { weftToDnsmasq: ratio(rate('weft'), rate('dnsmasq')), weftToKea: ratio(rate('weft'), rate('kea')) },
    };
  } finally {
    for (const fn of teardowns) await fn();
  }
}
