// apply: a manifest becomes the tenant's state in one transaction; the same
// manifest again changes nothing; one bad network and nothing is applied.
import t from 'tap';
import { RpcError } from '../../../src/api/client.js';
import { ErrorCode } from '../../../src/api/errors.js';
import { snapshot, startApi, type TestApi } from './harness.js';

let api: TestApi;
t.before(async () => {
  api = await startApi();
});
t.teardown(() => api.close());

const manifest = `
tenant: acme
description: Acme Corp
networks:
  - name: web
    vlan: 11
    subnets:
      - cidr: 192.0.2.0/24
        gateway: 192.0.2.1
        ranges: [{ start: 192.0.2.100, end: 192.0.2.199 }]
        dns: [192.0.2.53]
    reservations:
      - { mac: "52:54:00:00:00:01", ip: 192.0.2.10, hostname: web1 }
  - name: db
    vlan: 12
    subnets: [{ cidr: 198.51.100.0/24, gateway: 198.51.100.1 }]
`;

interface Applied {
  applied: boolean;
  changes: { action: string; kind: string; key: string; fields?: string[] }[];
}

t.test('a dry run shows the diff and writes nothing; apply writes it; again is empty', async (t) => {
  const admin = api.http();
  const before = await snapshot(api.store);
  const dry = await admin.call<Applied>('apply', { manifest, dryRun: true });
  t.same(
    dry.changes.map((c) => `${c.action} ${c.kind} ${c.key}`),
    ['create tenant acme', 'create network acme/db', 'create network acme/web', 'create reservation acme/web/52:54:00:00:00:01'],
  );
  t.equal(dry.applied, false);
  t.equal(await snapshot(api.store), before, 'the dry run wrote nothing');
  const done = await admin.call<Applied>('apply', { manifest });
  t.same(done.changes, dry.changes, 'apply does what the dry run said');
  t.equal(done.applied, true);
  t.match(await admin.call('network.get', { tenant: 'acme', name: 'web' }), { vni: 11, mtu: 1450 });
  const again = await admin.call<Applied>('apply', { manifest });
  t.same(again, { applied: false, changes: [] }, 'idempotent');
});

t.test('updates name their fields; prune deletes what is no longer listed', async (t) => {
  const admin = api.http();
  const changed = manifest.replace('vlan: 12', 'vlan: 13').replace(/ {4}reservations:\n.*\n/, '');
  const without = await admin.call<Applied>('apply', { manifest: changed, dryRun: true });
  t.same(without.changes, [{ action: 'update', kind: 'network', key: 'acme/db', fields: ['vlan', 'vni'] }], 'without prune the reservation stays');
  const pruned = await admin.call<Applied>('apply', { manifest: changed, prune: true });
  t.same(
    pruned.changes.map((c) => `${c.action} ${c.kind} ${c.key}`),
    ['update network acme/db', 'delete reservation acme/web/52:54:00:00:00:01'],
  );
  const gone = await admin.call<Applied>('apply', { manifest: { tenant: 'acme', description: 'Acme Corp', networks: [] }, prune: true, dryRun: true });
  t.same(gone.changes.map((c) => `${c.action} ${c.kind} ${c.key}`), ['delete network acme/web', 'delete network acme/db']);
});

t.test('one invalid network and nothing at all is applied', async (t) => {
  const admin = api.http();
  await admin.call('tenant.create', { name: 'globex' });
  const before = await snapshot(api.store);
  const bad = {
    tenant: 'globex',
    networks: [
      { name: 'a', vlan: 21, subnets: [{ cidr: '192.0.2.0/24' }] },
      { name: 'b', vlan: 11, subnets: [{ cidr: '198.51.100.0/24' }] },
      { name: 'c', vlan: 23, subnets: [{ cidr: '203.0.113.0/24' }] },
    ],
  };
  const conflict = await admin.call('apply', { manifest: bad }).catch((e: RpcError) => e);
  t.match(conflict, { code: ErrorCode.Conflict });
  t.ok((conflict as RpcError).data?.issues?.some((i) => i.path === 'manifest.networks.1.vlan'), 'names the VLAN of the bad network');
  const overlap = { tenant: 'globex', networks: [{ name: 'a', vlan: 21, subnets: [{ cidr: '192.0.2.0/24' }] }, { name: 'b', vlan: 22, subnets: [{ cidr: '192.0.2.0/25' }] }] };
  t.match(await admin.call('apply', { manifest: overlap }).catch((e: RpcError) => e), { code: ErrorCode.Conflict, data: { issues: [{ path: /^manifest\.networks\.\d\.subnets\.0\.cidr$/ }] } });
  const typo = { tenant: 'globex', networks: [{ name: 'a', vlan: 21 }, { name: 'b', vlam: 22 }] };
  const invalid = await admin.call('apply', { manifest: typo }).catch((e: RpcError) => e);
  t.match(invalid, { code: ErrorCode.InvalidParams });
  t.same((invalid as RpcError).data?.issues?.map((i) => i.path).sort(), ['manifest.networks.1.vlam', 'manifest.networks.1.vlan']);
  t.match(await admin.call('apply', { manifest: 'tenant: [unclosed' }).catch((e: RpcError) => e), { code: ErrorCode.InvalidParams, data: { issues: [{ path: 'manifest' }] } });
  const twice = { tenant: 'globex', networks: [{ name: 'a', vlan: 21 }, { name: 'a', vlan: 22 }] };
  t.match(await admin.call('apply', { manifest: twice }).catch((e: RpcError) => e), { code: ErrorCode.InvalidParams, data: { issues: [{ path: 'manifest.networks.1.name' }] } });
  t.equal(await snapshot(api.store), before, 'the store is unchanged');
});

t.test('a 100-network manifest applies in one transaction', async (t) => {
  const admin = api.http();
  const networks = Array.from({ length: 100 }, (_, i) => ({ name: `n${i}`, vlan: 1000 + i, subnets: [{ cidr: `198.18.${i}.0/24`, gateway: `198.18.${i}.1` }] }));
  const r = await admin.call<Applied & { revision: number }>('apply', { manifest: { tenant: 'big', networks } });
  t.equal(r.changes.length, 101);
  t.equal((await api.store.list('network', { prefix: 'big/' })).length, 100);
  t.ok((await api.store.list('network', { prefix: 'big/' })).every((n) => n.revision === r.revision), 'all written by one transaction');
});
