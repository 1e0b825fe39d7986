// deploy/ha is real: the replicas' example configs load through weft's own
// loader and name the same three-member store; store-init.sh creates and
// joins members that ovsdb-server serves as one cluster weft can use; the
// member unit runs ovsdb-server on the database store-init.sh made.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadConfig } from '../../src/config/index.js';
import { openOvsdbClusterStore, WEFT_SCHEMA_PATH } from '../../src/store/ovsdb-cluster.js';
import { put } from '../../src/store/store.js';
import { out, run, sleep } from '../harness/proc.js';
import { OVS, requirement } from '../harness/require.js';

const ha = fileURLToPath(new URL('../../../deploy/ha/', import.meta.url));
const REMOTES = ['tcp:198.19.1.1:6641', 'tcp:198.19.1.2:6641', 'tcp:198.19.1.3:6641'];

t.test('the replicas of both examples load and share one store', async (t) => {
  const files = ['weft-1.yaml', 'weft-2.yaml', 'weft-3.yaml', 'two-machines/weft-1.yaml', 'two-machines/weft-2.yaml'];
  const ids = new Set<string>();
  for (const f of files) {
    const { config } = loadConfig({ configFile: join(ha, f) });
    t.same(config.store, { backend: 'ovsdb', remotes: REMOTES }, `${f}: the three members`);
    t.ok(config.replicaId && !ids.has(`${f.split('/')[0]}:${config.replicaId}`), `${f}: its own replica id`);
    ids.add(`${f.split('/')[0]}:${config.replicaId}`);
    t.ok(config.peers.length > 0 && config.advertKeyFile, `${f}: peers and the advert key`);
  }
});

t.test('the member unit serves the database store-init.sh makes, on the address store.env gives', async (t) => {
  const unit = readFileSync(join(ha, 'weft-store.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/sbin\/ovsdb-server [^]*--remote=ptcp:\$\{WEFT_STORE_CLIENT_PORT\}:\$\{WEFT_STORE_ADDRESS\}[^]*\/var\/lib\/weft-store\/weft\.db$/m);
  t.match(unit, /^ConditionPathExists=\/var\/lib\/weft-store\/weft\.db$/m);
  t.match(unit, /^EnvironmentFile=\/etc\/weft\/store\.env$/m);
  const env = readFileSync(join(ha, 'store.env'), 'utf8');
  t.match(env, /^WEFT_STORE_ADDRESS=198\.19\.1\.1$/m);
  t.match(env, /^WEFT_STORE_CLIENT_PORT=6641$/m);
  t.match(readFileSync(join(ha, 'weft.service.d/ha.conf'), 'utf8'), /^After=weft-store\.service$/m);
});

t.test('store-init.sh creates and joins a cluster that weft uses', requirement(OVS), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-init-'));
  const servers: ChildProcess[] = [];
  t.teardown(() => {
    for (const p of servers) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const init = (n: number, ...args: string[]) =>
    run(join(ha, 'store-init.sh'), args, { env: { ...process.env, WEFT_STORE_DB: join(dir, `s${n}.db`), WEFT_SCHEMA: WEFT_SCHEMA_PATH }, allowFailure: true });
  const raft = (n: number) => `unix:${join(dir, `s${n}.raft`)}`;

  const created = await init(1, 'create', raft(1));
  t.equal(created.code, 0, created.stderr);
  for (const n of [2, 3]) {
    const joined = await init(n, 'join', raft(n), raft(1));
    t.equal(joined.code, 0, joined.stderr);
  }
  const again = await init(1, 'create', raft(1));
  t.equal(again.code, 1, 'a second run on a member refuses');
  t.match(again.stderr, /already a member/);
  t.equal((await init(4, 'join', raft(4))).code, 2, 'a join without a member to join is a usage error');
  t.equal((await out('ovsdb-tool', ['db-name', join(dir, 's2.db')])).trim(), 'Weft');

  for (const n of [1, 2, 3]) {
    const p = spawn('ovsdb-server', ['--no-chdir', `--remote=punix:${join(dir, `s${n}.sock`)}`, `--unixctl=${join(dir, `s${n}.ctl`)}`, '-vconsole:off', join(dir, `s${n}.db`)], { stdio: 'ignore' });
    p.on('error', () => {});
    servers.push(p);
  }
  for (const n of [1, 2, 3]) {
    for (let i = 0; i < 200 && !existsSync(join(dir, `s${n}.sock`)); i++) await sleep(25);
  }
  const store = await openOvsdbClusterStore({ remotes: [1, 2, 3].map((n) => `unix:${join(dir, `s${n}.sock`)}`) });
  t.teardown(() => store.close());
  const r = await store.commit([put('tenant', 'acme', { name: 'acme' })]);
  t.equal((await store.get('tenant', 'acme'))?.revision, r.revision, 'weft writes and reads on it');
  // A joining member reports its servers only once the leader has added it.
  let status = '';
  for (let i = 0; i < 400 && !/Servers:(\n.*){3}/.test(status); i++) {
    if (i > 0) await sleep(50);
    status = await out('ovs-appctl', ['-t', join(dir, 's3.ctl'), 'cluster/status', 'Weft']);
  }
  t.match(status, /Servers:(\n.*){3}/, 'three members');
});
