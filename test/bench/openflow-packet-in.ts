// Packet-in to packet-out round trips on the netdev datapath (the dummy
// datapath's injection path caps at about 10k frames/s, LAB.md), weft's
// OpenFlow plane against `ovs-testcontroller -n` on the same switch in the
// same run. One hypervisor namespace with its own ovs-vswitchd, one VM
// namespace that blasts raw Ethernet frames through its access port; a
// table-miss flow sends each frame to the controller, which answers every
// packet-in with a packet-out flooding the frame (what ovs-testcontroller's
// learning switch does for an unknown destination), so it leaves by the
// bridge's LOCAL port. A round trip is a packet-out the switch carried out:
// the LOCAL port's tx counter. The controllers take turns (two controllers
// at once would both get every packet-in); switching from one to the other
// keeps the flows (only none <-> some flushes them, LAB.md).
//
// Controller CPU per packet-in: weft's is this process's CPU time over the
// window (the plane is all this process does meanwhile), divided by the
// packet-ins it received; ovs-testcontroller's is its /proc utime + stime.
// weft's packet-in queue is raised above its default 5,000/s per switch,
// which is a guard against floods, not a limit of the plane.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { output, OFPP, type Instruction } from '../../protocols/openflow/index.js';
import { createOpenflowPlane } from '../../src/openflow/plane.js';
import { WEFT_COOKIES, type Flow } from '../../src/openflow/sync.js';
import { Lab } from '../harness/lab.js';
import { out, run, sleep, waitGone } from '../harness/proc.js';
import { eventually, silent } from '../integration/openflow-switch.js';

const WARMUP_MS = Number(process.env.WEFT_BENCH_PI_WARMUP_MS ?? 2_000);
const WINDOW_MS = Number(process.env.WEFT_BENCH_PI_WINDOW_MS ?? 5_000);
const ROUNDS = Number(process.env.WEFT_BENCH_PI_ROUNDS ?? 3);
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// Sends one frame over and over on a packet socket until killed. A full
// socket buffer (ENOBUFS) is the switch falling behind: keep going.
const BLAST_PY = `import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
src = bytes.fromhex(sys.argv[2].replace(':', ''))
frame = bytes.fromhex('020000000001') + src + bytes.fromhex('88b5') + bytes(46)
send = s.send
while True:
    try:
        for _ in range(256):
            send(frame)
    except OSError:
        pass
`;

const tableMiss: Flow = {
  cookie: WEFT_COOKIES.value | 0x70n,
  tableId: 0,
  priority: 0,
  idleTimeout: 0,
  hardTimeout: 0,
  flags: 0,
  match: { fields: [] },
  instructions: [{ type: 'apply_actions', actions: [output(OFPP.CONTROLLER)] } satisfies Instruction],
};

/** ovs-testcontroller, from Debian's openvswitch-testcontroller, installed when missing. */
async function testcontroller(): Promise<string> {
  const path = '/usr/bin/ovs-testcontroller';
  if (existsSync(path)) return path;
  process.stderr.write('bench: installing openvswitch-testcontroller\n');
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'openvswitch-testcontroller'], { timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return path;
}

/** CPU seconds (utime + stime) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from after the command name (field 3 is index 0).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await waitGone(child.pid, 3000);
}

interface Figure {
  roundTripsPerSecond: number;
  cpuMicrosPerPacketIn: number;
}

export async function runPacketIn(): Promise<unknown> {
  const controllerBin = await testcontroller();
  const lab = await Lab.create();
  let blaster: ChildProcess | undefined;
  let tc: ChildProcess | undefined;
  try {
    const hv = await lab.addHypervisor({ mgmt: true, failMode: 'secure' });
    const mgmt = hv.mgmt!;
    // weft speaks 1.3 only; ovs-testcontroller's learning switch, 1.0.
    await hv.ovs.vsctl('set', 'bridge', hv.bridge, 'protocols=OpenFlow10,OpenFlow13');
    const vm = await lab.addVm(hv);
    const weftPlane = createOpenflowPlane({
      targets: [{ scheme: 'ptcp', port: 0, host: mgmt.controllerIp }],
      log: silent,
      desiredFor: () => [tableMiss],
      auditInterval: 0,
      packetIn: { queue: 65_536, rate: 10_000_000, burst: 65_536 },
    });
    await weftPlane.start();
    const weftPort = Number(weftPlane.listeners()[0]!.address.split(':')[1]);
    weftPlane.onPacketIn((ev) => {
      weftPlane.packetOut(ev.dpid, { inPort: ev.inPort, outPort: OFPP.FLOOD, frame: ev.frame });
    });

    const localTx = async (): Promise<number> => {
      const text = await out('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-ports', hv.bridge, 'LOCAL'], { env: hv.ovs.env });
      const m = /tx pkts=(\d+)/.exec(text);
      if (!m) throw new Error(`no LOCAL tx counter in: ${text}`);
      return Number(m[1]);
    };

    const dir = join(lab.dir, 'blast');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'blast.py'), BLAST_PY);
    blaster = lab.spawnIn(vm.netns, PYTHON, ['-I', '-S', join(dir, 'blast.py'), 'eth0', vm.mac]);

    /** Round trips/s over the window, and the controller's CPU per packet-in (per round trip when it keeps no count). */
    const measure = async (cpu: () => number, packetIns?: () => number): Promise<Figure> => {
      await sleep(WARMUP_MS);
      const [tx0, cpu0, pi0, t0] = [await localTx(), cpu(), packetIns?.() ?? 0, performance.now()];
      await sleep(WINDOW_MS);
      const [tx1, cpu1, pi1, t1] = [await localTx(), cpu(), packetIns?.() ?? 0, performance.now()];
      const trips = tx1 - tx0;
      return {
        roundTripsPerSecond: Math.round((trips * 1000) / (t1 - t0)),
        cpuMicrosPerPacketIn: Math.round(((cpu1 - cpu0) * 1e6 * 10) / Math.max(1, packetIns ? pi1 - pi0 : trips)) / 10,
      };
    };

    const weftRuns: Figure[] = [];
    const tcRuns: Figure[] = [];
    const tcDir = join(lab.dir, 'testcontroller');
    mkdirSync(tcDir, { recursive: true });
    const tcPort = await freePort(mgmt.controllerIp);
    try {
      for (let r = 0; r < ROUNDS; r++) {
        await hv.ovs.vsctl('set-controller', hv.bridge, `tcp:${mgmt.controllerIp}:${weftPort}`);
        const dpid = await eventually('the bridge to connect to weft and sync', () => weftPlane.switches().find((s) => s.syncs > 0)?.dpid, 30_000);
        const received = (): number => weftPlane.switches().find((s) => s.dpid === dpid)?.packetIns.received ?? 0;
        weftRuns.push(await measure(selfCpuSeconds, received));

        tc = spawn(controllerBin, ['-n', `ptcp:${tcPort}:${mgmt.controllerIp}`], { env: { ...process.env, OVS_RUNDIR: tcDir, OVS_LOGDIR: tcDir }, stdio: 'ignore' });
        await sleep(300);
        await hv.ovs.vsctl('set-controller', hv.bridge, `tcp:${mgmt.controllerIp}:${tcPort}`);
        const pid = tc.pid!;
        // ovs-testcontroller keeps no count of packet-ins; it answers each one, so its round trips stand for them.
        tcRuns.push(await measure(() => cpuSeconds(pid)));
        await stop(tc);
        tc = undefined;
      }
    } finally {
      await weftPlane.stop();
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      datapath: 'netdev',
      windowMs: WINDOW_MS,
      rounds: ROUNDS,
      weft: { roundTripsPerSecond: median(weftRuns.map((f) => f.roundTripsPerSecond)), cpuMicrosPerPacketIn: median(weftRuns.map((f) => f.cpuMicrosPerPacketIn)) },
      ovsTestcontroller: { roundTripsPerSecond: median(tcRuns.map((f) => f.roundTripsPerSecond)), cpuMicrosPerPacketIn: median(tcRuns.map((f) => f.cpuMicrosPerPacketIn)) },
      samples: { weft: weftRuns, ovsTestcontroller: tcRuns },
    };
  } finally {
    await stop(blaster);
    await stop(tc);
    await lab.teardown();
  }
}
