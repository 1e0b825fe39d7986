// DHCP and port security together (issues 6 and 7): a VM can neither free
// nor take another VM's lease of the same network by naming that VM's MAC
// in chaddr, as a relay, or as its source MAC from a port not yet held to
// one. The ingress port is what the switch vouches for; chaddr is whatever
// the sender wrote. A VM whose port is gone (it moved) gets its address back
// on its new port.
import t from 'tap';
import { Lab } from '../harness/lab.js';
import { sleep } from '../harness/proc.js';
import { LAB, requirement } from '../harness/require.js';
import { BROADCAST, ethernet, sendFrames } from './frames.js';
import { dumpFlows, labDiagnostics, STATIC_COOKIES, until, Weft } from './weft.js';

const NEEDS = { ...LAB, commands: [...LAB.commands, 'udhcpc', 'ping'] };

interface Lease {
  ip: string;
  mac: string;
  state: string;
  port?: string;
}

const ipBytes = (ip: string): number[] => ip.split('.').map(Number);

/** A BOOTREQUEST broadcast from `src` (the sender's own MAC), naming `chaddr`; relayed (port 67 to 67, from giaddr) when `giaddr` is given. */
function request(src: string, chaddr: string, type: number, opts: number[][], ciaddr = '0.0.0.0', giaddr?: string): Buffer {
  const m = Buffer.alloc(240);
  m.writeUInt8(1, 0);
  m.writeUInt8(1, 1);
  m.writeUInt8(6, 2);
  m.writeUInt32BE(0x0badcafe, 4);
  Buffer.from(ipBytes(ciaddr)).copy(m, 12);
  if (giaddr) Buffer.from(ipBytes(giaddr)).copy(m, 24);
  Buffer.from(chaddr.split(':').join(''), 'hex').copy(m, 28);
  m.writeUInt32BE(0x63825363, 236);
  const payload = Buffer.concat([m, Buffer.from([53, 1, type]), ...opts.map((o) => Buffer.from(o)), Buffer.from([255])]);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(giaddr ? 67 : 68, 0);
  udp.writeUInt16BE(67, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.alloc(20);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(28 + payload.length, 2);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(17, 9);
  if (giaddr) Buffer.from(ipBytes(giaddr)).copy(ip, 12);
  Buffer.from([255, 255, 255, 255]).copy(ip, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  return ethernet(BROADCAST, src, 0x0800, Buffer.concat([ip, udp, payload]));
}

t.test("a VM cannot release or take another VM's lease by naming its MAC", requirement(NEEDS), async (t) => {
  const lab = await Lab.create({ t });
  const hv = await lab.addHypervisor({ mgmt: true });
  const victim = await lab.addVm(hv, { tag: 33, mac: '02:00:00:0c:00:02' });
  const attacker = await lab.addVm(hv, { tag: 33, mac: '02:00:00:0c:00:01' });
  const weft = await Weft.start({ lab, t, hypervisors: [hv], admit: ['auto'] });
  await weft.cli('tenant', 'create', 'initech');
  await weft.cli('network', 'create', 'initech/app', '--vlan', '33', '--subnet', '198.51.100.0/24', '--gateway', '198.51.100.1', '--dhcp-range', '198.51.100.100-198.51.100.149');
  await weft.manage(hv);
  await until("weft's DHCP interception", async () => (await dumpFlows(hv, STATIC_COOKIES)).some((f) => f.table === 20 && /CONTROLLER/.test(f.actions)), 60_000).catch(
    async (e: Error) => t.fail(e.message, { diag: await labDiagnostics(lab, weft) }),
  );
  const victimIp = await victim.udhcpc();
  const attackerIp = await attacker.udhcpc();
  const lease = async (): Promise<Lease | undefined> =>
    (await weft.call<{ leases: Lease[] }>('lease.list', { network: 'initech/app', ip: victimIp })).leases[0];
  const before = await lease();
  t.match(before, { mac: victim.mac, state: 'bound' }, "the victim's lease");

  await t.test('a RELEASE naming the victim, sent from the attacker, changes nothing', async (t) => {
    await sendFrames(attacker, [request(attacker.mac, victim.mac, 7, [[54, 4, 198, 51, 100, 1]], victimIp)]);
    await sleep(1000);
    t.match(await lease(), { mac: victim.mac, state: 'bound', port: before?.port }, 'still bound to the victim, on its port');
  });

  await t.test("an INIT-REBOOT REQUEST for the victim's address with its MAC, sent from the attacker, gets no ACK", async (t) => {
    const cap = await attacker.capture(['udp port 68', '-v']);
    await sendFrames(attacker, [request(attacker.mac, victim.mac, 3, [[50, 4, ...ipBytes(victimIp)]])]);
    await sleep(1000);
    const text = await cap.stop();
    t.notMatch(text, /DHCP-Message \(53\), length 1: ACK/, 'no ACK reaches the attacker', { diag: text });
    t.match(await lease(), { mac: victim.mac, state: 'bound', port: before?.port }, "the lease stays on the victim's port");
    const r = await victim.ping(attackerIp, { count: 3, interval: 0.2 });
    t.equal(r.loss, 0, 'the victim still reaches the network', { diag: r.output });
  });

  await t.test("the same REQUEST relayed by the attacker (giaddr its address) gets no ACK", async (t) => {
    const cap = await attacker.capture(['udp port 67', '-v']);
    await sendFrames(attacker, [request(attacker.mac, victim.mac, 3, [[50, 4, ...ipBytes(victimIp)]], '0.0.0.0', attackerIp)]);
    await sleep(1000);
    const text = await cap.stop();
    t.match(text, /giaddr|Gateway-IP|198\.51\.100/, 'the capture saw the relayed request', { diag: text });
    t.notMatch(text, /DHCP-Message \(53\), length 1: ACK/, 'no ACK reaches the relay', { diag: text });
    t.match(await lease(), { mac: victim.mac, state: 'bound', port: before?.port }, "the lease stays on the victim's port");
  });

  // A second NIC with the victim's MAC, on a port with nothing known yet, so
  // port security lets it send as the victim: chaddr and source agree.
  const twin = await lab.addVm(hv, { tag: 33, mac: victim.mac });

  await t.test("a VM sending as the victim from its own port is not served while the victim's port is there", async (t) => {
    await t.rejects(twin.udhcpc({ tries: 2, timeout: 1 }), 'udhcpc gets no lease');
    t.match(await lease(), { mac: victim.mac, state: 'bound', port: before?.port }, "the lease stays on the victim's port");
    const r = await victim.ping(attackerIp, { count: 3, interval: 0.2 });
    t.equal(r.loss, 0, 'the victim still reaches the network', { diag: r.output });
  });

  await t.test('once the victim’s port is gone (the VM moved), its MAC gets the same address on the new port', async (t) => {
    await hv.ovs.vsctl('del-port', hv.bridge, victim.port);
    t.equal(await twin.udhcpc(), victimIp, 'the same address');
    t.match(await lease(), { mac: victim.mac, state: 'bound', port: twin.port }, 'the lease is on the new port');
    const r = await twin.ping(attackerIp, { count: 3, interval: 0.2 });
    t.equal(r.loss, 0, 'and the moved VM reaches the network', { diag: r.output });
  });
});
