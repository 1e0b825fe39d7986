// While a host's OVSDB session is down the fabric keeps the ports the host
// last reported: host tracking reads the host's networks from them to keep
// the replica's priority for those networks lowered. An edit of the host
// record meanwhile (a new encap address, say) keeps them too; a new bridge
// name drops them, since they were another bridge's.
import t from 'tap';
import { put } from '../../../src/store/store.js';
import { fabricWith } from './one-host.js';

const HOST = { name: 'hv1', state: 'admitted', encap: 'vxlan', bridge: 'br-int' } as const;

t.test('a host record edited while the host is unreachable keeps its last ports; a new bridge drops them', async (t) => {
  const { fabric, store, reachable } = await fabricWith(t, [{ name: 'tap1', ofport: 1, tag: 11 }]);
  const networks = () => fabric.ports().map((p) => `${p.host}/${p.name}: ${p.network}`);
  await fabric.converge(await store.revision(), 10_000);
  t.same(networks(), ['hv1/tap1: acme/web'], 'connected: the port is in acme/web');

  reachable(false);
  await store.commit([put('host', 'hv1', { ...HOST, encapIp: '198.19.1.10' })]);
  await fabric.converge(await store.revision(), 10_000);
  t.same(networks(), ['hv1/tap1: acme/web'], 'unreachable and its record edited: the last ports stand');

  await store.commit([put('host', 'hv1', { ...HOST, encapIp: '198.19.1.10', bridge: 'br-tenant' })]);
  await fabric.converge(await store.revision(), 10_000);
  t.same(networks(), [], 'another bridge: the old bridge\'s ports are gone');
});
