// The OVSDB plane against real ovsdb-servers, one per "hypervisor": hosts
// that point their manager at weft appear pending, are admitted through the
// API, and converge to a full tunnel mesh; weft repairs hand edits, leaves
// the operator's objects alone, survives restarts on either side without
// rewriting anything, dials hosts in active mode, speaks TLS, and drops bad
// peers without the others noticing. Every wait polls; nothing is timed.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { parseTarget } from '../../src/config/target.js';
import { parseAdmitRule } from '../../src/ovsdb/admission.js';
import { tunnelName } from '../../src/ovsdb/reconcile.js';
import type { Ovs } from '../harness/ovs.js';
import { OVS, requirement } from '../harness/require.js';
import { host, hostList, hypervisor, OPENFLOW, pki, sslHypervisor, startWeft, tunnels, until, vs, type Weft } from './ovsdb-hosts.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Runs the `weft` CLI against a weft's API; resolves with stdout. */
async function weftCli(w: Weft, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [cli, ...args, '--api', w.api.url(), '--token', w.token]);
  return stdout;
}

const meshOf = (names: string[], ips: Record<string, string>) => (self: string) =>
  names
    .filter((n) => n !== self)
    .map((n) => `${n}=${ips[n]}`)
    .sort();

async function converged(w: Weft, names: string[]): Promise<boolean> {
  const hosts = await hostList(w);
  return names.every((n) => hosts.find((h) => h.name === n)?.status.reconcile === 'converged');
}

t.test('three hypervisors that set their manager to weft', requirement(OVS), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ovsdb-plane-'));
  let weft = await startWeft(dir);
  const names = ['hv1', 'hv2', 'hv3'];
  const ips: Record<string, string> = { hv1: '198.18.0.1', hv2: '198.18.0.2', hv3: '198.18.0.3' };
  const hv: Record<string, Ovs> = {};
  t.teardown(async () => {
    await weft.stop().catch(() => undefined);
    for (const o of Object.values(hv)) await o.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const n of names) hv[n] = await hypervisor(n, ips[n]!);
  // The operator's own bridge, which weft must never touch.
  await hv.hv1!.vsctl('add-br', 'br-user', '--', 'add-port', 'br-user', 'eth9', '--', 'set', 'port', 'eth9', 'tag=7');
  const userBridge = await vs(hv.hv1!, '--columns=name,ports,fail_mode,protocols,controller,external_ids', 'list', 'Bridge', 'br-user');
  for (const n of names) await hv[n]!.vsctl('set-manager', `tcp:127.0.0.1:${weft.port}`);
  const mesh = meshOf(names, ips);

  await t.test('they appear as pending and weft touches nothing', async (t) => {
    const hosts = await until('three pending hosts', async () => {
      const h = await hostList(weft);
      return h.length === 3 && h.every((x) => x.status.connected) ? h : undefined;
    });
    t.same(hosts.map((h) => [h.name, h.state]), names.map((n) => [n, 'pending']));
    t.equal(weft.plane.stats.transactions, 0, 'no transaction to a pending host');
    t.equal(await vs(hv.hv1!, 'list-br'), 'br-user');
  });

  await t.test('admitted through the CLI, they converge to a full mesh', async (t) => {
    for (const n of names) t.equal(await weftCli(weft, 'host', 'admit', n), `admitted ${n}\n`);
    for (const n of names) {
      await until(`${n}'s mesh`, async () => JSON.stringify(await tunnels(hv[n]!)) === JSON.stringify(mesh(n)));
      t.same(await tunnels(hv[n]!), mesh(n), `${n} tunnels to the two others`);
      t.equal(await vs(hv[n]!, 'get', 'bridge', 'br-int', 'fail_mode'), 'secure');
      t.equal(await vs(hv[n]!, 'get', 'bridge', 'br-int', 'protocols'), '[OpenFlow13]');
      t.equal(await vs(hv[n]!, 'get-controller', 'br-int'), `tcp:127.0.0.1:${OPENFLOW.port}`, 'controller = the address the host reached weft at');
    }
    await until('all converged', () => converged(weft, names));
    const h = await host(weft, 'hv1');
    t.same(h.status.tunnels, ['hv2', 'hv3']);
    const table = (await weftCli(weft, 'hosts')).split('\n');
    t.match(table[0], /^HOST\s+STATE\s+ENCAP IP\s+BRIDGE\s+CONNECTED SINCE\s+TUNNELS/);
    t.match(table[1], /^hv1\s+admitted\s+198\.18\.0\.1 \(host\)\s+br-int\s+\d{4}-\S+\s+2\s+converged/);
  });

  await t.test('a tunnel deleted by hand comes back', async (t) => {
    const name = tunnelName('hv2');
    await hv.hv1!.vsctl('del-port', 'br-int', name);
    await until('the tunnel back', async () => (await tunnels(hv.hv1!)).includes(`hv2=${ips.hv2}`));
    t.same(await tunnels(hv.hv1!), mesh('hv1'));
  });

  await t.test("the operator's bridge and its ports are untouched", async (t) => {
    t.equal(await vs(hv.hv1!, '--columns=name,ports,fail_mode,protocols,controller,external_ids', 'list', 'Bridge', 'br-user'), userBridge);
    t.equal(await vs(hv.hv1!, 'list-ports', 'br-user'), 'eth9');
    t.equal(await vs(hv.hv1!, 'get', 'port', 'eth9', 'tag'), '7');
  });

  await t.test('a bad peer is dropped while the others carry on', async (t) => {
    const before = weft.plane.stats.sessions;
    const bad: net.Socket[] = [];
    const connect = () =>
      new Promise<net.Socket>((resolve) => {
        const s = net.connect(weft.port, '127.0.0.1', () => resolve(s));
        s.on('error', () => undefined);
        s.resume();
        bad.push(s);
      });
    const garbage = await connect();
    garbage.write('GET / HTTP/1.1\r\n\r\n');
    const truncated = await connect();
    truncated.write('{"id":0,"result":{"name":"Open_vSwitch","tables":');
    const huge = await connect();
    huge.write('{"id":0,"result":"');
    const mb = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 100 && !huge.destroyed; i++) {
      if (!huge.write(mb)) await new Promise((r) => (huge.destroyed ? r(undefined) : huge.once('drain', r).once('close', r)));
    }
    const dribbler = await connect();
    const drip = setInterval(() => dribbler.write('['), 1000);
    const closed = (s: net.Socket) => new Promise((r) => (s.destroyed || s.readableEnded ? r(undefined) : s.once('close', r)));
    await Promise.all(bad.map(closed));
    clearInterval(drip);
    t.pass('garbage, truncated JSON, a 100 MB message and a one-byte-a-second peer were all dropped');
    await until('sessions back to the hosts only', () => weft.plane.stats.sessions === before);
    await hv.hv2!.vsctl('del-port', 'br-int', tunnelName('hv3'));
    await until('hv2 repaired meanwhile', async () => JSON.stringify(await tunnels(hv.hv2!)) === JSON.stringify(mesh('hv2')));
    t.same(await tunnels(hv.hv2!), mesh('hv2'), 'the hosts are still served');
  });

  await t.test('ovsdb-server restarted: the session returns and converges', async (t) => {
    await hv.hv2!.restartOvsdb();
    await until('hv2 reconnected', async () => (await host(weft, 'hv2')).status.connected);
    await hv.hv2!.vsctl('del-port', 'br-int', tunnelName('hv1'));
    await until('hv2 repaired after the restart', async () => JSON.stringify(await tunnels(hv.hv2!)) === JSON.stringify(mesh('hv2')));
    t.same(await tunnels(hv.hv2!), mesh('hv2'));
  });

  await t.test('weft restarted: it converges without a single write', async (t) => {
    const port = weft.port;
    await weft.stop();
    weft = await startWeft(dir, {}, [parseTarget(`ptcp:${port}:127.0.0.1`)]);
    await until('all three back and converged', async () => {
      const h = await hostList(weft);
      return h.every((x) => x.status.connected) && (await converged(weft, names));
    });
    t.equal(weft.plane.stats.transactions, 0, 'no transaction was sent');
    for (const n of names) t.same(await tunnels(hv[n]!), mesh(n));
  });

  await t.test("a removed host's tunnels disappear on the others", async (t) => {
    await hv.hv3!.vsctl('del-manager');
    await weft.client.call('host.remove', { name: 'hv3' });
    const two = meshOf(['hv1', 'hv2'], ips);
    for (const n of ['hv1', 'hv2']) {
      await until(`${n} without hv3`, async () => JSON.stringify(await tunnels(hv[n]!)) === JSON.stringify(two(n)));
      t.same(await tunnels(hv[n]!), two(n));
    }
    t.same((await hostList(weft)).map((h) => h.name), ['hv1', 'hv2']);
  });
});

t.test('active mode: weft dials unix: targets', requirement(OVS), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ovsdb-active-'));
  const a = await hypervisor('hva', '198.18.0.11');
  const b = await hypervisor('hvb', '198.18.0.12');
  const weft = await startWeft(dir, { admit: [parseAdmitRule('auto')], controllerTargets: [parseTarget('tcp:198.19.1.254:6653')] }, [parseTarget(`unix:${a.dbSock}`), parseTarget(`unix:${b.dbSock}`)]);
  t.teardown(async () => {
    await weft.stop();
    await a.stop();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await until('hva meshed', async () => JSON.stringify(await tunnels(a)) === JSON.stringify(['hvb=198.18.0.12']));
  await until('hvb meshed', async () => JSON.stringify(await tunnels(b)) === JSON.stringify(['hva=198.18.0.11']));
  t.same(await tunnels(a), ['hvb=198.18.0.12']);
  t.equal(await vs(a, 'get-controller', 'br-int'), 'tcp:198.19.1.254:6653', 'the configured controller target');
  const hosts = await hostList(weft);
  t.same(hosts.map((h) => [h.name, h.state]), [['hva', 'admitted'], ['hvb', 'admitted']], 'admitted by the auto rule');
  await a.restartOvsdb();
  await until('hva back', async () => (await host(weft, 'hva')).status.connected);
  await a.vsctl('del-port', 'br-int', tunnelName('hvb'));
  await until('hva repaired', async () => JSON.stringify(await tunnels(a)) === JSON.stringify(['hvb=198.18.0.12']));
  t.pass('the dialer reconnected after ovsdb-server restarted');
});

t.test('TLS: a host with a certificate from the CA connects over ssl: and is admitted by its CN', requirement({ commands: [...OVS.commands, 'openssl'] }), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ovsdb-tls-'));
  await pki(dir, 'ca', ['weft', 'hv-tls1']);
  const files = { cert: join(dir, 'weft.crt'), key: join(dir, 'weft.key'), ca: join(dir, 'ca.crt') };
  let weft: Weft | undefined;
  let hv: Awaited<ReturnType<typeof sslHypervisor>> | undefined;
  t.teardown(async () => {
    await weft?.stop();
    await hv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  weft = await startWeft(dir, { tls: files, admit: [parseAdmitRule('cn:hv-tls*')] }, [parseTarget('pssl:0:127.0.0.1')]);
  const w = weft;
  hv = await sslHypervisor(join(dir, 'tls1'));
  const { vsctl } = hv;
  await vsctl('set', 'Open_vSwitch', '.', 'external_ids:system-id=tls1', 'external_ids:weft-encap-ip=198.18.0.21');
  await vsctl('set-ssl', join(dir, 'hv-tls1.key'), join(dir, 'hv-tls1.crt'), join(dir, 'ca.crt'));
  await vsctl('set-manager', `ssl:127.0.0.1:${w.port}`);
  const h = await until('tls1 connected', async () => {
    const x = await host(w, 'tls1');
    return x.status.connected && x.status.reconcile === 'converged' ? x : undefined;
  });
  t.equal(h.state, 'admitted', 'admitted by the cn: rule');
  t.match(h.status.peer, /^ssl:127\.0\.0\.1:/);
  t.equal((await vsctl('get', 'bridge', 'br-int', 'fail_mode')).trim(), 'secure', 'and reconciled over TLS');
});
