// weft as a whole against two real hosts (ovsdb-server and ovs-vswitchd on
// the dummy datapath each): the hosts point their manager at weft, weft sets
// itself as their controller, and a network on VLAN 11 with a port tagged 11
// on each host brings the pipeline onto both switches, exactly as the flows
// library computes it; a DHCP DISCOVER injected on a port comes back as an
// OFFER out of that port, through packet-in, the DHCP service and
// packet-out; and `network.create` with `wait: true` answers only once the
// flows are on the switches. Ports join networks by port.bind, by their
// external_ids, or by their tag. The CLI shows ports, flows and traces, and
// its --wait reports each switch, naming one that did not confirm.
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { clusterInputs, desiredFlows, type ClusterHost, type FlowNetwork } from '../../flows/index.js';
import { DHCP_MESSAGE_TYPE, getOption } from '../../protocols/dhcp/index.js';
import { createLogger } from '../../src/log.js';
import { Ovs } from '../harness/ovs.js';
import { readPid, run, sleep } from '../harness/proc.js';
import { OVS, requirement } from '../harness/require.js';
import { frame, parseReply } from '../unit/dhcp-server/client.js';
import { dump, eventually, rendered } from './openflow-switch.js';
import { pointHost, startWeftDaemon } from './weft-daemon.js';

const silent = createLogger({ level: (process.env.WEFT_TEST_LOG as "debug") ?? "silent", pretty: false });
const CLIENT_MAC = '02:00:00:0a:00:01';
const cli = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** The hosts the CLI's `--wait` output says confirmed (`hv1  ok  12 ms`). */
const confirmed = (out: string): string[] => [...out.matchAll(/^(\S+)\s+ok\s+\d+ ms$/gm)].map((m) => m[1]!).sort();

/** The frames of a pcap file (classic format, as OVS's dummy netdev writes it). */
function pcapFrames(file: string): Buffer[] {
  if (!existsSync(file)) return [];
  const b = readFileSync(file);
  const frames: Buffer[] = [];
  let at = 24;
  while (at + 16 <= b.length) {
    const len = b.readUInt32LE(at + 8);
    if (at + 16 + len > b.length) break;
    frames.push(b.subarray(at + 16, at + 16 + len));
    at += 16 + len;
  }
  return frames;
}

interface Host {
  name: string;
  ovs: Ovs;
  pcap: string;
}

t.test('weft joins the OVSDB plane, the pipeline, the OpenFlow plane and DHCP on two real switches', requirement(OVS), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-fabric-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { daemon, api, client, ports } = await startWeftDaemon(dir, silent);
  t.teardown(() => daemon.stop());
  t.teardown(() => client.close());

  const hosts: Host[] = [];
  for (const i of [1, 2]) {
    const ovs = await Ovs.start();
    t.teardown(() => ovs.stop());
    const pcap = join(ovs.dir, 'p1-tx.pcap');
    await ovs.addBridge('br-int');
    await ovs.vsctl('add-port', 'br-int', 'p1', 'tag=11', '--', 'set', 'Interface', 'p1', 'type=dummy', 'ofport_request=1', `options:tx_pcap=${pcap}`);
    await pointHost(ovs, i, ports.ovsdb);
    hosts.push({ name: `hv${i}`, ovs, pcap });
  }

  await client.call('tenant.create', { name: 'acme' });
  const network = {
    tenant: 'acme',
    name: 'web',
    vlan: 11,
    subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.149' }], dns: ['192.0.2.53'] }],
  };

  /** The tunnel to the other host, as OVS numbered it. */
  const tunnelOf = async (h: Host) => {
    const text = await h.ovs.vsctl('--bare', '--columns=ofport,external_ids', 'find', 'Interface', 'type=vxlan');
    const m = /^(\d+)\s[\s\S]*weft-peer=(\S+)/.exec(text.trim());
    return m && Number(m[1]) > 0 ? { ofport: Number(m[1]), peer: m[2]!.replace(/[",}]/g, '') } : undefined;
  };
  const tunnels = await Promise.all(hosts.map((h) => eventually(`the tunnel on ${h.name}`, () => tunnelOf(h), 30_000)));
  /** What the flows library computes for this cluster: the independent oracle. */
  const expected = (): Map<string, ReturnType<typeof desiredFlows>> => {
    const networks: FlowNetwork[] = [{ tenant: 'acme', name: 'web', vlan: 11, vni: 11, dhcp: true }];
    const cluster: ClusterHost[] = hosts.map((h, i) => ({ name: h.name, ports: [{ name: 'p1', ofport: 1, tag: 11, macs: [], ips: [] }], tunnels: [tunnels[i]!] }));
    return new Map([...clusterInputs(networks, cluster)].map(([h, input]) => [h, desiredFlows(input)]));
  };

  await t.test('network.create with wait: true answers once both switches hold the pipeline', async (t) => {
    // The switches must be up first: otherwise wait would rightly report them.
    await eventually('both switches connected', async () => {
      for (const h of hosts) if (!(await h.ovs.vsctl('--columns=is_connected', 'list', 'Controller')).includes('true')) return undefined;
      return true;
    }, 30_000);
    const r = await client.call<{ waited?: { host: string; ok: boolean }[] }>('network.create', { ...network, wait: true });
    t.same(r.waited?.map((w) => [w.host, w.ok]).sort(), [['hv1', true], ['hv2', true]], 'both hosts confirmed');
    const want = expected();
    for (const h of hosts) t.same(await dump(h.ovs, 'br-int'), rendered(want.get(h.name)!), `${h.name}'s flows are the pipeline's, exactly, when the call returns`);
  });

  await t.test('a DHCP DISCOVER on a port is answered with an OFFER out of that port', async (t) => {
    const h = hosts[1]!;
    const discover = frame('DISCOVER', { mac: CLIENT_MAC, xid: 0x5eed });
    const before = pcapFrames(h.pcap).length;
    await h.ovs.appctl('netdev-dummy/receive', 'p1', discover.toString('hex'));
    const offer = await eventually('an OFFER in p1\'s tx_pcap', () => {
      for (const f of pcapFrames(h.pcap).slice(before)) {
        try {
          const r = parseReply(f);
          if (r.type === 'OFFER') return r;
        } catch {
          /* not DHCP: the learn/flood path may send other frames */
        }
      }
      return undefined;
    }, 15_000);
    t.equal(offer.message.xid, 0x5eed, 'the reply answers our DISCOVER');
    t.equal(offer.message.chaddr, CLIENT_MAC);
    t.match(offer.message.yiaddr, /^192\.0\.2\.1[0-4]\d$/, 'an address from the range');
    t.equal(getOption(offer.message, 'messageType'), DHCP_MESSAGE_TYPE.OFFER);
    t.same(getOption(offer.message, 'dnsServers'), ['192.0.2.53'], 'the options of the subnet');
    await sleep(200);
    const other = pcapFrames(hosts[0]!.pcap).filter((f) => {
      try {
        parseReply(f);
        return true;
      } catch {
        return false;
      }
    });
    t.same(other, [], 'no DHCP reached the port on the other host: DHCP never crosses the tunnel');
  });

  await t.test("a relayed DORA is ACKed, and dhcp.stats counts it with its lease write's latency", async (t) => {
    // Relayed, so that the lease holds no port: the port security of p1 stays open for the subtests below.
    const h = hosts[1]!;
    const relayed = { mac: '02:00:00:0a:00:42', giaddr: '192.0.2.5', ethSrc: '02:00:00:0a:00:05' };
    const reply = async (request: Buffer, type: string) => {
      const before = pcapFrames(h.pcap).length;
      await h.ovs.appctl('netdev-dummy/receive', 'p1', request.toString('hex'));
      return eventually(`an ${type} in p1's tx_pcap`, () => {
        for (const f of pcapFrames(h.pcap).slice(before)) {
          try {
            const r = parseReply(f);
            if (r.type === type) return r;
          } catch {
            /* not DHCP */
          }
        }
        return undefined;
      }, 15_000);
    };
    const offer = await reply(frame('DISCOVER', { ...relayed, xid: 0x5eee }), 'OFFER');
    await reply(frame('REQUEST', { ...relayed, xid: 0x5eef, serverId: getOption(offer.message, 'serverId')!, requestedIp: offer.message.yiaddr }), 'ACK');
    const s = await client.call<{ offers: number; acks: number; writes: number; latency: { leaseWrite: { count: number; p99Ms?: number }; answer: { count: number } } }>('dhcp.stats');
    t.match(s, { offers: 2, acks: 1, writes: 1 }, "this DORA and the DISCOVER's OFFER above");
    t.equal(s.latency.leaseWrite.count, 1, "the ACK's lease write, timed");
    t.type(s.latency.leaseWrite.p99Ms, 'number');
    t.equal(s.latency.answer.count, 3, 'every answer, timed');
    t.match(await client.call('status'), { dhcp: { offers: 2, acks: 1, naks: 0 } }, 'status has the short version');
  });

  await t.test('port.list, flows.dump and trace show what the switches do', async (t) => {
    const { ports } = await client.call<{ ports: { host: string; name: string; network?: string; boundBy?: string }[] }>('port.list');
    t.same(ports.map((p) => [p.host, p.name, p.network, p.boundBy]), [['hv1', 'p1', 'acme/web', 'tag'], ['hv2', 'p1', 'acme/web', 'tag']], 'each port in the network of its tag');
    const { flows } = await client.call<{ flows: { table: number; learned: boolean; flow: string }[] }>('flows.dump', { host: 'hv1' });
    t.same(flows.filter((f) => !f.learned).map((f) => f.flow).sort(), rendered(expected().get('hv1')!), "the static flows are the pipeline's");
    const t0 = await client.call<{ flows: { table: number }[] }>('flows.dump', { host: 'hv1', table: 0 });
    t.ok(t0.flows.length > 0 && t0.flows.every((f) => f.table === 0), 'one table on request');
    const dhcp = await client.call<{ controller: boolean; trace: string[] }>('trace', {
      host: 'hv1', port: 'p1', packet: `eth_src=${CLIENT_MAC},eth_dst=ff:ff:ff:ff:ff:ff,eth_type=0x0800,ipv4_src=0.0.0.0,ipv4_dst=255.255.255.255,ip_proto=17,udp_src=68,udp_dst=67`,
    });
    t.ok(dhcp.controller, `a DISCOVER goes to the controller\n${dhcp.trace.join('\n')}`);
    const bcast = await client.call<{ delivered: { host: string; port: number }[] }>('trace', { host: 'hv1', port: '1', packet: `eth_src=${CLIENT_MAC},eth_dst=ff:ff:ff:ff:ff:ff` });
    t.same(bcast.delivered, [{ host: 'hv2', port: 1 }], "a broadcast reaches the network's port on the other host");
  });

  await t.test('port.bind with wait: true moves a port to another network on its switch', async (t) => {
    await client.call('network.create', { tenant: 'acme', name: 'db', vlan: 12 });
    const r = await client.call<{ waited: { host: string; ok: boolean }[] }>('port.bind', { host: 'hv1', name: 'p1', network: 'acme/db', wait: true });
    t.same(r.waited.map((w) => [w.host, w.ok]).sort(), [['hv1', true], ['hv2', true]], 'both switches changed: hv2 no longer floods acme/web to hv1');
    t.ok((await dump(hosts[0]!.ovs, 'br-int')).some((l) => /tun_id=0xc|write_metadata:0xc\//.test(l) || l.includes('metadata:0xc')), 'hv1 holds flows of VNI 12 when the call returns');
    const { ports } = await client.call<{ ports: { host: string; network?: string; boundBy?: string }[] }>('port.list', { host: 'hv1' });
    t.same(ports.map((p) => [p.network, p.boundBy]), [['acme/db', 'binding']]);
  });

  await t.test("external_ids:weft-network on a host's port binds it, below port.bind and above the tag", async (t) => {
    const h = hosts[1]!;
    await h.ovs.vsctl('set', 'Interface', 'p1', 'external_ids:weft-network=acme/db');
    const moved = await eventually('hv2/p1 in acme/db', async () => {
      const p = await client.call<{ network?: string; boundBy?: string; binding?: string }>('port.get', { host: 'hv2', name: 'p1' });
      return p.network === 'acme/db' ? p : undefined;
    }, 15_000);
    t.same([moved.boundBy, moved.binding], ['binding', undefined], 'an explicit binding, not one stored by port.bind');
    await client.call('port.bind', { host: 'hv2', name: 'p1', network: 'acme/web', wait: true });
    t.equal((await client.call<{ network?: string }>('port.get', { host: 'hv2', name: 'p1' })).network, 'acme/web', 'port.bind wins');
    await client.call('port.unbind', { host: 'hv2', name: 'p1', wait: true });
    t.equal((await client.call<{ network?: string }>('port.get', { host: 'hv2', name: 'p1' })).network, 'acme/db', 'without it, external_ids decides again');
    await h.ovs.vsctl('remove', 'Interface', 'p1', 'external_ids', 'weft-network');
    await eventually('hv2/p1 back in acme/web by its tag', async () => {
      const p = await client.call<{ network?: string; boundBy?: string }>('port.get', { host: 'hv2', name: 'p1' });
      return p.network === 'acme/web' && p.boundBy === 'tag' ? p : undefined;
    }, 15_000);
  });

  await t.test('the CLI: weft ports, port bind|unbind, flows and trace, and --wait on every change', async (t) => {
    const token = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
    const weft = (...args: string[]) => run(process.execPath, [cli, ...args], { env: { ...process.env, WEFT_API: api, WEFT_TOKEN: token }, allowFailure: true, timeout: 60_000 });

    const ports = await weft('ports');
    t.equal(ports.code, 0, ports.stderr);
    t.match(ports.stdout, /^HOST\s+PORT\s+OFPORT\s+TAG\s+NETWORK\s+BOUND BY\s+MACS\/IPS$/m);
    t.match(ports.stdout, /^hv1\s+p1\s+1\s+11\s+acme\/db\s+binding\s/m, 'hv1/p1 in acme/db by its binding');
    t.match(ports.stdout, /^hv2\s+p1\s+1\s+11\s+acme\/web\s+tag\s/m, 'hv2/p1 in acme/web by its tag');
    const one = await weft('ports', 'hv2', '--json');
    t.same((JSON.parse(one.stdout) as { ports: { host: string }[] }).ports.map((p) => p.host), ['hv2'], 'one host, as JSON');

    const unbind = await weft('port', 'unbind', 'hv1', 'p1', '--wait');
    t.equal(unbind.code, 0, unbind.stderr);
    t.match(unbind.stdout, /^unbound hv1\/p1$/m);
    t.same(confirmed(unbind.stdout), ['hv1', 'hv2'], 'both switches changed (acme/web now spans both hosts) and confirmed');
    t.match((await weft('ports', 'hv1')).stdout, /^hv1\s+p1\s+1\s+11\s+acme\/web\s+tag\s/m, 'the tag decides again');

    const stats = await weft('dhcp', 'stats');
    t.equal(stats.code, 0, stats.stderr);
    t.match(stats.stdout, /^received \d+: offers 2, ACKs 1, NAKs 0/m, 'the DHCP subtests\' requests');
    t.match(stats.stdout, /^lease write\s+1\s/m, 'its one lease write in the latency table');

    const bind = await weft('port', 'bind', 'hv1', 'p1', 'acme/db', '--wait', '--wait-timeout', '20');
    t.equal(bind.code, 0, bind.stderr);
    t.match(bind.stdout, /^bound hv1\/p1 to acme\/db$/m);
    t.ok(confirmed(bind.stdout).includes('hv1'), `hv1 confirmed\n${bind.stdout}`);

    const update = await weft('network', 'update', 'acme/db', '--vlan', '14', '--vni', '14', '--wait');
    t.equal(update.code, 0, update.stderr);
    t.match(update.stdout, /^updated network acme\/db \(VLAN 14, VNI 14\)/m);
    t.same(confirmed(update.stdout), ['hv1'], 'only the host with a port in acme/db had to change');

    const manifest = join(dir, 'acme.json');
    writeFileSync(manifest, JSON.stringify({ tenant: 'acme', networks: [{ name: 'db', vlan: 15, vni: 15 }] }));
    const applied = await weft('apply', '-f', manifest, '--wait');
    t.equal(applied.code, 0, applied.stderr);
    t.match(applied.stdout, /^~ network acme\/db/m);
    t.same(confirmed(applied.stdout), ['hv1'], 'apply waits for the switch it changed');
    t.equal((await weft('apply', '-f', manifest, '--dry-run', '--wait')).code, 2, 'a dry run has nothing to wait for: usage');

    const created = await weft('network', 'create', 'acme/app', '--vlan', '13', '--wait');
    t.equal(created.code, 0, created.stderr);
    t.match(created.stdout, /^created network acme\/app \(VLAN 13, VNI 13\)$/m);
    t.notMatch(created.stdout, /not confirmed/);
    const deleted = await weft('network', 'delete', 'acme/app', '--wait');
    t.equal(deleted.code, 0, deleted.stderr);
    t.match(deleted.stdout, /^deleted network acme\/app$/m);
    const admitted = await weft('host', 'admit', 'hv1', '--wait');
    t.equal(admitted.code, 0, admitted.stderr);
    t.match(admitted.stdout, /^admitted hv1$/m);
    t.equal((await weft('network', 'create', 'acme/x', '--vlan', '16', '--wait-timeout', '5')).code, 2, '--wait-timeout without --wait: usage');

    // A frame from a new MAC on hv1's port: the switch learns it.
    const learner = '02:00:00:0a:00:02';
    await hosts[0]!.ovs.appctl('netdev-dummy/receive', 'p1', `ffffffffffff${learner.replace(/:/g, '')}88b5${'00'.repeat(46)}`);
    const learned = await eventually('a learned flow in weft flows hv1', async () => {
      const r = await weft('flows', 'hv1');
      return r.stdout.split('\n').filter((l) => l.endsWith('# learned')).length > 0 ? r : undefined;
    }, 15_000);
    t.equal(learned.code, 0);
    t.ok(learned.stdout.split('\n').filter(Boolean).every((l) => l.startsWith('cookie=0x')), 'ovs-ofctl lines');
    t.match(learned.stdout, new RegExp(`dl_dst=${learner}.*# learned$`, 'm'), 'the learned entry is marked');
    const table0 = await weft('flows', 'hv1', '--table', '0');
    t.ok(table0.stdout.split('\n').filter(Boolean).every((l) => l.includes('table=0,')), 'one table on request');
    t.equal((await weft('flows', 'hv1', '--table', 'zero')).code, 2);

    const dhcp = await weft('trace', 'hv2', 'p1', `dl_src=${CLIENT_MAC},dl_dst=ff:ff:ff:ff:ff:ff,udp,nw_src=0.0.0.0,nw_dst=255.255.255.255,tp_src=68,tp_dst=67`);
    t.equal(dhcp.code, 0, dhcp.stderr);
    t.match(dhcp.stdout, /^hv2: in_port=1$/m, 'the walk, step by step');
    t.match(dhcp.stdout, /\n\nsent to the controller \(DHCP\)\n$/, 'and the outcome');
    const json = await weft('trace', 'hv2', '1', JSON.stringify({ eth_src: CLIENT_MAC, eth_dst: 'ff:ff:ff:ff:ff:ff', eth_type: '0x0800', ip_proto: 17, udp_src: 68, udp_dst: 67 }));
    t.equal(json.code, 0, json.stderr);
    t.match(json.stdout, /sent to the controller/, 'a JSON packet, by ofport');
    t.equal((await weft('trace', 'hv2', 'p1', 'frobnicate')).code, 2, 'a packet the CLI cannot read: usage');
    const refused = await weft('trace', 'hv2', 'p1', `eth_src=${CLIENT_MAC},eth_dst=ff:ff:ff:ff:ff:ff,bogus=1`);
    t.equal(refused.code, 1, 'a field the method does not know: refused');
    t.match(refused.stderr, /bogus/);

    // hv2's switch stops answering: --wait names it and exits 1; the change is stored.
    const pid = readPid(join(hosts[1]!.ovs.dir, 'ovs-vswitchd.pid'))!;
    process.kill(pid, 'SIGSTOP');
    t.teardown(() => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* already gone */
      }
    });
    const stuck = await weft('port', 'bind', 'hv2', 'p1', 'acme/db', '--wait', '--wait-timeout', '2');
    process.kill(pid, 'SIGCONT');
    t.equal(stuck.code, 1, 'a switch did not confirm');
    t.match(stuck.stderr, /not confirmed within 2000 ms by .*hv2/, 'the refusal names the host');
    t.match(stuck.stderr, /^hv2\s+not confirmed\s+\d+ ms/m, 'and its line says so');
    t.equal((await client.call<{ network?: string }>('port.get', { host: 'hv2', name: 'p1' })).network, 'acme/db', 'the binding is stored all the same');
  });
});
