// Issue 6 acceptance, in the lab of LAB.md: two hypervisors managed by weft
// through `set-manager` only, two tenants with the same subnet on VLANs 11
// and 22, real pings between VM namespaces. Tenants are isolated, MACs are
// learned in the switch, spoofed sources are dropped, and the data plane
// does not notice weft being killed or restarted, ovs-vswitchd restarting,
// or a bogus switch. Losses are counted; nothing is timed.
import net from 'node:net';
import t from 'tap';
import { type Hypervisor, Lab } from '../harness/lab.js';
import { sleep } from '../harness/proc.js';
import { LAB, requirement } from '../harness/require.js';
import { arpRequest, BROADCAST, ethernet, sendFrames } from './frames.js';
import {
  allConnected,
  dumpFlows,
  type DumpedFlow,
  labDiagnostics,
  LEARNED_COOKIES,
  ofport,
  STATIC_COOKIES,
  until,
  Weft,
} from './weft.js';

const NEEDS = { ...LAB, commands: [...LAB.commands, 'tcpdump', 'ping'] };

const MAC = {
  a1: '02:00:00:0a:00:01',
  a2: '02:00:00:0a:00:02',
  a3: '02:00:00:0a:00:03',
  b1: '02:00:00:0b:00:01',
  b2: '02:00:00:0b:00:02',
  spoofed: '02:00:00:0a:00:99',
};
const A_MACS = [MAC.a1, MAC.a2, MAC.a3];

/** Lines of a capture that mention one of the strings. */
const mentioning = (capture: string | undefined, needles: (string | RegExp)[]): string[] =>
  (capture ?? '').split('\n').filter((l) => needles.some((n) => (typeof n === 'string' ? l.includes(n) : n.test(l))));

const keys = (flows: DumpedFlow[]): string[] => flows.map((f) => f.key).sort();

/** A learned (network, MAC) entry of table `table` pointing at `mac`. */
const learnedFor = (flows: DumpedFlow[], table: number, mac: string): DumpedFlow | undefined =>
  flows.find((f) => f.table === table && f.match.includes(`dl_dst=${mac}`));

t.test('the tenant pipeline on two hypervisors managed by weft', requirement(NEEDS), async (t) => {
  const lab = await Lab.create({ t });
  const hv1 = await lab.addHypervisor({ mgmt: true });
  const hv2 = await lab.addHypervisor({ mgmt: true });
  const hvs = [hv1, hv2];
  // Tenant A on VLAN 11 and tenant B on VLAN 22, with the same subnet.
  const a1 = await lab.addVm(hv1, { tag: 11, ip: '192.0.2.11/24', mac: MAC.a1 });
  const a2 = await lab.addVm(hv2, { tag: 11, ip: '192.0.2.12/24', mac: MAC.a2 });
  const a3 = await lab.addVm(hv2, { tag: 11, ip: '192.0.2.13/24', mac: MAC.a3 });
  const b1 = await lab.addVm(hv1, { tag: 22, ip: '192.0.2.21/24', mac: MAC.b1 });
  const b2 = await lab.addVm(hv2, { tag: 22, ip: '192.0.2.22/24', mac: MAC.b2 });
  // A1 and B1 declare their MAC as libvirt does; the others are learned (Proxmox declares nothing).
  for (const vm of [a1, b1]) await vm.hv.ovs.vsctl('set', 'Interface', vm.port, `external_ids:attached-mac=${vm.mac}`);

  const weft = await Weft.start({ lab, t, hypervisors: hvs, admit: ['auto'] });
  const diag = () => labDiagnostics(lab, weft);
  await weft.cli('tenant', 'create', 'acme');
  await weft.cli('tenant', 'create', 'globex');
  await weft.cli('network', 'create', 'acme/web', '--vlan', '11', '--subnet', '192.0.2.0/24');
  await weft.cli('network', 'create', 'globex/web', '--vlan', '22', '--subnet', '192.0.2.0/24');
  for (const hv of hvs) await weft.manage(hv);

  /** Every VM port of the hypervisor has weft's classify flow in table 0. */
  const pipelineOn = async (hv: Hypervisor): Promise<boolean> => {
    const flows = await dumpFlows(hv, STATIC_COOKIES);
    for (const vm of lab.vms.filter((v) => v.hv === hv)) {
      const n = await ofport(hv, vm.port);
      if (!flows.some((f) => f.table === 0 && new RegExp(`(^|,)in_port=${n}(,|$)`).test(f.match))) return false;
    }
    return true;
  };

  let up = false;
  await t.test('weft admits both hosts and installs the pipeline on both', async (t) => {
    try {
      await until('both hosts admitted and converged', async () => {
        const { hosts } = await weft.call<{ hosts: { name: string; state: string; status: { reconcile: string } }[] }>('host.list');
        return hosts.length === 2 && hosts.every((h) => h.state === 'admitted' && h.status.reconcile === 'converged');
      });
      for (const hv of hvs) await until(`weft's flows for every VM port on hv${hv.index}`, () => pipelineOn(hv), 60_000);
      up = true;
    } catch (e) {
      t.fail(String(e), { diag: await diag() });
      return;
    }
    for (const hv of hvs) {
      t.equal((await hv.ovs.vsctl('get', 'bridge', hv.bridge, 'fail_mode')).trim(), 'secure', `hv${hv.index} is in secure mode`);
      // ovs-vswitchd writes is_connected to its database a little after the fact.
      t.ok(await until('is_connected', () => allConnected([hv]), 15_000).catch(() => false), `hv${hv.index} has weft as its connected controller`);
    }
  });
  const needsPipeline = up ? {} : { skip: 'no pipeline was installed (see the first failure)' };

  await t.test("A's VMs reach each other across hosts and on one host: 0% loss", needsPipeline, async (t) => {
    const across = await a1.ping(a2.ip!, { count: 10, interval: 0.1 });
    t.equal(across.loss, 0, 'A1 (hv1) to A2 (hv2)', { diag: across.output });
    const local = await a2.ping(a3.ip!, { count: 10, interval: 0.1 });
    t.equal(local.loss, 0, 'A2 to A3 (both on hv2)', { diag: local.output });
    const b = await b1.ping(b2.ip!, { count: 5, interval: 0.1 });
    t.equal(b.loss, 0, 'B1 (hv1) to B2 (hv2): tenant B works too', { diag: b.output });
  });

  await t.test('A and B share a subnet but see nothing of each other', needsPipeline, async (t) => {
    const caps = await Promise.all([b1.capture(), b2.capture()]);
    const aCaps = await Promise.all([a1.capture(), a2.capture()]);
    const toB = await Promise.all([a1.ping(b1.ip!, { count: 3 }), a1.ping(b2.ip!, { count: 3 }), a3.ping(b1.ip!, { count: 3 })]);
    const toA = await b2.ping(a3.ip!, { count: 3 });
    await a1.exec('ping', ['-n', '-b', '-c', '3', '-i', '0.2', '-W', '1', '192.0.2.255'], { allowFailure: true });
    await sendFrames(a1, [ethernet(BROADCAST, MAC.a1, 0x88b5, Buffer.from('weft broadcast from tenant A')), arpRequest(MAC.a1, '192.0.2.11', '192.0.2.21')]);
    await sendFrames(a2, [arpRequest(MAC.a2, '192.0.2.12', '192.0.2.22')]);
    // A control inside B, so an empty capture cannot pass for isolation.
    const inB = await b1.ping(b2.ip!, { count: 3, interval: 0.1 });
    await sleep(500);
    const [capB1, capB2] = await Promise.all(caps.map((c) => c.stop()));
    const [capA1, capA2] = await Promise.all(aCaps.map((c) => c.stop()));

    for (const r of toB) t.equal(r.received, 0, 'A cannot ping B', { diag: r.output });
    t.equal(toA.received, 0, 'B cannot ping A', { diag: toA.output });
    t.equal(inB.loss, 0, 'B1 and B2 still reach each other');
    t.match(capB1 ?? '', /192\.0\.2\.21 > 192\.0\.2\.22: ICMP echo request/, "B1's capture sees B's own traffic");
    // A's frames: A's MACs anywhere, or A's addresses as a sender (B asking who-has A's address is B's own frame).
    const aNeedles = [...A_MACS, /192\.0\.2\.1[123] >|tell 192\.0\.2\.1[123]\b/];
    t.same(mentioning(capB1, aNeedles), [], "B1 sees none of A's frames (ARP, ICMP, broadcast)");
    t.same(mentioning(capB2, aNeedles), [], "B2 sees none of A's frames (ARP, ICMP, broadcast)");
    t.same(mentioning(capA1, [MAC.b1, MAC.b2]), [], "A1 sees none of B's frames");
    t.same(mentioning(capA2, [MAC.b1, MAC.b2]), [], "A2 sees none of B's frames");
  });

  await t.test("after the first exchange the switches have learned A's MACs (table 40, cookie 0x574c)", needsPipeline, async (t) => {
    const r = await a1.ping(a2.ip!, { count: 3, interval: 0.1 });
    t.equal(r.loss, 0);
    const l1 = await dumpFlows(hv1, LEARNED_COOKIES);
    const l2 = await dumpFlows(hv2, LEARNED_COOKIES);
    t.ok(learnedFor(l1, 40, MAC.a2), "hv1 learned A2's MAC from the tunnel", { diag: l1.map((f) => f.line).join('\n') });
    t.ok(learnedFor(l2, 40, MAC.a1), "hv2 learned A1's MAC from the tunnel", { diag: l2.map((f) => f.line).join('\n') });
    t.ok(learnedFor(l2, 41, MAC.a2), 'hv2 learned its local A2 for frames from the tunnel', { diag: l2.map((f) => f.line).join('\n') });
    t.notOk(l1.some((f) => f.table === 41 && f.match.includes(`dl_dst=${MAC.a2}`)), 'split horizon: nothing learned from a tunnel is in table 41');
  });

  await t.test('A3 does not see the unicast between A1 and A2', needsPipeline, async (t) => {
    await a1.ping(a2.ip!, { count: 2, interval: 0.1 });
    const cap = await a3.capture(['icmp']);
    const r = await a1.ping(a2.ip!, { count: 10, interval: 0.1 });
    const control = await a1.ping(a3.ip!, { count: 2, interval: 0.1 });
    await sleep(500);
    const text = await cap.stop();
    t.equal(r.loss, 0, r.output);
    t.equal(control.loss, 0, 'A1 reaches A3 itself');
    t.match(text, /192\.0\.2\.11 > 192\.0\.2\.13: ICMP echo request/, "A3's capture works");
    t.same(mentioning(text, [/192\.0\.2\.1[12] > 192\.0\.2\.1[12]:/]), [], 'no echo between A1 and A2 reaches A3');
  });

  await t.test('a spoofed source MAC is dropped, the declared one passes', needsPipeline, async (t) => {
    const caps = await Promise.all([a2.capture(['ether proto 0x88b5 or arp']), a3.capture(['ether proto 0x88b5 or arp'])]);
    await sendFrames(a1, [
      ethernet(BROADCAST, MAC.a1, 0x88b5, Buffer.from('genuine')),
      ethernet(BROADCAST, MAC.spoofed, 0x88b5, Buffer.from('spoofed')),
      arpRequest(MAC.spoofed, '192.0.2.11', '192.0.2.12'),
      ethernet(MAC.a2, MAC.spoofed, 0x88b5, Buffer.from('spoofed unicast')),
    ]);
    // And the way a VM user would try it: a new MAC on the NIC, then ping.
    await a1.exec('ip', ['link', 'set', 'eth0', 'address', MAC.spoofed]);
    const r = await a1.ping(a3.ip!, { count: 3, interval: 0.2 });
    await a1.exec('ip', ['link', 'set', 'eth0', 'address', MAC.a1]);
    await sleep(500);
    const [capA2, capA3] = await Promise.all(caps.map((c) => c.stop()));
    t.equal(r.received, 0, 'a ping from the spoofed MAC gets nothing back', { diag: r.output });
    for (const [name, text] of [['A2', capA2], ['A3', capA3]] as const) {
      t.ok(mentioning(text, [MAC.a1]).length > 0, `${name} sees A1's genuine frame`, { diag: text });
      t.same(mentioning(text, [MAC.spoofed]), [], `${name} sees nothing from the spoofed MAC`);
    }
    const learned = await dumpFlows(hv1, LEARNED_COOKIES);
    t.notOk(learned.some((f) => f.match.includes(MAC.spoofed)), 'the spoofed MAC was not learned');
    t.equal((await a1.ping(a2.ip!, { count: 3, interval: 0.1 })).loss, 0, 'A1 with its own MAC back works again');
  });

  await t.test('weft killed with SIGKILL: A keeps pinging for 30 s with 0 loss', needsPipeline, async (t) => {
    const staticBefore = await Promise.all(hvs.map(async (hv) => keys(await dumpFlows(hv, STATIC_COOKIES))));
    await weft.kill();
    const [across, local] = await Promise.all([a1.ping(a2.ip!, { count: 150, interval: 0.2 }), a2.ping(a3.ip!, { count: 150, interval: 0.2 })]);
    t.equal(across.received, 150, `A1 to A2 across hosts: ${across.loss}% loss`);
    t.equal(local.received, 150, `A2 to A3 on hv2: ${local.loss}% loss`);
    for (const hv of hvs) t.notOk((await hv.ovs.vsctl('--columns=is_connected', 'list', 'Controller')).includes('true'), `hv${hv.index} lost its controller meanwhile`);
    // Back for the next tests: the same data directory and ports.
    await weft.spawn();
    await until('both switches reconnected to the new weft', () => weft.logged({ msg: 'switch connected' }, weft.currentLines).length >= 2 && allConnected(hvs), 60_000);
    for (const [i, hv] of hvs.entries()) t.same(keys(await dumpFlows(hv, STATIC_COOKIES)), staticBefore[i], `hv${hv.index}'s flows are as before`);
  });

  await t.test('weft restarted while A pings at 10/s: nothing lost, no flow rewritten, no learned flow deleted', needsPipeline, async (t) => {
    await until('both switches connected', () => allConnected(hvs), 60_000);
    await a1.ping(a2.ip!, { count: 2, interval: 0.1 });
    const before = await Promise.all(hvs.map((hv) => dumpFlows(hv)));
    const pinging = a1.ping(a2.ip!, { count: 200, interval: 0.1 });
    const pingingLocal = a2.ping(a3.ip!, { count: 200, interval: 0.1 });
    await sleep(2000);
    const exit = await weft.stop();
    t.same(exit, { code: 0, signal: null }, 'weft stopped cleanly on SIGTERM');
    await weft.spawn();
    await until('both switches reconnected to the restarted weft', () => weft.logged({ msg: 'switch connected' }, weft.currentLines).length >= 2 && allConnected(hvs), 60_000);
    const [r, rl] = await Promise.all([pinging, pingingLocal]);
    t.equal(r.received, 200, `A1 to A2: ${r.loss}% loss`);
    t.equal(rl.received, 200, `A2 to A3: ${rl.loss}% loss`);
    const after = await Promise.all(hvs.map((hv) => dumpFlows(hv)));
    for (const [i, hv] of hvs.entries()) {
      const b = before[i]!;
      const a = after[i]!;
      const staticB = b.filter((f) => f.cookie >> 48n === 0x5746n);
      const staticA = a.filter((f) => f.cookie >> 48n === 0x5746n);
      t.same(keys(staticA), keys(staticB), `hv${hv.index}: the same static flows`);
      const rewritten = staticB.filter((f) => {
        const now = staticA.find((x) => x.key === f.key);
        return now !== undefined && now.nPackets < f.nPackets;
      });
      t.same(rewritten.map((f) => f.key), [], `hv${hv.index}: no static flow was re-added (their packet counters only grew)`);
      const learnedB = b.filter((f) => f.cookie >> 48n === 0x574cn);
      const learnedA = new Set(a.filter((f) => f.cookie >> 48n === 0x574cn).map((f) => f.key));
      t.same(learnedB.filter((f) => !learnedA.has(f.key)).map((f) => f.key), [], `hv${hv.index}: no learned flow was deleted`);
      t.equal(a.length, b.length, `hv${hv.index}: the flow count is unchanged`);
    }
  });

  await t.test('a "switch" that sends garbage is disconnected; the real ones carry on', needsPipeline, async (t) => {
    const host = hv1.mgmt!.controllerIp;
    const bogus = async (bytes: Buffer): Promise<{ closed: boolean; reply: Buffer }> => {
      const s = net.connect(weft.openflowPort, host);
      s.on('error', () => undefined);
      let reply = Buffer.alloc(0);
      s.on('data', (d: Buffer) => (reply = Buffer.concat([reply, d])));
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(bytes);
      const done = await Promise.race([closed.then(() => true), sleep(15_000).then(() => false)]);
      s.destroy();
      return { closed: done, reply };
    };
    const http = await bogus(Buffer.from('GET / HTTP/1.1\r\nHost: weft\r\n\r\n'));
    t.ok(http.closed, 'an HTTP request on the OpenFlow port is disconnected');
    // An OF 1.3 header whose length (4) is shorter than a header.
    const short = await bogus(Buffer.from('0400000400000001', 'hex'));
    t.ok(short.closed, 'a header with an impossible length is disconnected');
    // A HELLO, then 64 KiB of random bytes.
    const hello = Buffer.from('04000010000000010001000800000010', 'hex');
    const noise = await bogus(Buffer.concat([hello, Buffer.from(Array.from({ length: 65536 }, () => Math.floor(Math.random() * 256)))]));
    t.ok(noise.closed, 'a HELLO followed by random bytes is disconnected');
    // OpenFlow 1.0 only: refused with an error (or a close).
    const of10 = await bogus(Buffer.from('0100000800000001', 'hex'));
    t.ok(of10.closed || of10.reply.readUInt8(1) === 1, 'an OpenFlow 1.0-only peer is refused');

    t.ok(weft.pid, 'weft is still running');
    t.ok(await allConnected(hvs), 'both real switches are still connected');
    const r = await a1.ping(a2.ip!, { count: 10, interval: 0.1 });
    t.equal(r.loss, 0, 'A1 to A2 still 0% loss', { diag: r.output });
  });

  await t.test('ovs-vswitchd restarted: weft restores the flows after it reconnects', needsPipeline, async (t) => {
    const before = keys(await dumpFlows(hv2, STATIC_COOKIES));
    const connectedBefore = weft.logged({ msg: 'switch connected' }).length;
    await hv2.ovs.restartVswitchd();
    const started = Date.now();
    await until('hv2 to have its static flows back', async () => JSON.stringify(keys(await dumpFlows(hv2, STATIC_COOKIES))) === JSON.stringify(before), 60_000, 20).catch(
      async (e: Error) => t.fail(e.message, { diag: await diag() }),
    );
    const restored = Date.now();
    const reconnect = weft.logged({ msg: 'switch connected' }).slice(connectedBefore)[0];
    const reconnectAt = reconnect?.time ? Date.parse(reconnect.time) : undefined;
    t.comment(
      `flows restored ${restored - started} ms after ovs-vswitchd was up` +
        (reconnectAt ? `, ${restored - reconnectAt} ms after weft logged its reconnect` : ' (no reconnect logged)'),
    );
    t.same(keys(await dumpFlows(hv2, STATIC_COOKIES)), before, 'the same static flows as before the restart');
    const r = await a1.ping(a2.ip!, { count: 10, interval: 0.1 });
    t.equal(r.loss, 0, 'A1 to A2 after the restart', { diag: r.output });
    const l = await a2.ping(a3.ip!, { count: 10, interval: 0.1 });
    t.equal(l.loss, 0, 'A2 to A3 after the restart', { diag: l.output });
  });

  await t.test('weft logged no error', async (t) => {
    const errors = weft.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
    t.same(errors, [], 'no error or fatal lines');
  });
});
