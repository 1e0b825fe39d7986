// The tenant, network, reservation and token methods against a real store:
// what each creates, what it refuses and with which error and field, and
// that a refused call changes nothing.
import t, { type Test } from 'tap';
import { HttpClient, RpcError } from '../../../src/api/client.js';
import { ErrorCode } from '../../../src/api/errors.js';
import { snapshot, startApi, type TestApi } from './harness.js';

const web = {
  tenant: 'acme',
  name: 'web',
  vlan: 11,
  subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.199' }], dns: ['192.0.2.53'] }],
};

async function refusal(t: Test, p: Promise<unknown>, code: number, path?: string): Promise<RpcError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  t.type(e, RpcError, 'the call is refused');
  const err = e as RpcError;
  t.equal(err.code, code, `with code ${code}: ${err.message}`);
  if (path !== undefined) t.ok(err.data?.issues?.some((i) => i.path === path), `naming ${path}: ${JSON.stringify(err.data?.issues)}`);
  return err;
}

let api: TestApi;
let admin: HttpClient;
t.before(async () => {
  api = await startApi();
  admin = api.http();
});
t.teardown(() => api.close());

t.test('a network gets its VNI from its VLAN tag and MTU 1450 unless given', async (t) => {
  await admin.call('tenant.create', { name: 'acme', description: 'Acme Corp' });
  const n = await admin.call<Record<string, unknown>>('network.create', web);
  t.match(n, { tenant: 'acme', name: 'web', vlan: 11, vni: 11, mtu: 1450 });
  t.match(await admin.call('network.get', { tenant: 'acme', name: 'web' }), { vni: 11, subnets: [{ cidr: '192.0.2.0/24', leaseTime: 3600 }] });
  const own = await admin.call<Record<string, unknown>>('network.create', { tenant: 'acme', name: 'db', vlan: 12, vni: 5012, mtu: 9000 });
  t.match(own, { vni: 5012, mtu: 9000 });
});

t.test('a duplicate VLAN is refused with a conflict naming vlan, and nothing changes', async (t) => {
  const before = await snapshot(api.store);
  const err = await refusal(t, admin.call('network.create', { tenant: 'acme', name: 'other', vlan: 11, vni: 911 }), ErrorCode.Conflict, 'vlan');
  t.match(err.message, /VLAN 11/);
  await refusal(t, admin.call('network.create', { tenant: 'acme', name: 'other', vlan: 911, vni: 11 }), ErrorCode.Conflict, 'vni');
  t.equal(await snapshot(api.store), before);
});

t.test('subnets may overlap across tenants but not within one', async (t) => {
  await admin.call('tenant.create', { name: 'globex' });
  await admin.call('network.create', { ...web, tenant: 'globex', vlan: 21 });
  await refusal(
    t,
    admin.call('network.create', { tenant: 'acme', name: 'web2', vlan: 13, subnets: [{ cidr: '192.0.2.128/25' }] }),
    ErrorCode.Conflict,
    'subnets.0.cidr',
  );
});

t.test('bad values are refused as invalid params naming every field', async (t) => {
  const err = await refusal(t, admin.call('network.create', { tenant: 'acme', name: 'Bad_Name', vlan: 5000, vln: 3, subnets: [{ cidr: '192.0.2.1/24' }] }), ErrorCode.InvalidParams);
  const paths = err.data!.issues!.map((i) => i.path).sort();
  t.same(paths, ['name', 'subnets.0.cidr', 'vlan', 'vln']);
  await refusal(t, admin.call('network.create', { tenant: 'acme', name: 'gw', vlan: 14, subnets: [{ cidr: '198.51.100.0/24', gateway: '203.0.113.1' }] }), ErrorCode.InvalidParams, 'subnets.0.gateway');
  await refusal(t, admin.call('tenant.create', {}), ErrorCode.InvalidParams, 'name');
  await refusal(t, admin.call('tenant.create', ['acme']), ErrorCode.InvalidParams, '');
});

t.test('concurrent creates cannot both take one VLAN', async (t) => {
  const calls = Array.from({ length: 12 }, (_, i) => admin.call('network.create', { tenant: 'globex', name: `race${i}`, vlan: 300 }));
  const results = await Promise.allSettled(calls);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one wins');
  const { networks } = await admin.call<{ networks: { vlan: number }[] }>('network.list', {});
  t.equal(networks.filter((n) => n.vlan === 300).length, 1);
});

t.test('network.update changes the given fields, the VNI follows a VLAN it defaulted to', async (t) => {
  const n = await admin.call<{ revision: number }>('network.update', { tenant: 'acme', name: 'web', vlan: 15 });
  t.match(n, { vlan: 15, vni: 15, subnets: [{ cidr: '192.0.2.0/24' }] });
  await refusal(t, admin.call('network.update', { tenant: 'acme', name: 'web', mtu: 1400, ifRevision: n.revision - 1 }), ErrorCode.Conflict, 'ifRevision');
  t.match(await admin.call('network.update', { tenant: 'acme', name: 'web', mtu: 1400, ifRevision: n.revision }), { mtu: 1400 });
  await refusal(t, admin.call('network.update', { tenant: 'acme', name: 'web', vlan: 21 }), ErrorCode.Conflict, 'vlan');
  await refusal(t, admin.call('network.update', { tenant: 'acme', name: 'nope', vlan: 99 }), ErrorCode.NotFound);
});

t.test('reservations: inside a subnet, not the gateway, one per MAC and per address', async (t) => {
  const r = await admin.call('reservation.create', { tenant: 'acme', network: 'web', mac: '52-54-00-AA-BB-01', ip: '192.0.2.10', hostname: 'vm1' });
  t.match(r, { mac: '52:54:00:aa:bb:01', ip: '192.0.2.10' });
  await refusal(t, admin.call('reservation.create', { tenant: 'acme', network: 'web', mac: '52:54:00:aa:bb:01', ip: '192.0.2.11' }), ErrorCode.Conflict, 'mac');
  await refusal(t, admin.call('reservation.create', { tenant: 'acme', network: 'web', mac: '52:54:00:aa:bb:02', ip: '192.0.2.10' }), ErrorCode.Conflict, 'ip');
  await refusal(t, admin.call('reservation.create', { tenant: 'acme', network: 'web', mac: '52:54:00:aa:bb:02', ip: '192.0.2.1' }), ErrorCode.InvalidParams, 'ip');
  await refusal(t, admin.call('reservation.create', { tenant: 'acme', network: 'web', mac: '52:54:00:aa:bb:02', ip: '198.51.100.7' }), ErrorCode.InvalidParams, 'ip');
  await refusal(t, admin.call('network.update', { tenant: 'acme', name: 'web', subnets: [{ cidr: '198.51.100.0/24' }] }), ErrorCode.Conflict, 'subnets');
  t.equal((await admin.call<{ reservations: unknown[] }>('reservation.list', { tenant: 'acme', network: 'web' })).reservations.length, 1);
  t.same(await admin.call('reservation.delete', { tenant: 'acme', network: 'web', mac: '52:54:00:aa:bb:01' }), { deleted: ['reservation acme/web/52:54:00:aa:bb:01'] });
});

t.test('tenant.delete refuses while networks exist unless forced, then removes them and its tokens', async (t) => {
  await admin.call('tenant.create', { name: 'gone' });
  await admin.call('network.create', { tenant: 'gone', name: 'n', vlan: 400, subnets: [{ cidr: '203.0.113.0/24' }] });
  await admin.call('reservation.create', { tenant: 'gone', network: 'n', mac: '52:54:00:00:00:01', ip: '203.0.113.5' });
  await admin.call('token.create', { tenant: 'gone' });
  await refusal(t, admin.call('tenant.delete', { name: 'gone' }), ErrorCode.Conflict, 'force');
  const { deleted } = await admin.call<{ deleted: string[] }>('tenant.delete', { name: 'gone', force: true });
  t.match(deleted, ['reservation gone/n/52:54:00:00:00:01', 'network gone/n', /^token /, 'tenant gone']);
  await refusal(t, admin.call('tenant.get', { name: 'gone' }), ErrorCode.NotFound);
  const { tokens } = await admin.call<{ tokens: { tenant?: string }[] }>('token.list', {});
  t.notOk(tokens.some((k) => k.tenant === 'gone'));
});

t.test('tokens: the secret is shown once, never a hash; revoked tokens stop working', async (t) => {
  const created = await admin.call<{ id: string; secret: string; tenant: string }>('token.create', { tenant: 'acme', name: 'ci' });
  t.match(created, { tenant: 'acme', name: 'ci', secret: /^weft_[a-z0-9]{16}_[0-9a-f]{64}$/ });
  const { tokens } = await admin.call<{ tokens: Record<string, unknown>[] }>('token.list', {});
  t.ok(tokens.every((k) => !('hash' in k) && !('secret' in k)), 'no hash or secret in token.list');
  const stored = await api.store.get('token', created.id);
  t.not(stored!.value.hash, created.secret, 'the store holds a hash');
  const acme = api.http(created.secret);
  t.match(await acme.call('tenant.list'), { tenants: [{ name: 'acme' }] });
  await admin.call('token.revoke', { id: created.id });
  await refusal(t, acme.call('tenant.list'), ErrorCode.Unauthorized);
  const { tokens: left } = await admin.call<{ tokens: { id: string; tenant?: string }[] }>('token.list', {});
  const adminId = left.find((k) => k.tenant === undefined)!.id;
  await refusal(t, admin.call('token.revoke', { id: adminId }), ErrorCode.Conflict, 'id');
});

t.test('no token, a malformed token, a wrong secret: unauthorized', async (t) => {
  for (const token of [undefined, 'nonsense', `weft_${'a'.repeat(16)}_${'0'.repeat(64)}`, api.adminToken.slice(0, -1) + (api.adminToken.endsWith('0') ? '1' : '0')]) {
    const c = new HttpClient({ url: api.url, ...(token !== undefined ? { token } : {}) });
    await refusal(t, c.call('status'), ErrorCode.Unauthorized);
    await c.close();
  }
});
