// Tenant onboarding end to end: a real `weft serve`, the CLI and the example
// onboarding script against it, refusals with their exit status and field,
// and everything still there after a restart.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { cli, root, serve, type Serve } from '../harness/daemon.js';
import { run } from '../harness/proc.js';

const examples = join(root, 'deploy/examples');

const dir = mkdtempSync(join(tmpdir(), 'weft-api-it-'));
const data = join(dir, 'var');
let daemon: Serve | undefined;
let api = '';

async function startDaemon(): Promise<void> {
  daemon = await serve(data);
  api = daemon.api;
}

const env = () => ({ ...process.env, WEFT_API: api, WEFT_DATA: data, WEFT_TOKEN: '', WEFT: `${process.execPath} ${cli}` });

async function weft(...args: string[]) {
  return run(process.execPath, [cli, ...args], { env: env(), allowFailure: true });
}

async function json<T>(...args: string[]): Promise<T> {
  const r = await weft(...args, '--json');
  if (r.code !== 0) throw new Error(`weft ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

t.before(startDaemon);
t.teardown(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

t.test('the first start writes an admin token, 0600, and never logs it', async (t) => {
  const file = join(data, 'admin.token');
  const { statSync } = await import('node:fs');
  t.equal(statSync(file).mode & 0o777, 0o600);
  const token = readFileSync(file, 'utf8').trim();
  t.notOk(daemon!.log().includes(token), 'the token is not in the log');
});

t.test('three tenants onboarded from manifests with the example script, and listed back', async (t) => {
  const manifests = ['tenant-acme.yaml', 'tenant-globex.yaml', 'tenant-initech.yaml'].map((m) => join(examples, m));
  const r = await run('bash', [join(examples, 'onboard.sh'), ...manifests], { env: { ...env(), TOKENS: dir }, allowFailure: true, timeout: 240_000 });
  t.equal(r.code, 0, `onboard.sh succeeds: ${r.stderr}`);
  t.match(r.stdout, /\+ network acme\/web/);
  const { tenants } = await json<{ tenants: { name: string }[] }>('tenant', 'list');
  t.same(tenants.map((x) => x.name), ['acme', 'globex', 'initech']);
  const { networks } = await json<{ networks: { tenant: string; name: string; subnets: { cidr: string }[] }[] }>('network', 'list');
  t.same(networks.map((n) => `${n.tenant}/${n.name}`), ['acme/db', 'acme/web', 'globex/web', 'initech/office']);
  t.equal(networks.filter((n) => n.subnets[0]!.cidr === '192.0.2.0/24').length, 2, 'the same subnet in two tenants is accepted');
  const table = await weft('network', 'list');
  t.match(table.stdout, /^NETWORK\s+VLAN\s+VNI\s+MTU\s+SUBNETS\nacme\/db\s+12\s+12\s+1450\s+198\.51\.100\.0\/24/);
  const again = await weft('apply', '-f', manifests[0]!);
  t.equal(again.stdout, 'no changes\n', 'the same manifest again changes nothing');
});

t.test('refusals exit 1 with the server message and the field; usage errors exit 2', async (t) => {
  const overlap = await weft('network', 'create', 'acme/web2', '--vlan', '13', '--subnet', '192.0.2.0/25');
  t.equal(overlap.code, 1, 'an overlapping subnet within one tenant is refused');
  t.match(overlap.stderr, /subnets\.0\.cidr: subnet 192\.0\.2\.0\/25 overlaps/);
  const vlan = await weft('network', 'create', 'globex/x', '--vlan', '11');
  t.equal(vlan.code, 1, 'a duplicate VLAN is refused');
  t.match(vlan.stderr, /\(-32001\)/);
  t.match(vlan.stderr, /^ {2}vlan: VLAN 11 is in use/m);
  const asJson = await weft('network', 'create', 'globex/x', '--vlan', '11', '--json');
  t.match(JSON.parse(asJson.stdout), { error: { code: -32001, data: { issues: [{ path: 'vlan' }] } } });
  for (const args of [['network', 'create', 'acme', '--vlan', '5'], ['network', 'create', 'acme/x'], ['network', 'create', 'acme/x', '--vlan', 'eleven'], ['tenant', 'frobnicate'], ['apply']]) {
    t.equal((await weft(...args)).code, 2, `weft ${args.join(' ')} is a usage error`);
  }
  const unreachable = await run(process.execPath, [cli, 'status', '--api', 'http://127.0.0.1:1'], { env: env(), allowFailure: true });
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, /cannot reach the API/);
});

t.test('apply with one invalid network applies nothing', async (t) => {
  const before = await json<unknown>('network', 'list');
  const bad = join(dir, 'bad.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(bad, 'tenant: initech\nnetworks:\n  - name: office\n    vlan: 31\n    subnets: [{cidr: 203.0.113.0/24, gateway: 203.0.113.1}]\n  - name: lab\n    vlan: 21\n  - name: new\n    vlan: 33\n');
  const r = await weft('apply', '-f', bad, '--prune');
  t.equal(r.code, 1);
  t.match(r.stderr, /manifest\.networks\.1\.vlan/);
  t.same(await json<unknown>('network', 'list'), before);
});

t.test('a tenant token from onboarding sees only its tenant', async (t) => {
  const token = readFileSync(join(dir, 'globex.token'), 'utf8').trim();
  const r = await run(process.execPath, [cli, 'network', 'list', '--json', '--token', token], { env: env(), allowFailure: true });
  t.same((JSON.parse(r.stdout) as { networks: { tenant: string }[] }).networks.map((n) => n.tenant), ['globex']);
  const other = await run(process.execPath, [cli, 'network', 'show', 'acme/web', '--token', token], { env: env(), allowFailure: true });
  t.equal(other.code, 1);
  t.match(other.stderr, /network acme\/web not found/);
});

t.test('the example WebSocket client lists networks and subscribes', async (t) => {
  const admin = daemon!.token();
  const r = await run(process.execPath, [join(examples, 'ws-client.mjs'), `${api.replace(/^http/, 'ws')}/rpc`], { env: { ...process.env, WEFT_TOKEN: admin, WEFT_ONCE: '1' }, allowFailure: true });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /acme\/web vlan 11 vni 11 192\.0\.2\.0\/24/);
  t.match(r.stdout, /subscribed/);
});

t.test('everything survives a restart', async (t) => {
  const before = await json<unknown>('network', 'list');
  const reservations = await json<unknown>('reservation', 'list');
  const adminToken = readFileSync(join(data, 'admin.token'), 'utf8');
  await daemon!.stop();
  await startDaemon();
  t.same(await json<unknown>('network', 'list'), before);
  t.same(await json<unknown>('reservation', 'list'), reservations);
  t.equal(readFileSync(join(data, 'admin.token'), 'utf8'), adminToken, 'the admin token is kept');
  const token = readFileSync(join(dir, 'acme.token'), 'utf8').trim();
  const r = await run(process.execPath, [cli, 'tenant', 'list', '--json', '--token', token], { env: env(), allowFailure: true });
  t.same(JSON.parse(r.stdout), { tenants: [{ name: 'acme', description: 'Acme Corp', revision: (JSON.parse(r.stdout) as { tenants: { revision: number }[] }).tenants[0]!.revision }] });
  t.equal((await weft('apply', '-f', join(examples, 'tenant-acme.yaml'))).stdout, 'no changes\n');
});
