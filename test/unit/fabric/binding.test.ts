// Which network a port joins, by precedence: a `port.bind` binding, then what
// the host declares on the port (`external_ids:weft-network`, else an
// `iface-id` of the form tenant/network), then its tag. libvirt's UUID
// iface-ids and OVN's logical port names are not bindings.
import t from 'tap';
import { hostBinding, type FabricPort } from '../../../src/fabric/index.js';
import { put } from '../../../src/store/store.js';
import { fabricWith } from './one-host.js';

const LIBVIRT_IFACE_ID = '6b1d4c1e-3f0a-4a8e-9b55-3d2f3c1e7a10';

t.test('hostBinding reads weft-network first, then an iface-id naming a network', async (t) => {
  t.equal(hostBinding({ externalIds: { 'weft-network': 'acme/db', 'iface-id': 'acme/web' }, ifaceId: 'acme/web' }), 'acme/db', 'weft-network wins over iface-id');
  t.equal(hostBinding({ ifaceId: 'acme/web', externalIds: { 'iface-id': 'acme/web' } }), 'acme/web', 'an iface-id of the form tenant/network');
  t.equal(hostBinding({ ifaceId: LIBVIRT_IFACE_ID }), undefined, "libvirt's interface UUID is no binding");
  t.equal(hostBinding({ ifaceId: 'lsp-web-1' }), undefined, "an OVN logical port name is no binding");
  t.equal(hostBinding({ ifaceId: 'a/b/c' }), undefined, 'more than one slash is no network');
  t.equal(hostBinding({ externalIds: { 'weft-network': '' }, ifaceId: 'acme/web' }), 'acme/web', 'an empty weft-network declares nothing');
  t.equal(hostBinding({ externalIds: { 'weft-network': 'nonsense' } }), 'nonsense', 'any other weft-network is taken as said (and binds nothing if no network has that name)');
  t.equal(hostBinding({}), undefined);
});

const summary = (ps: FabricPort[]) => ps.map((p) => [p.name, p.network ?? p.unbound, p.boundBy]);

t.test('a port joins by port.bind, then by its external_ids, then by its tag', async (t) => {
  const { store, fabric } = await fabricWith(t, [
    { name: 'tap100i0', ofport: 1, tag: 11 },
    { name: 'tap101i0', ofport: 2, tag: 11, externalIds: { 'weft-network': 'acme/db' } },
    { name: 'vnet0', ofport: 3, tag: 11, ifaceId: 'acme/db', externalIds: { 'iface-id': 'acme/db' } },
    { name: 'vnet1', ofport: 4, tag: 11, ifaceId: LIBVIRT_IFACE_ID, externalIds: { 'iface-id': LIBVIRT_IFACE_ID, 'attached-mac': '52:54:00:00:00:04' } },
    { name: 'vnet2', ofport: 5, tag: 11, externalIds: { 'weft-network': 'acme/gone' } },
    { name: 'vnet3', ofport: 6, externalIds: { 'weft-network': 'acme/web' } },
  ], [put('network', 'acme/db', { tenant: 'acme', name: 'db', vlan: 12, vni: 12, mtu: 1450, subnets: [] })]);
  t.same(summary(fabric.ports()), [
    ['tap100i0', 'acme/web', 'tag'],
    ['tap101i0', 'acme/db', 'binding'],
    ['vnet0', 'acme/db', 'binding'],
    ['vnet1', 'acme/web', 'tag'],
    ['vnet2', 'unknown-network', undefined],
    ['vnet3', 'acme/web', 'binding'],
  ], 'weft-network and a tenant/network iface-id bind; a UUID iface-id leaves the tag to decide; a weft-network naming no network binds nothing, without falling back to the tag');
  t.equal(fabric.ports().find((p) => p.name === 'tap101i0')?.binding, undefined, 'a binding from external_ids is not a stored binding');

  await store.commit([put('port', 'hv1/tap101i0', { host: 'hv1', name: 'tap101i0', network: 'acme/web', ips: [] })]);
  t.same((await fabric.converge(await store.revision(), 10_000)).map((r) => [r.host, r.ok]), [['hv1', true]]);
  const bound = fabric.ports().find((p) => p.name === 'tap101i0');
  t.same([bound?.network, bound?.boundBy, bound?.binding], ['acme/web', 'binding', 'acme/web'], 'port.bind wins over external_ids:weft-network');

  const flows = fabric.pipeline('hv1')?.input.ports.map((p) => [p.name, p.network]);
  t.same(flows, [
    ['tap100i0', undefined],
    ['tap101i0', 'acme/web'],
    ['vnet0', 'acme/db'],
    ['vnet1', undefined],
    ['vnet2', 'acme/gone'],
    ['vnet3', 'acme/web'],
  ], 'the pipeline input carries the same bindings');
});
