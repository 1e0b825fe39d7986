// The token isolation matrix: every method, called with globex's tenant token
// on acme's objects, answers exactly as it does for objects that do not
// exist (or as forbidden, for admin methods), and changes nothing of acme's.
import t from 'tap';
import { RpcError, type ApiClient } from '../../../src/api/client.js';
import { ErrorCode } from '../../../src/api/errors.js';
import { put } from '../../../src/store/store.js';
import { snapshot, startApi, subscriber, type TestApi } from './harness.js';

let api: TestApi;
t.before(async () => {
  api = await startApi();
  const admin = api.http();
  for (const [tenant, vlan, cidr] of [['acme', 11, '192.0.2.0/24'], ['globex', 21, '192.0.2.0/24']] as const) {
    await admin.call('apply', {
      manifest: {
        tenant,
        networks: [{ name: 'web', vlan, subnets: [{ cidr, gateway: '192.0.2.1' }], reservations: [{ mac: '52:54:00:00:00:01', ip: '192.0.2.10' }] }],
      },
    });
    // A lease as the DHCP server stores it at an ACK.
    const lease = { tenant, network: 'web', ip: '192.0.2.20', mac: '52:54:00:00:00:03', state: 'bound' as const, start: 0, expiresAt: 4_000_000_000_000 };
    await api.store.commit([put('lease', `${tenant}/web/192.0.2.20`, lease)]);
  }
});
t.teardown(() => api.close());

/** Params that name acme's objects, and the same call for a tenant that does not exist. */
function cases(acmeTokenId: string): Record<string, [object, object]> {
  const other = (tenant: string): Record<string, object> => ({
    'tenant.create': { name: tenant },
    'tenant.get': { name: tenant },
    'tenant.delete': { name: tenant, force: true },
    'network.create': { tenant, name: 'new', vlan: 99 },
    'network.get': { tenant, name: 'web' },
    'network.list': { tenant },
    'network.update': { tenant, name: 'web', mtu: 1400 },
    'network.delete': { tenant, name: 'web' },
    'reservation.create': { tenant, network: 'web', mac: '52:54:00:00:00:02', ip: '192.0.2.11' },
    'reservation.delete': { tenant, network: 'web', mac: '52:54:00:00:00:01' },
    'reservation.list': { tenant, network: 'web' },
    'lease.list': { network: `${tenant}/web` },
    'lease.release': { network: `${tenant}/web`, ip: '192.0.2.20' },
    'token.create': { tenant },
    'token.revoke': { id: tenant === 'acme' ? acmeTokenId : 'nosuchtoken00000' },
    apply: { manifest: { tenant, networks: [] }, prune: true },
    'port.get': { host: 'hv1', name: tenant === 'acme' ? 'acme-port' : `${tenant}-port` },
  });
  const acme = other('acme');
  const missing = other('nosuch');
  return Object.fromEntries(Object.keys(acme).map((m) => [m, [acme[m]!, missing[m]!]]));
}

async function outcome(c: ApiClient, method: string, params: object): Promise<string> {
  try {
    return `ok ${JSON.stringify(await c.call(method, params))}`;
  } catch (e) {
    if (e instanceof RpcError) return `error ${e.code} ${e.message.replaceAll('nosuchtoken00000', 'ID').replaceAll('nosuch', 'X')}`;
    throw e;
  }
}

t.test("a tenant token cannot tell another tenant's objects from missing ones", async (t) => {
  const admin = api.http();
  const acmeToken = await admin.call<{ id: string }>('token.create', { tenant: 'acme' });
  const { secret } = await admin.call<{ secret: string }>('token.create', { tenant: 'globex' });
  const globex = api.http(secret);
  const before = await snapshot(api.store);
  const matrix = cases(acmeToken.id);
  // Admin methods refuse a tenant token before looking at params or objects;
  // every tenant-scope method must be in the matrix (lists, status and events
  // are checked in the tests below), so a new method cannot skip it.
  for (const m of api.api.registry.list()) {
    if (m.scope === 'admin') {
      t.match(await outcome(globex, m.name, {}), new RegExp(`^error ${ErrorCode.Forbidden} `), `${m.name} (admin) is forbidden`);
      continue;
    }
    if (m.name === 'status' || m.name.startsWith('events.') || (m.name.endsWith('.list') && !(m.name in matrix))) continue;
    t.ok(m.name in matrix, `${m.name} is in the matrix`);
  }
  for (const [method, [onAcme, onMissing]] of Object.entries(matrix)) {
    const a = (await outcome(globex, method, onAcme)).replaceAll(acmeToken.id, 'ID').replaceAll('acme', 'X');
    const m = await outcome(globex, method, onMissing);
    t.match(a, /^error /, `${method} on acme's object is refused`);
    t.equal(a, m, `${method}: same answer as for a missing object (${m})`);
    if (a.startsWith('error ')) t.ok(a.startsWith(`error ${ErrorCode.NotFound}`) || a.startsWith(`error ${ErrorCode.Forbidden}`), `${method}: not found or forbidden`);
  }
  t.equal(await snapshot(api.store), before, "nothing of acme's changed");
});

t.test('lists, status and tokens show a tenant token its own tenant only', async (t) => {
  const admin = api.http();
  const { secret } = await admin.call<{ secret: string }>('token.create', { tenant: 'globex' });
  const globex = api.http(secret);
  t.same((await globex.call<{ tenants: { name: string }[] }>('tenant.list')).tenants.map((x) => x.name), ['globex']);
  t.same((await globex.call<{ networks: { tenant: string }[] }>('network.list')).networks.map((x) => x.tenant), ['globex']);
  t.same((await globex.call<{ reservations: { tenant: string }[] }>('reservation.list')).reservations.map((x) => x.tenant), ['globex']);
  t.same((await globex.call<{ leases: { tenant: string }[] }>('lease.list')).leases.map((x) => x.tenant), ['globex']);
  t.ok((await globex.call<{ tokens: { tenant?: string }[] }>('token.list')).tokens.every((x) => x.tenant === 'globex'));
  t.match(await globex.call('status'), { tenant: 'globex', counts: { network: 1, reservation: 1 } });
  const conflict = await globex.call('network.create', { tenant: 'globex', name: 'n2', vlan: 11 }).catch((e: RpcError) => e);
  t.match(conflict, { code: ErrorCode.Conflict });
  t.notMatch((conflict as RpcError).message, /acme/, "a VLAN clash does not name another tenant's network");
});

t.test("events: a tenant token gets its tenant's changes only, created/updated/deleted", async (t) => {
  const admin = api.http();
  const { secret, seen, until } = await subscriber(api, 'globex', {});
  await admin.call('network.create', { tenant: 'acme', name: 'secret', vlan: 50 });
  await admin.call('network.create', { tenant: 'globex', name: 'ev', vlan: 51 });
  await admin.call('network.update', { tenant: 'globex', name: 'ev', mtu: 1400 });
  await admin.call('network.delete', { tenant: 'globex', name: 'ev' });
  await admin.call('token.create', { tenant: 'globex', name: 'seen' });
  await until(4);
  t.same(
    seen.filter((e) => e.kind === 'network').map((e) => `${e.action} ${e.key}`),
    ['created globex/ev', 'updated globex/ev', 'deleted globex/ev'],
  );
  const token = seen.find((e) => e.kind === 'token');
  t.ok(token && !('hash' in token.value), 'token events carry no hash');
  t.notOk(seen.some((e) => e.key.startsWith('acme')), "nothing of acme's");
  const http = api.http(secret);
  t.match(await http.call('events.subscribe').catch((e: RpcError) => e), { code: ErrorCode.Unsupported });
});
