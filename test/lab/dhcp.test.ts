// Issue 7 acceptance, in the lab of LAB.md: weft's embedded DHCP answering
// real dhclient and udhcpc in VM namespaces on two hypervisors, for three
// tenants, two of them with the same subnet. Each VM gets an address of its
// own network with the options configured, from its own hypervisor's switch
// (nothing crosses the underlay); renewals, reservations, an exhausted pool
// and a weft restart behave as RFC 2131 and docs/dhcp.md say.
import { type ChildProcess } from 'node:child_process';
import t from 'tap';
import { DHCP_MESSAGE_TYPE } from '../../protocols/dhcp/index.js';
import { type Hypervisor, Lab, type Vm } from '../harness/lab.js';
import { alive, sleep, waitGone } from '../harness/proc.js';
import { LAB, requirement } from '../harness/require.js';
import { BROADCAST, ethernet, sendFrames } from './frames.js';
import { capturedReplies, exchangeLeases, exchangeStats } from './perfdhcp.js';
import { allConnected, dumpFlows, labDiagnostics, ofport, STATIC_COOKIES, until, Weft } from './weft.js';

const NEEDS = { ...LAB, commands: [...LAB.commands, 'tcpdump', 'dhclient', 'udhcpc', 'ping', 'perfdhcp'] };

/** What Debian's /etc/dhcp/dhclient.conf requests (a VM's usual dhclient). */
const DEBIAN_REQUEST = [
  'subnet-mask', 'broadcast-address', 'time-offset', 'routers', 'domain-name', 'domain-name-servers', 'domain-search',
  'host-name', 'netbios-name-servers', 'netbios-scope', 'interface-mtu', 'ntp-servers',
];

interface NetSpec {
  ref: string;
  vlan: number;
  cidr: string;
  gateway: string;
  range: [string, string];
  dns: string;
  domain: string;
  mtu: number;
  /** Flags beyond the ones derived from the fields above. */
  extra?: string[];
}

const NETS = {
  acme: { ref: 'acme/web', vlan: 11, cidr: '192.0.2.0/24', gateway: '192.0.2.1', range: ['192.0.2.100', '192.0.2.149'], dns: '192.0.2.53', domain: 'acme.example', mtu: 1450 },
  globex: { ref: 'globex/web', vlan: 22, cidr: '192.0.2.0/24', gateway: '192.0.2.1', range: ['192.0.2.200', '192.0.2.249'], dns: '192.0.2.54', domain: 'globex.example', mtu: 1450 },
  initech: { ref: 'initech/app', vlan: 33, cidr: '198.51.100.0/24', gateway: '198.51.100.1', range: ['198.51.100.100', '198.51.100.149'], dns: '198.51.100.53', domain: 'initech.example', mtu: 1400, extra: ['--mtu', '1400'] },
  bulk: { ref: 'acme/bulk', vlan: 55, cidr: '198.51.100.0/24', gateway: '198.51.100.1', range: ['198.51.100.10', '198.51.100.250'], dns: '198.51.100.53', domain: 'bulk.example', mtu: 1450 },
  tiny: { ref: 'initech/tiny', vlan: 44, cidr: '203.0.113.0/24', gateway: '203.0.113.1', range: ['203.0.113.10', '203.0.113.10'], dns: '203.0.113.53', domain: 'tiny.example', mtu: 1450 },
} satisfies Record<string, NetSpec>;

const RESERVED = { mac: '02:00:00:0a:00:77', ip: '192.0.2.77', hostname: 'reserved' };

const ipNum = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const inRange = (ip: string, [start, end]: readonly [string, string]): boolean => ipNum(ip) >= ipNum(start) && ipNum(ip) <= ipNum(end);

interface Lease {
  tenant: string;
  network: string;
  ip: string;
  mac: string;
  state: string;
  expiresAt: number;
}

/** udhcpc running as a daemon (no -q): it stays bound and renews on SIGUSR1. */
interface Udhcpcd {
  child: ChildProcess;
  vm: Vm;
}

t.test('DHCP for three tenants on two hypervisors', requirement(NEEDS), async (t) => {
  const lab = await Lab.create({ t });
  const hv1 = await lab.addHypervisor({ mgmt: true });
  const hv2 = await lab.addHypervisor({ mgmt: true });
  const hvs = [hv1, hv2];
  const vm = async (hv: Hypervisor, net: NetSpec, mac: string, ip?: string) => lab.addVm(hv, { tag: net.vlan, mac, ...(ip ? { ip } : {}) });
  // Each tenant network has its router (a VM answering ARP for the gateway, as in real life).
  const routers = [await vm(hv1, NETS.acme, '02:00:00:0a:00:fe', '192.0.2.1/24'), await vm(hv1, NETS.globex, '02:00:00:0b:00:fe', '192.0.2.1/24')];
  const a1 = await vm(hv1, NETS.acme, '02:00:00:0a:00:01');
  const a2 = await vm(hv2, NETS.acme, '02:00:00:0a:00:02');
  const b1 = await vm(hv1, NETS.globex, '02:00:00:0b:00:01');
  const b2 = await vm(hv2, NETS.globex, '02:00:00:0b:00:02');
  const c1 = await vm(hv1, NETS.initech, '02:00:00:0c:00:01');
  const c2 = await vm(hv2, NETS.initech, '02:00:00:0c:00:02');
  const reserved = await vm(hv2, NETS.acme, RESERVED.mac);
  const x1 = await vm(hv1, NETS.tiny, '02:00:00:0d:00:01');
  const x2 = await vm(hv2, NETS.tiny, '02:00:00:0d:00:02');
  // perfdhcp's VM: a relay agent for many clients, from its own (declared) MAC and address.
  const bulk = await vm(hv1, NETS.bulk, '02:00:00:0e:00:01', '198.51.100.5/24');
  await hv1.ovs.vsctl('set', 'Interface', bulk.port, `external_ids:attached-mac=${bulk.mac}`);
  const netOf = new Map<Vm, NetSpec>([
    [a1, NETS.acme], [a2, NETS.acme], [reserved, NETS.acme], [b1, NETS.globex], [b2, NETS.globex],
    [c1, NETS.initech], [c2, NETS.initech], [x1, NETS.tiny], [x2, NETS.tiny],
  ]);
  const clients = [a1, a2, b1, b2, c1, c2];
  const name = (v: Vm) => `${netOf.get(v)?.ref ?? '?'} vm${v.index} on hv${v.hv.index}`;

  const weft = await Weft.start({ lab, t, hypervisors: hvs });
  const diag = () => labDiagnostics(lab, weft);
  for (const tenant of ['acme', 'globex', 'initech']) await weft.cli('tenant', 'create', tenant);
  for (const n of Object.values(NETS) as NetSpec[]) {
    await weft.cli('network', 'create', n.ref, '--vlan', String(n.vlan), '--subnet', n.cidr, '--gateway', n.gateway,
      '--dhcp-range', `${n.range[0]}-${n.range[1]}`, '--dns', n.dns, '--domain', n.domain, '--lease-time', '600', ...(n.extra ?? []));
  }
  await weft.cli('reservation', 'add', 'acme/web', RESERVED.mac, RESERVED.ip, '--hostname', RESERVED.hostname);
  for (const hv of hvs) await weft.manage(hv);

  const leases = async (network?: string): Promise<Lease[]> => (await weft.call<{ leases: Lease[] }>('lease.list', network ? { network } : {})).leases;
  /** Addresses held by two live leases of one network: must stay empty. */
  const duplicates = async (): Promise<string[]> => {
    const seen = new Map<string, string>();
    const dup: string[] = [];
    for (const l of await leases()) {
      if (l.state !== 'bound' || l.expiresAt < Date.now()) continue;
      const k = `${l.tenant}/${l.network} ${l.ip}`;
      if (seen.has(k) && seen.get(k) !== l.mac) dup.push(`${k}: ${seen.get(k)} and ${l.mac}`);
      seen.set(k, l.mac);
    }
    return dup;
  };

  /** Addresses that two VMs of one network have on their NICs: must stay empty. */
  const sharedAddresses = async (): Promise<string[]> => {
    const seen = new Map<string, Vm>();
    const dup: string[] = [];
    for (const [v, net] of netOf) {
      for (const a of await v.addresses()) {
        const k = `${net.ref} ${a.split('/')[0]}`;
        if (seen.has(k)) dup.push(`${k}: ${name(seen.get(k)!)} and ${name(v)}`);
        seen.set(k, v);
      }
    }
    return dup;
  };

  let up = false;
  await t.test('hosts wait for admission; admitted through the CLI, they get the pipeline', async (t) => {
    try {
      const pending = await until('both hosts pending', async () => {
        const hosts = JSON.parse(await weft.cli('hosts', '--json')) as { hosts?: { name: string; state: string }[] } | { name: string; state: string }[];
        const list = Array.isArray(hosts) ? hosts : (hosts.hosts ?? []);
        return list.length === 2 ? list : undefined;
      });
      t.same(pending.map((h) => h.state), ['pending', 'pending'], 'both connected hosts are pending');
      for (const hv of hvs) t.equal(await weft.cli('host', 'admit', `hv${hv.index}`), `admitted hv${hv.index}\n`, `weft host admit hv${hv.index}`);
      for (const hv of hvs) {
        await until(`weft's DHCP interception and a classify flow per VM port on hv${hv.index}`, async () => {
          const flows = await dumpFlows(hv, STATIC_COOKIES);
          if (!flows.some((f) => f.table === 20 && /tp_src=68|udp_src=68/.test(f.match) && /CONTROLLER/.test(f.actions))) return false;
          for (const v of lab.vms.filter((x) => x.hv === hv)) {
            const n = await ofport(hv, v.port);
            if (!flows.some((f) => f.table === 0 && new RegExp(`(^|,)in_port=${n}(,|$)`).test(f.match))) return false;
          }
          return true;
        }, 60_000);
      }
      up = true;
    } catch (e) {
      t.fail(String(e), { diag: await diag() });
    }
  });
  const needsPipeline = up ? {} : { skip: 'no pipeline was installed (see the first failure)' };

  await t.test('dhclient: each VM gets an address of its own network, with router, DNS, domain and MTU', needsPipeline, async (t) => {
    const got = await Promise.all(clients.map((v) => v.dhclient({ request: DEBIAN_REQUEST, timeout: 15 }).catch((e: Error) => e)));
    for (const [i, v] of clients.entries()) {
      const net = netOf.get(v)!;
      const ip = got[i]!;
      if (ip instanceof Error) {
        t.fail(`${name(v)}: no lease: ${ip.message}`);
        continue;
      }
      t.ok(inRange(ip, net.range), `${name(v)} got ${ip}, in ${net.range.join('-')}`);
      const env = v.dhcpEnv('dhclient') ?? {};
      t.equal(env.new_routers, net.gateway, `${name(v)}: router`);
      t.equal(env.new_domain_name_servers, net.dns, `${name(v)}: DNS`);
      t.equal(env.new_domain_name, net.domain, `${name(v)}: domain`);
      t.equal(env.new_interface_mtu, String(net.mtu), `${name(v)}: MTU`);
      t.equal(env.new_subnet_mask, '255.255.255.0', `${name(v)}: mask`);
      t.equal(env.new_dhcp_lease_time, '600', `${name(v)}: lease time`);
    }
    const mine = got.filter((x): x is string => typeof x === 'string');
    const acme = [got[0], got[1]];
    const globex = [got[2], got[3]];
    t.not(acme[0], acme[1], 'the two acme VMs got different addresses');
    t.not(globex[0], globex[1], 'the two globex VMs got different addresses');
    t.equal(mine.length, clients.length, 'every VM got a lease');
    t.same(await duplicates(), [], 'no address is leased twice in a network');
    t.same(await sharedAddresses(), [], 'no two VMs of a network hold the same address');
  });

  await t.test('udhcpc: the same, for busybox clients', needsPipeline, async (t) => {
    for (const v of clients) await v.exec('ip', ['addr', 'flush', 'dev', 'eth0', 'scope', 'global']);
    const got = await Promise.all(clients.map((v) => v.udhcpc({ options: ['mtu', 'domain'] }).catch((e: Error) => e)));
    for (const [i, v] of clients.entries()) {
      const net = netOf.get(v)!;
      const ip = got[i]!;
      if (ip instanceof Error) {
        t.fail(`${name(v)}: no lease: ${ip.message}`);
        continue;
      }
      t.ok(inRange(ip, net.range), `${name(v)} got ${ip}, in ${net.range.join('-')}`);
      const env = v.dhcpEnv('udhcpc') ?? {};
      t.equal(env.router, net.gateway, `${name(v)}: router`);
      t.equal(env.dns, net.dns, `${name(v)}: DNS`);
      t.equal(env.domain, net.domain, `${name(v)}: domain`);
      t.equal(env.mtu, String(net.mtu), `${name(v)}: MTU`);
      t.equal(env.serverid, net.gateway, `${name(v)}: server identifier`);
    }
    t.same(await duplicates(), [], 'no address is leased twice in a network');
    t.same(await sharedAddresses(), [], 'no two VMs of a network hold the same address');
  });

  await t.test('a VM on the second hypervisor is answered by its own switch: no DHCP on the underlay, none flooded', needsPipeline, async (t) => {
    const underlay = await lab.capture(hv2.netns, hv2.underlayLink, ['-v']);
    const atRouter = await routers[0]!.capture(['udp port 67 or udp port 68']);
    for (const v of [a2, b2, c2]) await v.exec('ip', ['addr', 'flush', 'dev', 'eth0', 'scope', 'global']);
    const got = await Promise.all([a2.udhcpc(), b2.dhclient({ request: DEBIAN_REQUEST }), c2.udhcpc()].map((p) => p.catch((e: Error) => e)));
    // A control that must cross the underlay, so an empty capture cannot pass.
    const control = await a2.ping(routers[0]!.ip!, { count: 3, interval: 0.1 });
    await sleep(500);
    const [text, routerText] = await Promise.all([underlay.stop(), atRouter.stop()]);
    for (const [i, v] of [a2, b2, c2].entries()) t.type(got[i], 'string', `${name(v)} got a lease (${String(got[i])})`);
    t.equal(control.loss, 0, 'the control ping from hv2 to the router on hv1');
    t.match(text, /ICMP echo request/, 'the underlay capture sees tunnelled traffic');
    t.same(text.split('\n').filter((l) => /BOOTP|DHCP|\.6[78] >|\.6[78]:/.test(l)), [], 'no DHCP packet on the underlay');
    t.same(routerText.split('\n').filter((l) => /BOOTP|DHCP/.test(l)), [], 'no DHCP packet reaches another VM of the network');
  });

  let renewing: Udhcpcd | undefined;
  const startUdhcpcd = async (v: Vm): Promise<Udhcpcd> => {
    const before = v.dhcpEvents('udhcpc').length;
    const child = lab.spawnIn(v.netns, 'udhcpc', ['-i', 'eth0', '-f', '-t', '5', '-T', '2', '-A', '2', '-O', 'mtu', '-s', lab.script('udhcpc')]);
    child.stdout!.resume();
    child.stderr!.resume();
    await until(`${name(v)}'s udhcpc to be bound`, () => v.dhcpEvents('udhcpc').slice(before).includes('bound'), 30_000);
    return { child, vm: v };
  };
  /** SIGUSR1: udhcpc renews (RENEWING, unicast to the server identifier). Resolves with the script's next event. */
  const renew = async (d: Udhcpcd): Promise<string> => {
    const before = d.vm.dhcpEvents('udhcpc').length;
    d.child.kill('SIGUSR1');
    return until(`${name(d.vm)}'s renewal`, () => d.vm.dhcpEvents('udhcpc')[before], 30_000);
  };

  await t.test('a renewal keeps the address', needsPipeline, async (t) => {
    renewing = await startUdhcpcd(b1);
    const bound = b1.dhcpEnv('udhcpc')!.ip;
    t.ok(bound && inRange(bound, NETS.globex.range), `udhcpc bound ${bound}`);
    const event = await renew(renewing);
    t.equal(event, 'renew', "udhcpc's renewal was ACKed");
    t.equal(b1.dhcpEnv('udhcpc')!.ip, bound, 'with the same address');
    t.same(await b1.addresses(), [`${bound}/24`]);

    const before = a1.dhcpEnv('dhclient')?.new_ip_address;
    const again = await a1.dhclient({ request: DEBIAN_REQUEST });
    t.equal(again, before, `dhclient restarted with its lease file (INIT-REBOOT) keeps ${before}`);
    t.ok(a1.dhcpEvents('dhclient').includes('REBOOT'), `dhclient's events: ${a1.dhcpEvents('dhclient').join(' ')}`);
  });

  await t.test('a reservation gives the reserved address and host name', needsPipeline, async (t) => {
    t.equal(await reserved.dhclient({ request: DEBIAN_REQUEST }), RESERVED.ip, 'dhclient');
    t.equal(reserved.dhcpEnv('dhclient')?.new_host_name, RESERVED.hostname, 'the host name of the reservation');
    await reserved.exec('ip', ['addr', 'flush', 'dev', 'eth0', 'scope', 'global']);
    t.equal(await reserved.udhcpc(), RESERVED.ip, 'udhcpc');
    const l = await leases('acme/web');
    t.same(l.filter((x) => x.ip === RESERVED.ip).map((x) => [x.mac, x.state]), [[RESERVED.mac, 'bound']], 'the store has the reserved lease');
  });

  await t.test('an exhausted pool: no offer to the second client, a pool-exhausted event, never a duplicate', needsPipeline, async (t) => {
    t.equal(await x1.udhcpc(), NETS.tiny.range[0], 'the first client gets the only address');
    const second = await x2.udhcpc({ tries: 3, timeout: 2 }).then(
      (ip) => ip,
      (e: Error) => e,
    );
    t.type(second, Error, `the second client gets nothing (${second instanceof Error ? 'no lease' : second})`);
    t.same(await x2.addresses(), [], 'and has no address');
    const events = await until('a pool-exhausted event for initech/tiny', () => {
      const e = weft.logged({ type: 'pool-exhausted' });
      return e.length > 0 ? e : undefined;
    }, 10_000).catch(() => []);
    t.ok(events.length > 0, 'weft logged a pool-exhausted event', { diag: weft.tail(20) });
    t.match(events[0] ?? {}, { network: 'initech/tiny', mac: '02:00:00:0d:00:02' });
    const tiny = (await leases('initech/tiny')).filter((l) => l.state === 'bound');
    t.same(tiny.map((l) => [l.ip, l.mac]), [[NETS.tiny.range[0], '02:00:00:0d:00:01']], 'one lease, to the first client');
    t.same(await duplicates(), [], 'no address is leased twice in a network');
    t.same(await sharedAddresses(), [], 'no two VMs of a network hold the same address');
  });

  await t.test('weft restarted: renewals keep their addresses', needsPipeline, async (t) => {
    const held = new Map<Vm, string>();
    for (const v of [a1, b1, c1, c2, x1]) held.set(v, (await v.addresses())[0]!.split('/')[0]!);
    const exit = await weft.stop();
    t.same(exit, { code: 0, signal: null }, 'weft stopped cleanly on SIGTERM');
    await weft.spawn();
    await until('both switches reconnected', async () => weft.logged({ msg: 'switch connected' }, weft.currentLines).length >= 2 && (await allConnected(hvs)), 60_000);

    if (renewing) {
      t.equal(await renew(renewing), 'renew', 'udhcpc renewed after the restart');
      t.equal(b1.dhcpEnv('udhcpc')!.ip, held.get(b1), `${name(b1)} kept ${held.get(b1)}`);
    }
    t.equal(await a1.dhclient({ request: DEBIAN_REQUEST }), held.get(a1), `${name(a1)}: dhclient INIT-REBOOT keeps the address`);
    for (const v of [c1, c2, x1]) t.equal(await v.udhcpc(), held.get(v), `${name(v)}: udhcpc keeps the address`);
    t.same(await duplicates(), [], 'no address is leased twice in a network');
    t.same(await sharedAddresses(), [], 'no two VMs of a network hold the same address');
  });

  await t.test('weft SIGKILLed in the middle of 200 DORAs from perfdhcp: every ACKed lease is in the store, no address twice', needsPipeline, async (t) => {
    const bound = async () => (await leases('acme/bulk')).filter((l) => l.state === 'bound');
    // Every ACK weft sent, as the relay received it: decoded from the wire, since perfdhcp does not say which client each one was for.
    const wire = await lab.capture(bulk.netns, 'eth0', ['-Q', 'in', '-xx', 'udp src port 67']);
    // 20 new DORAs a second among 200 client MACs: the kill lands with DORAs in every state, and more start while weft is down and after it is back.
    let finished = false;
    const perf = bulk
      .exec('perfdhcp', ['-4', '-l', 'eth0', '-b', 'mac=02:00:00:ee:00:00', '-R', '200', '-r', '20', '-n', '200', '-W', '5000000', '-x', 'l'], { timeout: 300_000, allowFailure: true })
      .finally(() => (finished = true));
    const atKill = await until('40 leases in the store', async () => {
      const n = (await bound()).length;
      return n >= 40 ? n : undefined;
    }, 60_000, 50).catch(() => 0);
    const midway = !finished;
    await weft.kill();
    t.ok(atKill >= 40 && midway, `killed with ${atKill} leases stored and perfdhcp still running`);
    await weft.spawn();
    await until('both switches reconnected', async () => weft.logged({ msg: 'switch connected' }, weft.currentLines).length >= 2 && (await allConnected(hvs)), 60_000);
    const r = await perf;
    await sleep(500);
    const out = `${r.stdout}\n${r.stderr}`;
    const { replies, undecoded } = capturedReplies(await wire.stop());
    t.same(undecoded, [], 'every DHCP frame the relay received decodes');
    const acks = replies.filter((m) => m.type === DHCP_MESSAGE_TYPE.ACK);
    const doo = exchangeStats(out, 'DISCOVER-OFFER');
    const ra = exchangeStats(out, 'REQUEST-ACK');
    t.equal(doo?.sent, 200, `perfdhcp sent its 200 DISCOVERs (${ra?.received ?? '?'} ACKs in time, ${acks.length} on the wire)`, { diag: out.slice(-3000) });
    t.ok(acks.length > 0, `the relay received ${acks.length} ACKs, before the kill and after the restart`);

    const store = await bound();
    const lost = acks.filter((a) => !store.some((l) => l.mac === a.chaddr && l.ip === a.yiaddr)).map((a) => `${a.chaddr} ${a.yiaddr}`);
    t.same(lost, [], 'every ACKed lease is in the store, bound to its client and address');
    const holder = new Map<string, string>();
    const twice = new Set<string>();
    for (const a of acks) {
      if (holder.has(a.yiaddr) && holder.get(a.yiaddr) !== a.chaddr) twice.add(`${a.yiaddr}: ${holder.get(a.yiaddr)} and ${a.chaddr}`);
      holder.set(a.yiaddr, a.chaddr);
    }
    t.same([...twice], [], 'no address was ACKed to two clients');
    t.equal(new Set(store.map((l) => l.ip)).size, store.length, 'the store holds each address once');
    t.equal(new Set(store.map((l) => l.mac)).size, store.length, 'and each client once');
    t.same(await duplicates(), [], 'no address is leased twice in any network');
    const missing = exchangeLeases(out, 'REQUEST-ACK').filter((ip) => !store.some((l) => l.ip === ip));
    t.same(missing, [], "every address in perfdhcp's own list of ACKed leases is in the store");
    t.ok(store.every((l) => inRange(l.ip, NETS.bulk.range)), 'all in the range');
  });

  await t.test('hostile DHCP packets from a VM neither crash weft nor touch the leases of others', needsPipeline, async (t) => {
    const before = JSON.stringify((await leases()).filter((l) => l.mac !== c1.mac).map((l) => [l.tenant, l.network, l.ip, l.mac, l.state]));
    await sendFrames(c1, hostileDhcp(c1.mac, [a1.mac, b1.mac, x1.mac], NETS.tiny.range[0]));
    await sleep(1000);
    t.ok(weft.pid && alive(weft.pid), 'weft is still running');
    const after = JSON.stringify((await leases()).filter((l) => l.mac !== c1.mac).map((l) => [l.tenant, l.network, l.ip, l.mac, l.state]));
    t.equal(after, before, "the other clients' leases are as they were");
    await c1.exec('ip', ['addr', 'flush', 'dev', 'eth0', 'scope', 'global']);
    t.ok(inRange(await c1.udhcpc(), NETS.initech.range), 'the VM itself is still served');
  });

  await t.test('weft logged no error', async (t) => {
    if (renewing) {
      renewing.child.kill('SIGTERM');
      if (renewing.child.pid) await waitGone(renewing.child.pid, 3000);
    }
    t.same(weft.lines.filter((l) => l.level === 'error' || l.level === 'fatal'), []);
  });
});

// ---- hostile packets -------------------------------------------------------

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet/IPv4/UDP 68→67 broadcast frame around `payload` (UDP checksum 0, allowed). */
function dhcpFrame(src: string, payload: Buffer): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(68, 0);
  udp.writeUInt16BE(67, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.alloc(20);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(17, 9);
  Buffer.from([255, 255, 255, 255]).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return ethernet(BROADCAST, src, 0x0800, Buffer.concat([ip, udp, payload]));
}

/** A BOOTREQUEST with the given options (type 53 first), chaddr and ciaddr. */
function bootRequest(chaddr: string, type: number, options: Buffer[] = [], ciaddr = '0.0.0.0'): Buffer {
  const m = Buffer.alloc(240);
  m.writeUInt8(1, 0);
  m.writeUInt8(1, 1);
  m.writeUInt8(6, 2);
  m.writeUInt32BE(Math.floor(Math.random() * 0xffffffff), 4);
  Buffer.from(ciaddr.split('.').map(Number)).copy(m, 12);
  Buffer.from(chaddr.split(':').join(''), 'hex').copy(m, 28);
  m.writeUInt32BE(0x63825363, 236);
  return Buffer.concat([m, Buffer.from([53, 1, type]), ...options, Buffer.from([255])]);
}

/** Random, truncated and lying DHCP packets, and requests that name other clients (chaddr) of other networks. */
function hostileDhcp(own: string, others: string[], takenIp: string): Buffer[] {
  const frames: Buffer[] = [];
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rand(256)));
  for (let i = 0; i < 40; i++) frames.push(dhcpFrame(own, bytes(rand(600))));
  const discover = bootRequest(own, 1, [Buffer.from([55, 3, 1, 3, 6])]);
  for (let i = 0; i < 40; i++) {
    const m = Buffer.from(discover);
    for (let k = 0; k < 4; k++) m[rand(m.length)] = rand(256);
    frames.push(dhcpFrame(own, m));
  }
  for (const cut of [1, 27, 235, 239, 240, 242]) frames.push(dhcpFrame(own, discover.subarray(0, cut)));
  // Options whose lengths run past the end, and an overload into empty fields.
  frames.push(dhcpFrame(own, Buffer.concat([discover.subarray(0, 243), Buffer.from([55, 255, 1])])));
  frames.push(dhcpFrame(own, bootRequest(own, 1, [Buffer.from([52, 1, 3])])));
  for (const other of others) {
    // Another network's client, named in chaddr: its release, decline and a request for its address.
    frames.push(dhcpFrame(own, bootRequest(other, 7, [], takenIp)));
    frames.push(dhcpFrame(own, bootRequest(other, 4, [Buffer.from([50, 4, ...takenIp.split('.').map(Number)])])));
    frames.push(dhcpFrame(own, bootRequest(other, 3, [Buffer.from([50, 4, ...takenIp.split('.').map(Number)])])));
  }
  return frames;
}
