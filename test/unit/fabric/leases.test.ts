// Leases in port security: a bound lease grants its MAC and address to the
// port it was bound on, and to no other; and never against what the
// hypervisor declares: not on a port that declares another MAC, nor when its
// MAC is declared on another port. The DHCP service's port rule reads which
// ports are there and what they declare from the same fabric.
import t from 'tap';
import type { Fabric } from '../../../src/fabric/index.js';
import type { Lease } from '../../../src/model/index.js';
import { put, type Store } from '../../../src/store/store.js';
import { fabricWith } from './one-host.js';

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const X = '52:54:00:00:00:99';

function bound(ip: string, mac: string, port: string, host = 'hv1'): Lease {
  return { tenant: 'acme', network: 'web', ip, mac, state: 'bound', start: 0, expiresAt: Date.now() + 3_600_000, host, port };
}

async function addLeases(fabric: Fabric, store: Store, leases: Lease[]): Promise<void> {
  await store.commit(leases.map((l) => put('lease', `acme/web/${l.ip}`, l)));
  await fabric.converge(await store.revision(), 10_000);
}

const security = (fabric: Fabric) => Object.fromEntries(fabric.ports().map((p) => [p.name, { macs: p.macs, ips: p.ips }]));

t.test('a lease grants its MAC and address to its own port only, and never against a declared MAC', async (t) => {
  const { fabric, store } = await fabricWith(t, [
    { name: 'tapA', ofport: 1, tag: 11 },
    { name: 'tapB', ofport: 2, tag: 11, mac: B },
    { name: 'tapC', ofport: 3, tag: 11 },
  ]);
  await addLeases(fabric, store, [
    bound('192.0.2.10', A, 'tapA'),
    bound('192.0.2.11', B, 'tapB'),
    bound('192.0.2.12', X, 'tapB'),
    bound('192.0.2.13', B, 'tapC'),
    bound('192.0.2.14', A, 'tapGone'),
    bound('192.0.2.15', A, 'tapA', 'hv2'),
  ]);
  t.same(security(fabric), {
    tapA: { macs: [A], ips: ['192.0.2.10'] },
    tapB: { macs: [B], ips: ['192.0.2.11'] },
    tapC: { macs: [], ips: [] },
  }, "tapA gets its lease; tapB keeps its declared MAC, with the address of that MAC's lease only; tapC gets nothing for a MAC tapB declares; leases on other ports or hosts grant nothing here");
  const flows = fabric.pipeline('hv1')!.input.ports.find((p) => p.name === 'tapC');
  t.same([flows?.macs, flows?.ips], [[], []], 'the pipeline input is the same as port.list shows');
});

t.test('present and declaredMac: what the DHCP port rule reads', async (t) => {
  const { fabric, store, view, changed } = await fabricWith(t, [
    { name: 'tapA', ofport: 1, tag: 11 },
    { name: 'tapB', ofport: 2, tag: 11, mac: '52:54:00:00:00:0B' },
  ]);
  await fabric.converge(await store.revision(), 10_000);
  t.equal(fabric.present('hv1', 'tapA'), true);
  t.equal(fabric.present('hv1', 'tapZ'), false, 'a port the bridge does not have');
  t.equal(fabric.present('hv9', 'tapA'), false, 'a host that is not ours');
  t.equal(fabric.declaredMac('hv1', 'tapB'), B, 'attached-mac, lower-case');
  t.equal(fabric.declaredMac('hv1', 'tapA'), undefined);
  await store.commit([put('port', 'hv1/tapA', { host: 'hv1', name: 'tapA', mac: A, ips: [] })]);
  await fabric.converge(await store.revision(), 10_000);
  t.equal(fabric.declaredMac('hv1', 'tapA'), A, "a port.bind's MAC");
  view.ports.splice(0, 1);
  changed();
  t.equal(fabric.present('hv1', 'tapA'), false, 'gone once the replica drops it');
  await store.commit([put('host', 'hv2', { name: 'hv2', state: 'admitted', encap: 'vxlan', bridge: 'br-int' })]);
  await fabric.converge(await store.revision(), 10_000);
  t.equal(fabric.present('hv2', 'tapA'), undefined, 'an admitted host whose bridge has not been seen: not known');
});
