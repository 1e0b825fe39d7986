// lease.list and lease.release against leases the DHCP server itself binds
// on the API's store, the events feed delivering lease changes per tenant,
// and the `weft leases` / `weft lease release` commands.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { getOption } from '../../../protocols/dhcp/index.js';
import { RpcError } from '../../../src/api/client.js';
import { ErrorCode } from '../../../src/api/errors.js';
import { createDhcpService, type DhcpService } from '../../../src/dhcp/index.js';
import { run } from '../../harness/proc.js';
import { frame, mac, parseReply, quiet as quietDhcp } from '../dhcp-server/client.js';
import { startApi, subscriber, type TestApi } from './harness.js';

const cli = join(fileURLToPath(new URL('../../../', import.meta.url)), 'src/cli/main.js');

let api: TestApi;
let dhcp: DhcpService;
t.before(async () => {
  api = await startApi();
  const admin = api.http();
  for (const [tenant, vlan] of [['acme', 11], ['globex', 21]] as const) {
    await admin.call('apply', {
      manifest: {
        tenant,
        networks: [{ name: 'web', vlan, subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', ranges: [{ start: '192.0.2.100', end: '192.0.2.150' }] }] }],
      },
    });
  }
  dhcp = createDhcpService({ store: api.store, log: quietDhcp, sweepIntervalMs: 0 });
});
t.teardown(async () => {
  await dhcp.close();
  await api.close();
});

/** A DORA through the DHCP server on `tenant/web`; the address ACKed. */
async function bind(network: string, m: string, hostname?: string): Promise<string> {
  const send = async (f: Buffer) => (await dhcp.handle({ network, host: 'hv1', port: 'tap1', frame: f }))!.map(parseReply)[0]!;
  const offer = await send(frame('DISCOVER', { mac: m, ...(hostname ? { hostname } : {}) }));
  const ack = await send(frame('REQUEST', { mac: m, serverId: getOption(offer.message, 'serverId')!, requestedIp: offer.message.yiaddr, ...(hostname ? { hostname } : {}) }));
  if (ack.type !== 'ACK') throw new Error(`no ACK for ${m}`);
  return ack.message.yiaddr;
}

interface LeaseOut {
  tenant: string;
  network: string;
  ip: string;
  mac: string;
  hostname?: string;
  state: string;
  expiresAt: number;
  revision: number;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof RpcError) return `${e.code} ${e.message}`;
    throw e;
  }
}

t.test('lease.list: what the DHCP server bound, filtered by network, tenant, MAC and address', async (t) => {
  const admin = api.http();
  const a1 = await bind('acme/web', mac(1), 'vm1');
  const a2 = await bind('acme/web', mac(2));
  const g1 = await bind('globex/web', mac(1));
  const all = (await admin.call<{ leases: LeaseOut[] }>('lease.list')).leases;
  t.same(all.map((l) => `${l.tenant}/${l.network} ${l.ip} ${l.mac} ${l.state}`).sort(), [
    `acme/web ${a1} ${mac(1)} bound`, `acme/web ${a2} ${mac(2)} bound`, `globex/web ${g1} ${mac(1)} bound`,
  ].sort());
  t.match(all.find((l) => l.ip === a1 && l.tenant === 'acme'), { hostname: 'vm1', host: 'hv1', port: 'tap1' });
  t.same((await admin.call<{ leases: LeaseOut[] }>('lease.list', { network: 'acme/web' })).leases.map((l) => l.ip).sort(), [a1, a2].sort());
  t.same((await admin.call<{ leases: LeaseOut[] }>('lease.list', { tenant: 'globex' })).leases.map((l) => l.ip), [g1]);
  t.same((await admin.call<{ leases: LeaseOut[] }>('lease.list', { mac: mac(1).toUpperCase() })).leases.map((l) => l.tenant).sort(), ['acme', 'globex'], 'a MAC in any case');
  t.same((await admin.call<{ leases: LeaseOut[] }>('lease.list', { network: 'acme/web', ip: a2 })).leases.map((l) => l.mac), [mac(2)]);
  t.match(await refusal(admin.call('lease.list', { network: 'acme/nope' })), new RegExp(`^${ErrorCode.NotFound} network acme/nope not found`));
  t.match(await refusal(admin.call('lease.list', { network: 'acme' })), new RegExp(`^${ErrorCode.InvalidParams} Invalid params: network: must be TENANT/NETWORK`));
  t.match(await refusal(admin.call('lease.list', { tenant: 'globex', network: 'acme/web' })), new RegExp(`^${ErrorCode.InvalidParams} `));

  const { secret } = await admin.call<{ secret: string }>('token.create', { tenant: 'globex' });
  const globex = api.http(secret);
  t.same((await globex.call<{ leases: LeaseOut[] }>('lease.list')).leases.map((l) => l.tenant), ['globex'], 'a tenant token sees its own leases only');
  t.same((await globex.call<{ leases: LeaseOut[] }>('lease.list', { mac: mac(2) })).leases, [], "not even by another tenant's MAC");
  t.equal(
    (await refusal(globex.call('lease.list', { network: 'acme/web' }))).replace('acme', 'X'),
    (await refusal(globex.call('lease.list', { network: 'nosuch/web' }))).replace('nosuch', 'X'),
    "another tenant's network is answered like a missing one",
  );
});

t.test('lease.release frees the address: released, back in the pool, and idempotent', async (t) => {
  const admin = api.http();
  const ip = await bind('acme/web', mac(10));
  const before = (await admin.call<{ leases: LeaseOut[] }>('lease.list', { network: 'acme/web', ip })).leases[0]!;
  t.match(await refusal(admin.call('lease.release', { network: 'acme/web', ip, ifRevision: before.revision - 1 })), new RegExp(`^${ErrorCode.Conflict} `), 'a stale ifRevision is a conflict');
  const released = await admin.call<LeaseOut>('lease.release', { network: 'acme/web', ip, ifRevision: before.revision });
  t.match(released, { ip, mac: mac(10), state: 'released' });
  t.ok(released.expiresAt <= Date.now());
  t.ok(released.revision > before.revision);
  t.same(await admin.call('lease.release', { network: 'acme/web', ip }), released, 'releasing again changes nothing');
  t.equal((await api.store.get('lease', `acme/web/${ip}`))?.value.state, 'released', 'stored');

  // The DHCP server saw the release through the change feed: another client may have the address now.
  const [offer] = (await dhcp.handle({ network: 'acme/web', host: 'hv1', port: 'tap2', frame: frame('DISCOVER', { mac: mac(11), requestedIp: ip }) }))!.map(parseReply);
  t.equal(offer!.message.yiaddr, ip, 'the released address is offered to another client that asks for it');

  t.match(await refusal(admin.call('lease.release', { network: 'acme/web', ip: '192.0.2.99' })), new RegExp(`^${ErrorCode.NotFound} lease acme/web/192.0.2.99 not found`));
  const { secret } = await admin.call<{ secret: string }>('token.create', { tenant: 'globex' });
  const globex = api.http(secret);
  const other = await bind('acme/web', mac(12));
  t.equal(
    (await refusal(globex.call('lease.release', { network: 'acme/web', ip: other }))).replace('acme', 'X'),
    (await refusal(globex.call('lease.release', { network: 'nosuch/web', ip: other }))).replace('nosuch', 'X'),
    "another tenant's lease is answered like a missing one",
  );
  t.equal((await api.store.get('lease', `acme/web/${other}`))?.value.state, 'bound', 'and stays bound');
});

t.test("events.subscribe delivers lease changes, a tenant token only its tenant's", async (t) => {
  const admin = api.http();
  const { seen, until } = await subscriber(api, 'globex', { kinds: ['lease'] });
  await bind('acme/web', mac(20));
  const ip = await bind('globex/web', mac(20));
  await admin.call('lease.release', { network: 'globex/web', ip });
  await until(2);
  t.same(seen.map((e) => `${e.kind} ${e.action} ${e.key} ${e.value.state}`), [
    `lease created globex/web/${ip} bound`,
    `lease updated globex/web/${ip} released`,
  ], 'the binding (stored at the ACK: offers are not leases) and the release; nothing of acme');
});

t.test('weft leases and weft lease release', async (t) => {
  const admin = api.http();
  const ip = await bind('acme/web', mac(30), 'cli-vm');
  const weft = (...args: string[]) => run(process.execPath, [cli, ...args, '--api', api.url, '--token', api.adminToken], { allowFailure: true });

  const listed = await weft('leases', 'acme/web');
  t.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split('\n');
  t.match(lines[0], /^NETWORK\s+IP\s+MAC\s+HOSTNAME\s+STATE\s+EXPIRES$/);
  t.match(lines.find((l) => l.includes(mac(30))), new RegExp(`^acme/web\\s+${ip.replaceAll('.', '\\.')}\\s+${mac(30)}\\s+cli-vm\\s+bound\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
  t.notOk(lines.some((l) => l.startsWith('globex/')), 'only the network asked for');

  const json = await weft('leases', 'acme/web', '--mac', mac(30), '--json');
  t.equal(json.code, 0, json.stderr);
  t.match(JSON.parse(json.stdout), { leases: [{ tenant: 'acme', network: 'web', ip, mac: mac(30), state: 'bound' }] });

  const released = await weft('lease', 'release', 'acme/web', ip);
  t.equal(released.code, 0, released.stderr);
  t.equal(released.stdout, `released ${ip} (${mac(30)}) on acme/web\n`);
  t.equal((await admin.call<{ leases: LeaseOut[] }>('lease.list', { network: 'acme/web', ip })).leases[0]!.state, 'released');

  const missing = await weft('lease', 'release', 'acme/web', '192.0.2.98');
  t.equal(missing.code, 1, 'a refusal exits 1');
  t.match(missing.stderr, /lease acme\/web\/192\.0\.2\.98 not found/);
  const bad = await weft('lease', 'release', 'acme', ip);
  t.equal(bad.code, 2, 'a malformed network is a usage error');
});
