// More of the OVSDB plane against real ovsdb-servers: every kind of target at
// once (ptcp:, punix:, and a dialled tcp:) with a cidr: admission rule; TLS
// where a host whose certificate the CA did not sign is refused while a
// trusted one is admitted; and host.update changing a host's encapsulation
// (its tunnels change type in place) and its integration bridge (its tunnels
// move). Every wait polls with a generous deadline; nothing is timed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseTarget } from '../../src/config/target.js';
import { parseAdmitRule } from '../../src/ovsdb/admission.js';
import { tunnelName } from '../../src/ovsdb/reconcile.js';
import { freePort } from '../harness/free-port.js';
import type { Ovs } from '../harness/ovs.js';
import { OVS, requirement } from '../harness/require.js';
import { host, hostList, hypervisor, pki, sslHypervisor, startWeft, tunnelRows, tunnels, until, vs, type Weft } from './ovsdb-hosts.js';

t.test('ptcp:, punix: and a dialled tcp: target at once, with a cidr: admission rule', requirement(OVS), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ovsdb-targets-'));
  const sock = join(dir, 'weft-ovsdb.sock');
  const dialPort = await freePort();
  const hosts: Ovs[] = [];
  let weft: Weft | undefined;
  t.teardown(async () => {
    await weft?.stop();
    for (const h of hosts) await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // hv-tcp connects over TCP, hv-unix over the unix socket, hv-dialled is dialled by weft.
  const tcpHost = await hypervisor('hv-tcp', '198.18.0.31');
  const unixHost = await hypervisor('hv-unix', '198.18.0.32');
  const dialled = await hypervisor('hv-dialled', '198.18.0.33', [`ptcp:${dialPort}:127.0.0.1`]);
  hosts.push(tcpHost, unixHost, dialled);
  weft = await startWeft(dir, { admit: [parseAdmitRule('cidr:127.0.0.0/8')] }, [parseTarget('ptcp:0:127.0.0.1'), parseTarget(`punix:${sock}`), parseTarget(`tcp:127.0.0.1:${dialPort}`)]);
  const w = weft;
  await tcpHost.vsctl('set-manager', `tcp:127.0.0.1:${w.plane.listenPort()}`);
  await unixHost.vsctl('set-manager', `unix:${sock}`);

  await t.test('all three connect; the cidr: rule admits the two with a source address', async (t) => {
    const list = await until('three connected hosts', async () => {
      const h = await hostList(w);
      return h.length === 3 && h.every((x) => x.status.connected) ? h : undefined;
    });
    const byName = new Map(list.map((h) => [h.name, h]));
    t.equal(byName.get('hv-tcp')?.state, 'admitted', 'from 127.0.0.1 over ptcp:');
    t.equal(byName.get('hv-dialled')?.state, 'admitted', 'dialled at 127.0.0.1');
    t.equal(byName.get('hv-unix')?.state, 'pending', 'a unix connection has no address for a cidr: rule');
    t.match(byName.get('hv-unix')?.status.peer, /^unix:/);
    t.match(byName.get('hv-dialled')?.status.peer, `tcp:127.0.0.1:${dialPort}`);
  });

  await t.test('the two admitted hosts mesh; the pending one is not touched', async (t) => {
    await until('hv-tcp meshed', async () => JSON.stringify(await tunnels(tcpHost)) === JSON.stringify(['hv-dialled=198.18.0.33']));
    await until('hv-dialled meshed', async () => JSON.stringify(await tunnels(dialled)) === JSON.stringify(['hv-tcp=198.18.0.31']));
    t.equal(await vs(unixHost, 'list-br'), '', 'no bridge on the pending host');
  });

  await t.test('admitted by hand, the unix host joins the mesh', async (t) => {
    await w.client.call('host.admit', { name: 'hv-unix' });
    const want: Record<string, [Ovs, string[]]> = {
      'hv-tcp': [tcpHost, ['hv-dialled=198.18.0.33', 'hv-unix=198.18.0.32']],
      'hv-unix': [unixHost, ['hv-dialled=198.18.0.33', 'hv-tcp=198.18.0.31']],
      'hv-dialled': [dialled, ['hv-tcp=198.18.0.31', 'hv-unix=198.18.0.32']],
    };
    for (const [name, [ovs, mesh]] of Object.entries(want)) {
      await until(`${name}'s mesh`, async () => JSON.stringify(await tunnels(ovs)) === JSON.stringify(mesh));
      t.same(await tunnels(ovs), mesh, `${name} has tunnels to the two others`);
    }
  });

  await t.test('the dialled host is redialled after its ovsdb-server restarts', async (t) => {
    await dialled.restartOvsdb();
    await until('hv-dialled back', async () => (await host(w, 'hv-dialled')).status.connected);
    await dialled.vsctl('del-port', 'br-int', tunnelName('hv-unix'));
    await until('hv-dialled repaired', async () => (await tunnels(dialled)).includes('hv-unix=198.18.0.32'));
    t.pass('repaired over the new session');
  });
});

t.test('TLS: a host whose certificate the CA did not sign is refused, a trusted one is admitted', requirement({ commands: [...OVS.commands, 'openssl'] }), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ovsdb-tls2-'));
  await pki(dir, 'ca', ['weft', 'hv-good']);
  // Same CN pattern, but signed by a CA weft does not trust.
  await pki(dir, 'rogue-ca', ['hv-rogue']);
  const stops: (() => Promise<void>)[] = [];
  let weft: Weft | undefined;
  t.teardown(async () => {
    await weft?.stop();
    for (const s of stops) await s();
    rmSync(dir, { recursive: true, force: true });
  });
  weft = await startWeft(
    dir,
    { tls: { cert: join(dir, 'weft.crt'), key: join(dir, 'weft.key'), ca: join(dir, 'ca.crt') }, admit: [parseAdmitRule('cn:hv-*')] },
    [parseTarget('pssl:0:127.0.0.1')],
  );
  const w = weft;
  const good = await sslHypervisor(join(dir, 'good'));
  stops.push(good.stop);
  const rogue = await sslHypervisor(join(dir, 'rogue'));
  stops.push(rogue.stop);
  await good.vsctl('set', 'Open_vSwitch', '.', 'external_ids:system-id=good', 'external_ids:weft-encap-ip=198.18.0.41');
  await rogue.vsctl('set', 'Open_vSwitch', '.', 'external_ids:system-id=rogue', 'external_ids:weft-encap-ip=198.18.0.42');
  await good.vsctl('set-ssl', join(dir, 'hv-good.key'), join(dir, 'hv-good.crt'), join(dir, 'ca.crt'));
  // The rogue host trusts weft's CA, so the refusal is weft's, not the host's.
  await rogue.vsctl('set-ssl', join(dir, 'hv-rogue.key'), join(dir, 'hv-rogue.crt'), join(dir, 'ca.crt'));
  const port = w.plane.listenPort();
  await rogue.vsctl('set-manager', `ssl:127.0.0.1:${port}`);
  await good.vsctl('set-manager', `ssl:127.0.0.1:${port}`);

  const h = await until('the trusted host reconciled', async () => {
    const x = await host(w, 'good');
    return x.status.connected && x.status.reconcile === 'converged' ? x : undefined;
  });
  t.equal(h.state, 'admitted', 'admitted by its CN');
  t.equal((await good.vsctl('get', 'bridge', 'br-int', 'fail_mode')).trim(), 'secure');
  await until('the rogue handshake refused', () => w.plane.stats.refusedHandshakes > 0);
  t.ok(w.plane.stats.refusedHandshakes > 0, 'weft refused a TLS handshake');
  t.same(
    (await hostList(w)).map((x) => x.name),
    ['good'],
    'the rogue host is not even pending: weft never read its database',
  );
  t.equal((await rogue.vsctl('list-br')).trim(), '', 'and never wrote to it');
});

t.test('host.update: a new encapsulation changes tunnels in place, a new bridge moves them', requirement(OVS), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ovsdb-update-'));
  const a = await hypervisor('hv-a', '198.18.0.51');
  const b = await hypervisor('hv-b', '198.18.0.52');
  const weft = await startWeft(dir, { admit: [parseAdmitRule('auto')] });
  t.teardown(async () => {
    await weft.stop();
    await a.stop();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const h of [a, b]) await h.vsctl('set-manager', `tcp:127.0.0.1:${weft.plane.listenPort()}`);
  await until('hv-a meshed', async () => (await tunnels(a)).length === 1);
  await until('hv-b meshed', async () => (await tunnels(b)).length === 1);
  const [before] = await tunnelRows(a);
  t.equal(before?.type, 'vxlan', 'vxlan by default');

  await t.test('encap geneve: the same row, now geneve', async (t) => {
    await weft.client.call('host.update', { name: 'hv-a', encap: 'geneve' });
    const [after] = await until('a geneve tunnel', async () => {
      const rows = await tunnelRows(a);
      return rows[0]?.type === 'geneve' ? rows : undefined;
    });
    t.equal(after!.uuid, before!.uuid, 'updated in place, not deleted and re-added');
    t.equal(after!.name, before!.name);
    t.equal(after!.remoteIp, '198.18.0.52');
    t.equal((await tunnelRows(b))[0]?.type, 'vxlan', "the peer's own tunnel follows the peer's setting");
    await weft.client.call('host.update', { name: 'hv-a', encap: 'gre' });
    await until('a gre tunnel', async () => (await tunnelRows(a))[0]?.type === 'gre');
    t.equal((await tunnelRows(a))[0]!.uuid, before!.uuid, 'and again in place');
  });

  await t.test('bridge vmbr1: the tunnels move there and the old bridge keeps none', async (t) => {
    await weft.client.call('host.update', { name: 'hv-a', bridge: 'vmbr1' });
    const name = tunnelName('hv-b');
    await until('the tunnel on vmbr1', async () => (await vs(a, 'list-ports', 'vmbr1')).split('\n').includes(name));
    await until('none left on br-int', async () => !(await vs(a, 'list-ports', 'br-int')).split('\n').includes(name));
    t.equal(await vs(a, 'get', 'bridge', 'vmbr1', 'fail_mode'), 'secure');
    t.equal(await vs(a, 'get', 'bridge', 'vmbr1', 'protocols'), '[OpenFlow13]');
    t.same(await tunnels(a), ['hv-b=198.18.0.52'], 'still exactly one tunnel to hv-b');
    t.equal((await tunnelRows(a))[0]!.type, 'gre', 'of the encapsulation set before');
    t.match((await vs(a, 'list-br')).split('\n'), ['br-int', 'vmbr1'], 'the old bridge itself is left alone');
    t.same(await tunnels(b), ['hv-a=198.18.0.51'], 'the peer is unaffected');
    await until('hv-a converged', async () => (await host(weft, 'hv-a')).status.reconcile === 'converged');
  });
});
