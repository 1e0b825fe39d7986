// Relayed DHCP through the pipeline (RFC 2131 4.1): a relay agent among the
// VMs (giaddr set, UDP from port 67 to 67), as perfdhcp is, has its requests
// sent to weft by the services table and answered, and they are not flooded
// to the other VMs of the network. A DHCP server among the VMs (67 to 68)
// still reaches nobody.
import t from 'tap';
import { Lab } from '../harness/lab.js';
import { sleep } from '../harness/proc.js';
import { LAB, requirement } from '../harness/require.js';
import { BROADCAST, ethernet, sendFrames } from './frames.js';
import { dumpFlows, labDiagnostics, STATIC_COOKIES, until, Weft } from './weft.js';

const NEEDS = { ...LAB, commands: [...LAB.commands, 'perfdhcp', 'tcpdump'] };

/** A DHCPOFFER-looking UDP datagram from port 67 to 68, as a rogue server among the VMs would send. */
function rogueOffer(src: string, srcIp: string): Buffer {
  const payload = Buffer.alloc(244);
  payload.writeUInt8(2, 0);
  payload.writeUInt32BE(0x63825363, 236);
  Buffer.from([53, 1, 2, 255]).copy(payload, 240);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(67, 0);
  udp.writeUInt16BE(68, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.alloc(20);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(28 + payload.length, 2);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(17, 9);
  Buffer.from(srcIp.split('.').map(Number)).copy(ip, 12);
  Buffer.from([255, 255, 255, 255]).copy(ip, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  return ethernet(BROADCAST, src, 0x0800, Buffer.concat([ip, udp, payload]));
}

/** perfdhcp's figures for one exchange, e.g. "DISCOVER-OFFER". */
function exchange(text: string, name: string): { sent: number; received: number; drops: number } | undefined {
  const block = text.split(`***Statistics for: ${name}***`)[1];
  if (!block) return undefined;
  const n = (label: string) => Number(new RegExp(`${label}: (\\d+)`).exec(block)?.[1] ?? NaN);
  return { sent: n('sent packets'), received: n('received packets'), drops: n('drops') };
}

t.test('perfdhcp, a relay agent in a VM, is answered through the pipeline', requirement(NEEDS), async (t) => {
  const lab = await Lab.create({ t });
  const hv = await lab.addHypervisor({ mgmt: true });
  const relay = await lab.addVm(hv, { tag: 33, mac: '02:00:00:0c:00:05', ip: '198.51.100.5/24' });
  const bystander = await lab.addVm(hv, { tag: 33, mac: '02:00:00:0c:00:06', ip: '198.51.100.6/24' });
  const weft = await Weft.start({ lab, t, hypervisors: [hv], admit: ['auto'] });
  await weft.cli('tenant', 'create', 'initech');
  await weft.cli('network', 'create', 'initech/app', '--vlan', '33', '--subnet', '198.51.100.0/24', '--gateway', '198.51.100.1', '--dhcp-range', '198.51.100.100-198.51.100.199');
  await weft.manage(hv);
  await until("weft's relay interception", async () => (await dumpFlows(hv, STATIC_COOKIES)).some((f) => f.table === 20 && /tp_src=67,tp_dst=67/.test(f.match) && /CONTROLLER/.test(f.actions)), 60_000).catch(
    async (e: Error) => t.fail(e.message, { diag: await labDiagnostics(lab, weft) }),
  );

  const seen = await bystander.capture(['-Q', 'in', 'udp port 67 or udp port 68']);
  const r = await relay.exec('perfdhcp', ['-4', '-l', 'eth0', '-r', '20', '-R', '40', '-n', '40', '-W', '2000000', '-x', 'e'], { timeout: 60_000, allowFailure: true });
  const text = `${r.stdout}\n${r.stderr}`;
  const doo = exchange(text, 'DISCOVER-OFFER');
  const ra = exchange(text, 'REQUEST-ACK');
  t.match(doo, { sent: 40, received: 40, drops: 0 }, 'every DISCOVER got its OFFER', { diag: text });
  t.match(ra, { received: 40, drops: 0 }, 'every REQUEST got its ACK', { diag: text });
  const leases = (await weft.call<{ leases: { state: string; ip: string }[] }>('lease.list', { network: 'initech/app' })).leases;
  t.equal(leases.filter((l) => l.state === 'bound').length, 40, 'and 40 leases are bound in the store');

  await sendFrames(relay, [rogueOffer(relay.mac, '198.51.100.5')]);
  await sleep(500);
  const flooded = await seen.stop();
  t.equal(flooded.trim(), '', 'neither the relayed requests nor a rogue server’s offer reached another VM', { diag: flooded });
  t.same(weft.lines.filter((l) => l.level === 'error' || l.level === 'fatal'), [], 'weft logged no error');
});
