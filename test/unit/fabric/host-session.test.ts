// While a host's OVSDB session is down the fabric keeps the ports the host
// last reported: host tracking reads the host's networks from them to keep
// the replica's priority for those networks lowered. An edit of the host
// record meanwhile (a new encap address, say) keeps them too; a new bridge
// name drops them, since they were another bridge's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createFabric, type ReportedBridge } from '../../../src/fabric/index.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { put } from '../../../src/store/store.js';

const quiet = { info() {}, warn() {}, debug() {} };
const HOST = { name: 'hv1', state: 'admitted', encap: 'vxlan', bridge: 'br-int' } as const;

t.test('a host record edited while the host is unreachable keeps its last ports; a new bridge drops them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-fabric-session-'));
  const store = await openSqliteStore(join(dir, 'weft.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await store.commit([
    put('tenant', 'acme', { name: 'acme' }),
    put('network', 'acme/web', { tenant: 'acme', name: 'web', vlan: 11, vni: 11, mtu: 1450, subnets: [] }),
    put('host', 'hv1', HOST),
  ]);
  const view: ReportedBridge = { datapathId: 1n, ports: [{ name: 'tap1', ofport: 1, tag: 11 }], tunnels: [] };
  let connected = true;
  let changed: ((host: string) => void) | undefined;
  const fabric = createFabric({
    store, log: quiet, debounce: 0, settle: 0,
    ovsdb: { bridgeView: (host) => (connected && host === 'hv1' ? view : undefined), onPortsChanged: (fn) => (changed = fn) },
  });
  fabric.attach({ sync: async () => undefined });
  await fabric.start();
  t.teardown(() => fabric.stop());
  changed!('hv1');
  const networks = () => fabric.ports().map((p) => `${p.host}/${p.name}: ${p.network}`);
  await fabric.converge(await store.revision(), 10_000);
  t.same(networks(), ['hv1/tap1: acme/web'], 'connected: the port is in acme/web');

  connected = false;
  changed!('hv1');
  await store.commit([put('host', 'hv1', { ...HOST, encapIp: '198.19.1.10' })]);
  await fabric.converge(await store.revision(), 10_000);
  t.same(networks(), ['hv1/tap1: acme/web'], 'unreachable and its record edited: the last ports stand');

  await store.commit([put('host', 'hv1', { ...HOST, encapIp: '198.19.1.10', bridge: 'br-tenant' })]);
  await fabric.converge(await store.revision(), 10_000);
  t.same(networks(), [], 'another bridge: the old bridge\'s ports are gone');
});
