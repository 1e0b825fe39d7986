// The clustered store on a real three-member ovsdb-server Raft cluster: the
// conformance suite, then what is particular to it: several clients (weft
// replicas) on one cluster see each other's writes and never lose one to a
// race, and the schema version is checked and converted.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { keyOf } from '../../../src/model/index.js';
import { openOvsdbClusterStore, WEFT_SCHEMA_PATH } from '../../../src/store/ovsdb-cluster.js';
import { ConflictError, put, StoreVersionError, type Change, type Store } from '../../../src/store/store.js';
import { Cluster } from '../../harness/cluster.js';
import { OVS, requirement } from '../../harness/require.js';
import { conformance, lease, namespace } from './conformance.js';

const needs = requirement(OVS);

t.test('the clustered store passes the conformance suite', needs, async (t) => {
  const cluster = await Cluster.start();
  t.teardown(() => cluster.teardown());
  conformance(t, () => openOvsdbClusterStore({ remotes: cluster.remotes }));
});

t.test('two replicas on one cluster', needs, async (t) => {
  const cluster = await Cluster.start();
  t.teardown(() => cluster.teardown());
  // Each replica lists the members in another order, as their configs may.
  const a = await openOvsdbClusterStore({ remotes: cluster.remotes });
  const b = await openOvsdbClusterStore({ remotes: [...cluster.remotes].reverse() });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });

  await t.test('a write of one is read and heard by the other', async (t) => {
    const ns = namespace();
    const heard: Change[] = [];
    const stop = b.watch((changes) => heard.push(...changes.filter((c) => c.key.startsWith(ns))));
    const l = lease(ns, 1);
    const r = await a.commit([put('lease', keyOf('lease', l), l)]);
    t.same((await b.get('lease', keyOf('lease', l)))?.revision, r.revision, 'read at the leader: no stale read');
    for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    stop();
    t.same(heard, r.changes, "the other replica's feed carries the change");
  });

  await t.test('concurrent unconditional writes from both interleave without loss, each at its own revision', async (t) => {
    const ns = namespace();
    const n = 300;
    const write = (s: Store, tag: number) =>
      Promise.all(
        Array.from({ length: n }, (_, i) => {
          const l = lease(ns, i * 2 + tag, i);
          return s.commit([put('lease', keyOf('lease', l), l)]);
        }),
      );
    const [ra, rb] = await Promise.all([write(a, 0), write(b, 1)]);
    const revisions = [...ra, ...rb].map((r) => r.revision);
    t.equal(new Set(revisions).size, 2 * n, 'no two transactions share a revision');
    t.equal((await a.list('lease', { prefix: `${ns}-` })).length, 2 * n, 'every write is stored');
  });

  await t.test('compare-and-set across replicas: of two racing updates from one revision, one wins', async (t) => {
    const ns = namespace();
    const l = lease(ns, 1);
    const key = keyOf('lease', l);
    const created = await a.commit([put('lease', key, l, null)]);
    const results = await Promise.allSettled([
      a.commit([put('lease', key, lease(ns, 1, 1), created.revision)]),
      b.commit([put('lease', key, lease(ns, 1, 2), created.revision)]),
    ]);
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one commits');
    const lost = results.find((r) => r.status === 'rejected');
    t.ok(lost?.reason instanceof ConflictError, 'the other gets a ConflictError');
  });

  await t.test('term claims across replicas have one winner', async (t) => {
    const scope = `network:${namespace()}-t/net`;
    const claims = await Promise.allSettled([...Array(5)].flatMap(() => [a.claimTerm(scope, 0), b.claimTerm(scope, 0)]));
    t.equal(claims.filter((c) => c.status === 'fulfilled').length, 1);
    t.equal(await b.term(scope), 1);
  });
});

t.test('schema versions', needs, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-schema-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const shipped = JSON.parse(readFileSync(WEFT_SCHEMA_PATH, 'utf8')) as { version: string; tables: Record<string, { columns: Record<string, unknown> }> };
  const at = (version: string, extra = false) => {
    const s = structuredClone(shipped);
    s.version = version;
    if (extra) s.tables.Meta!.columns.note = { type: { key: 'string', min: 0, max: 1 } };
    const file = join(dir, `weft-${version}.ovsschema`);
    writeFileSync(file, JSON.stringify(s));
    return file;
  };

  await t.test('a database of a newer weft is refused with StoreVersionError', async (t) => {
    const cluster = await Cluster.start({ schema: at('99.0.0') });
    t.teardown(() => cluster.teardown());
    await t.rejects(openOvsdbClusterStore({ remotes: cluster.remotes, leaderTimeout: 5_000 }), StoreVersionError);
  });

  await t.test('an older database is converted online and keeps its data', async (t) => {
    const cluster = await Cluster.start();
    t.teardown(() => cluster.teardown());
    const ns = namespace();
    const l = lease(ns, 1);
    const old = await openOvsdbClusterStore({ remotes: cluster.remotes });
    const written = await old.commit([put('lease', keyOf('lease', l), l)]);
    await old.close();

    const newer = await openOvsdbClusterStore({ remotes: cluster.remotes, schemaFile: at('1.1.0', true) });
    t.same(await newer.get('lease', keyOf('lease', l)), { kind: 'lease', key: keyOf('lease', l), value: l, revision: written.revision }, 'the data is intact');
    const again = await newer.commit([put('lease', keyOf('lease', l), lease(ns, 1, 1))]);
    t.ok(again.revision > written.revision, 'and the revision carries on');
    await newer.close();
    const status = await cluster.status(await cluster.leader());
    t.match(status, /Name: Weft/);
    await t.rejects(openOvsdbClusterStore({ remotes: cluster.remotes, leaderTimeout: 5_000 }), StoreVersionError, 'the older weft now refuses it');
  });
});
