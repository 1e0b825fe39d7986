// `weft serve --store ovsdb:...` on a three-member ovsdb-server Raft cluster:
// the daemon starts on the clustered store, a tenant created through the
// admin API (HTTP POST with the admin token) is in the cluster, read back by
// another client of the cluster, and a bad --store is refused at start-up
// with exit status 2.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openOvsdbClusterStore } from '../../src/store/ovsdb-cluster.js';
import { Cluster } from '../harness/cluster.js';
import { run, sleep } from '../harness/proc.js';
import { OVS, requirement } from '../harness/require.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function rpc(api: string, token: string, method: string, params: unknown): Promise<{ result?: unknown; error?: unknown }> {
  const res = await fetch(`${api}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return (await res.json()) as { result?: unknown; error?: unknown };
}

t.test('weft serve --store ovsdb:... keeps its data in the cluster', requirement(OVS), async (t) => {
  const cluster = await Cluster.start();
  t.teardown(() => cluster.teardown());
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'var');
  const store = `ovsdb:${cluster.remotes.join(',')}`;

  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  let log = '';
  const daemon: ChildProcess = spawn(
    process.execPath,
    [cli, 'serve', '--data', data, '--store', store, '--api', `127.0.0.1:${port}`, '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  daemon.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  daemon.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise((resolve) => daemon.once('exit', resolve));
  t.teardown(async () => {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGTERM');
      await exited;
    }
  });

  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`${api}/healthz`).then((r) => r.ok, () => false);
    if (up) break;
    if (daemon.exitCode !== null || Date.now() > deadline) {
      t.fail(`weft serve did not come up:\n${log}`);
      return;
    }
    await sleep(50);
  }
  t.match(log, /"store":"ovsdb-cluster"/, 'the daemon opened the clustered store');

  const admin = readFileSync(join(data, 'admin.token'), 'utf8').trim();
  const created = await rpc(api, admin, 'tenant.create', { name: 'acme', description: 'on the cluster' });
  t.notOk(created.error, 'tenant.create succeeds', { created });

  const other = await openOvsdbClusterStore({ remotes: [...cluster.remotes].reverse() });
  t.teardown(() => other.close());
  const stored = await other.get('tenant', 'acme');
  t.match(stored?.value, { name: 'acme', description: 'on the cluster' }, 'another client of the cluster reads the tenant');
  t.same((await other.check()).problems, [], 'the cluster store passes its check');

  daemon.kill('SIGTERM');
  await exited;
  t.equal(daemon.exitCode, 0, 'weft stops cleanly');
});

t.test('a --store that is neither sqlite nor ovsdb:REMOTES is refused with exit status 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const bad of ['postgres:', 'ovsdb:', 'ovsdb:tcp:198.19.1.1', 'ovsdb:unix:/run/a.sock,unix:/run/a.sock']) {
    const r = await run(process.execPath, [cli, 'serve', '--data', join(dir, 'var'), '--store', bad], { allowFailure: true, timeout: 20_000 });
    t.equal(r.code, 2, `${bad}: exit status 2`);
    t.match(r.stderr, /store/, `${bad}: the message names the setting`);
  }
});
