// `weft serve --store ovsdb:...` on a three-member ovsdb-server Raft cluster:
// the daemon starts on the clustered store, a tenant created through the
// admin API (HTTP POST with the admin token) is in the cluster, read back by
// another client of the cluster, and a bad --store is refused at start-up
// with exit status 2.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openOvsdbClusterStore } from '../../src/store/ovsdb-cluster.js';
import { Cluster } from '../harness/cluster.js';
import { cli, serve } from '../harness/daemon.js';
import { run } from '../harness/proc.js';
import { OVS, requirement } from '../harness/require.js';

t.test('weft serve --store ovsdb:... keeps its data in the cluster', requirement(OVS), async (t) => {
  const cluster = await Cluster.start();
  t.teardown(() => cluster.teardown());
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = `ovsdb:${cluster.remotes.join(',')}`;

  const daemon = await serve(join(dir, 'var'), ['--store', store]);
  t.teardown(() => daemon.stop());
  t.match(daemon.log(), /"store":"ovsdb-cluster"/, 'the daemon opened the clustered store');

  const created = await daemon.rpc('tenant.create', { name: 'acme', description: 'on the cluster' });
  t.notOk(created.error, 'tenant.create succeeds', { created });

  const other = await openOvsdbClusterStore({ remotes: [...cluster.remotes].reverse() });
  t.teardown(() => other.close());
  const stored = await other.get('tenant', 'acme');
  t.match(stored?.value, { name: 'acme', description: 'on the cluster' }, 'another client of the cluster reads the tenant');
  t.same((await other.check()).problems, [], 'the cluster store passes its check');

  t.same(await daemon.stop(), { code: 0, signal: null }, 'weft stops cleanly');
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
