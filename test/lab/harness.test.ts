// The namespace lab itself (issue acceptance): two hypervisors bridged by
// VXLAN over the underlay, two VMs on NORMAL-action integration bridges ping
// each other without loss, and teardown leaves nothing of the run behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Lab, sweep } from '../harness/lab.js';
import { alive, out } from '../harness/proc.js';
import { LAB, requirement } from '../harness/require.js';

async function leftovers(lab: Pick<Lab, 'id' | 'dir'>, pids: number[]): Promise<string[]> {
  const found: string[] = [];
  const namespaces = await out('ip', ['netns', 'list']);
  const links = await out('ip', ['-o', 'link', 'show']);
  if (namespaces.includes(lab.id)) found.push(`namespaces: ${namespaces}`);
  if (links.includes(lab.id)) found.push(`links: ${links}`);
  for (const pid of pids) if (alive(pid)) found.push(`pid ${pid}`);
  if (existsSync(lab.dir)) found.push(`dir ${lab.dir}`);
  return found;
}

t.test('two hypervisors bridged by VXLAN carry a ping between two VMs', requirement(LAB), async (t) => {
  const lab = await Lab.create({ t });
  const [hv1, hv2] = [await lab.addHypervisor({ failMode: 'standalone' }), await lab.addHypervisor({ failMode: 'standalone' })];
  await lab.mesh('vxlan');
  const vm1 = await lab.addVm(hv1, { ip: '192.0.2.11/24' });
  const vm2 = await lab.addVm(hv2, { ip: '192.0.2.12/24' });

  await t.test('every name carries the run id', async (t) => {
    for (const ns of lab.namespaces) t.match(ns, lab.id);
    t.match(vm1.port, lab.id);
    t.ok(vm1.port.length <= 15, 'interface names fit IFNAMSIZ');
  });

  await t.test('the tunnel leaves through br-phy on the underlay', async (t) => {
    const status = await hv1.ovs.vsctl('get', 'interface', 'vxlan2', 'status');
    t.match(status, /tunnel_egress_iface=br-phy/, hv1.ovs.diagnostics());
  });

  await t.test('VM to VM across the tunnel: 0% loss', async (t) => {
    const r = await vm1.ping(vm2.ip!, { count: 10, interval: 0.1 });
    t.equal(r.loss, 0, r.output);
    t.equal(r.received, 10);
  });

  await t.test('full-size frames fit (underlay MTU 1600)', async (t) => {
    const r = await vm2.ping(vm1.ip!, { count: 3, size: 1472, dontFragment: true });
    t.equal(r.loss, 0, r.output);
  });

  await t.test('teardown removes namespaces, veths, OVS processes and temp dirs', async (t) => {
    const pids = lab.hypervisors.flatMap((hv) => [hv.ovs.ovsdbPid!, hv.ovs.vswitchdPid!]);
    t.equal(pids.filter((p) => alive(p)).length, 4, 'two OVS instances ran');
    await lab.teardown();
    t.same(await leftovers(lab, pids), []);
  });
});

t.test('VMs on tagged access ports and a management link', requirement(LAB), async (t) => {
  const lab = await Lab.create({ t });
  const hv = await lab.addHypervisor({ mgmt: true });
  const a = await lab.addVm(hv, { ip: '198.51.100.1/24', tag: 11 });
  const b = await lab.addVm(hv, { ip: '198.51.100.2/24', tag: 11 });
  const c = await lab.addVm(hv, { ip: '198.51.100.3/24', tag: 22 });

  await t.test('ports carry their tag', async (t) => {
    t.equal((await hv.ovs.vsctl('get', 'port', a.port, 'tag')).trim(), '11');
  });

  await t.test('same tag reaches, other tag does not', async (t) => {
    t.equal((await a.ping(b.ip!, { count: 3 })).loss, 0);
    t.equal((await a.ping(c.ip!, { count: 2 })).loss, 100);
  });

  await t.test('the hypervisor reaches the root namespace over its management link', async (t) => {
    t.ok(hv.mgmt);
    const r = await hv.exec('ping', ['-n', '-c', '2', '-i', '0.2', '-W', '1', hv.mgmt!.controllerIp]);
    t.match(r.stdout, / 0% packet loss/);
  });

  await t.test('tcpdump sees the traffic in the VM', async (t) => {
    const cap = await b.capture(['icmp']);
    await a.ping(b.ip!, { count: 2 });
    t.match(await cap.stop(), /ICMP echo request/);
  });
});

interface ChildLab {
  id: string;
  dir: string;
  pids: number[];
}

/** Starts a process that builds a lab and waits; resolves with what it built. */
function childLab(): Promise<{ child: ChildProcess; lab: ChildLab }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./harness-child.js', import.meta.url))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) resolve({ child, lab: JSON.parse(text) as ChildLab });
    });
    child.once('exit', (code, sig) => reject(new Error(`lab child exited ${code ?? sig} before reporting`)));
  });
}

async function leftoversOf(lab: ChildLab): Promise<string[]> {
  return leftovers({ id: lab.id, dir: lab.dir }, lab.pids);
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`a lab is torn down when its process gets ${sig}`, requirement(LAB), async (t) => {
    const { child, lab } = await childLab();
    t.ok((await leftoversOf(lab)).length > 0, 'the lab exists while the process runs');
    const exited = new Promise((r) => child.once('exit', (code, signal) => r(signal ?? code)));
    child.kill(sig);
    t.equal(await exited, sig, 'the process still dies of the signal');
    t.same(await leftoversOf(lab), []);
  });
}

t.test('sweep removes what a SIGKILLed run left behind', requirement(LAB), async (t) => {
  const { child, lab } = await childLab();
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  t.ok((await leftoversOf(lab)).length > 0, 'SIGKILL leaves the lab behind');
  const removed = await sweep();
  t.ok(removed.some((r) => r.includes(lab.id)), removed.join('\n'));
  t.same(await leftoversOf(lab), []);
});
