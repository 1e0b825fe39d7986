// The clustered store through member failures, on a real three-member
// ovsdb-server cluster: a writer keeps many commits in flight while a
// follower, then the leader, is killed with SIGKILL. Nothing stops for more
// than an election, no commit fails, and afterwards every acknowledged write
// is stored with the revision its commit reported (so a commit whose answer
// was lost with the leader was neither dropped nor applied twice).
import t from 'tap';
import { keyOf } from '../../src/model/index.js';
import { openOvsdbClusterStore } from '../../src/store/ovsdb-cluster.js';
import { put, type Store } from '../../src/store/store.js';
import { Cluster } from '../harness/cluster.js';
import { sleep } from '../harness/proc.js';
import { OVS, requirement } from '../harness/require.js';
import { namespace } from '../unit/store/conformance.js';
import { lease } from '../unit/store/leases.js';

const IN_FLIGHT = 64;

interface Writer {
  acked: Map<number, number>;
  failures: unknown[];
  /** Stops issuing and waits for every commit in flight. */
  stop(): Promise<void>;
}

/** Keeps IN_FLIGHT single-lease commits going, each lease at its own address. */
function writer(store: Store, ns: string): Writer {
  const acked = new Map<number, number>();
  const failures: unknown[] = [];
  let seq = 0;
  let stopping = false;
  const lanes = Array.from({ length: IN_FLIGHT }, async () => {
    while (!stopping) {
      const i = seq++;
      const l = lease(ns, i, i);
      try {
        const r = await store.commit([put('lease', keyOf('lease', l), l)]);
        acked.set(i, r.revision);
      } catch (e) {
        failures.push(e);
        return;
      }
    }
  });
  return {
    acked,
    failures,
    async stop() {
      stopping = true;
      await Promise.all(lanes);
    },
  };
}

async function missing(store: Store, ns: string, acked: Map<number, number>): Promise<string[]> {
  const stored = new Map((await store.list('lease', { prefix: `${ns}-` })).map((o) => [o.key, o]));
  const lost: string[] = [];
  for (const [i, revision] of acked) {
    const l = lease(ns, i, i);
    const got = stored.get(keyOf('lease', l));
    if (!got) lost.push(`seq ${i}: absent`);
    else if (got.revision !== revision) lost.push(`seq ${i}: stored at revision ${got.revision}, acknowledged at ${revision}`);
  }
  return lost;
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await sleep(10);
}

t.test('member failures', requirement(OVS), async (t) => {
  const cluster = await Cluster.start();
  t.teardown(() => cluster.teardown());
  const store = await openOvsdbClusterStore({ remotes: cluster.remotes });
  t.teardown(() => store.close());

  await t.test('a follower killed with SIGKILL: commits go on', async (t) => {
    const ns = namespace();
    const w = writer(store, ns);
    await until(() => w.acked.size > 500);
    const leader = await cluster.leader();
    const follower = (leader + 1) % 3;
    await cluster.kill(follower);
    const at = w.acked.size;
    await until(() => w.acked.size > at + 1000);
    t.ok(w.acked.size > at + 1000, 'a thousand more commits with one member down');
    await w.stop();
    t.same(w.failures, [], 'no commit failed');
    t.same(await missing(store, ns, w.acked), [], `all ${w.acked.size} acknowledged writes are stored at their revisions`);
    await cluster.startMember(follower);
    await cluster.waitMember(follower);
    t.pass('the member restarts and catches up');
  });

  await t.test('the leader killed with SIGKILL mid-writes: a new leader takes over, nothing acknowledged is lost', async (t) => {
    const ns = namespace();
    const events: string[] = [];
    const own = await openOvsdbClusterStore({ remotes: cluster.remotes, onEvent: (m) => events.push(m) });
    t.teardown(() => own.close());
    const w = writer(own, ns);
    await until(() => w.acked.size > 500);
    const leader = await cluster.leader();
    await cluster.kill(leader);
    const at = w.acked.size;
    await until(() => w.acked.size > at + 1000, 30_000);
    t.ok(w.acked.size > at + 1000, 'commits resume after the election');
    await w.stop();
    t.same(w.failures, [], 'no commit failed: the ones in flight were retried or confirmed');
    t.ok(events.some((e) => /lost the cluster leader/.test(e)), 'the client noticed', { events });
    t.not(await cluster.leader(), leader, 'another member leads');
    t.same(await missing(own, ns, w.acked), [], `all ${w.acked.size} acknowledged writes are stored at their revisions`);
    t.same((await own.check()).problems, [], 'the store passes its check');

    await cluster.startMember(leader);
    await cluster.waitMember(leader);
    const again = await openOvsdbClusterStore({ remotes: [cluster.remotes[leader]!, ...cluster.remotes] });
    t.same(await missing(again, ns, w.acked), [], 'and still are with the old leader back as a follower');
    await again.close();
  });
});
