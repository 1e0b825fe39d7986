// The store contract as a reusable suite: every backend (SQLite today, the
// OVSDB Raft cluster for high availability) runs exactly this.
//
// `open()` must open the SAME underlying store on every call (that is how
// reopening is tested); subtests therefore never assume an empty store. Each
// one works in its own namespace (every key it writes starts with `ns + '-'`)
// and compares counts before and after.
import fc from 'fast-check';
import type { Test } from 'tap';
import { keyOf, KINDS, type Kind, type KindMap } from '../../../src/model/index.js';
import {
  ConflictError,
  del,
  FencedError,
  put,
  StoreClosedError,
  type Change,
  type Op,
  type Store,
} from '../../../src/store/store.js';
import { lease, mac } from './leases.js';

const run = Date.now().toString(36).slice(-6);
let namespaces = 0;
/** A fresh namespace: a name no other subtest or earlier run uses, and no other namespace's prefix. */
export function namespace(): string {
  return `w${run}${(namespaces++).toString().padStart(4, '0')}`;
}

export { lease, mac, poolIp } from './leases.js';

/** A valid value of `kind` whose key starts with `ns-`; `i` picks the key, `v` varies the rest. */
export function sample<K extends Kind>(kind: K, ns: string, i: number, v = 0): KindMap[K] {
  const values: { [P in Kind]: () => KindMap[P] } = {
    tenant: () => ({ name: `${ns}-t${i}`, description: `variant ${v}` }),
    network: () => ({
      tenant: `${ns}-t`,
      name: `n${i}`,
      vlan: 1 + (i % 4094),
      vni: 1 + i,
      mtu: 1450 - (v % 100),
      subnets: [],
    }),
    reservation: () => ({ tenant: `${ns}-t`, network: 'net', mac: mac(i), ip: `192.0.2.${(i + v) % 250}` }),
    host: () => ({ name: `${ns}-h${i}`, state: 'admitted', encap: 'vxlan', bridge: 'br-int', encapIp: `198.18.0.${1 + (v % 250)}` }),
    port: () => ({ host: `${ns}-h`, name: `tap${i}i0`, ips: [`203.0.113.${v % 250}`] }),
    lease: () => lease(ns, i, v),
    token: () => ({ id: `${ns}-k${i}`.replaceAll('-', ''), hash: 'ab'.repeat(32), createdAt: `2026-01-01T00:00:${v % 60}Z` }),
  };
  return values[kind]() as KindMap[K];
}

/** The prefix that `sample(kind, ns, ...)` keys share. */
function prefixOf(kind: Kind, ns: string): string {
  return kind === 'token' ? ns : `${ns}-`;
}

function putSample<K extends Kind>(kind: K, ns: string, i: number, v = 0, ifRevision?: number | null): Op {
  const value = sample(kind, ns, i, v);
  return put(kind, keyOf(kind, value), value, ifRevision);
}

async function rejectsWith<E>(
  t: Test,
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  message: string,
): Promise<E | undefined> {
  try {
    await promise;
    t.fail(`${message}: resolved`);
    return undefined;
  } catch (e) {
    t.ok(e instanceof type, message, { found: e });
    return e as E;
  }
}

/** The namespace's state of the store, kind by kind, as plain data. */
async function snapshot(store: Store, ns: string): Promise<Record<string, [string, unknown, number][]>> {
  const out: Record<string, [string, unknown, number][]> = {};
  for (const kind of KINDS) {
    out[kind] = (await store.list(kind, { prefix: prefixOf(kind, ns) })).map((o) => [o.key, o.value, o.revision]);
  }
  return out;
}

export function conformance(t: Test, open: () => Promise<Store>): void {
  let store: Store;
  t.before(async () => {
    store = await open();
  });
  t.teardown(async () => {
    await store.close();
  });

  t.test('every kind can be put, read, listed in key order, filtered by prefix, counted and deleted', async (t) => {
    for (const kind of KINDS) {
      const ns = namespace();
      const before = await store.count(kind);
      const values = [2, 0, 1].map((i) => sample(kind, ns, i));
      const result = await store.commit(values.map((v) => put(kind, keyOf(kind, v), v)));
      t.equal(result.changes.length, 3, `${kind}: one change per put`);

      const [first] = values;
      const got = await store.get(kind, keyOf(kind, first!));
      t.same(got, { kind, key: keyOf(kind, first!), value: first, revision: result.revision }, `${kind}: get returns the value and its revision`);
      t.equal(await store.get(kind, `${ns}-absent`), undefined, `${kind}: get of an absent key is undefined`);

      const listed = await store.list(kind, { prefix: prefixOf(kind, ns) });
      const keys = values.map((v) => keyOf(kind, v)).sort();
      t.same(listed.map((o) => o.key), keys, `${kind}: list is in key order`);
      t.same(listed.map((o) => o.kind), [kind, kind, kind], `${kind}: listed objects carry their kind`);
      const all = await store.list(kind);
      t.ok(keys.every((k) => all.some((o) => o.key === k)), `${kind}: list without a prefix includes them`);
      t.equal(await store.count(kind), before + 3, `${kind}: count grows by three`);

      const one = await store.list(kind, { prefix: keys[1]! });
      t.same(one.map((o) => o.key), [keys[1]], `${kind}: a full key as prefix lists just that object`);

      const removed = await store.commit([del(kind, keys[0]!)]);
      t.same(removed.changes.map((c) => [c.op, c.key]), [['delete', keys[0]]], `${kind}: delete is a change`);
      t.equal(await store.get(kind, keys[0]!), undefined, `${kind}: a deleted object is gone`);
      t.equal(await store.count(kind), before + 2, `${kind}: count shrinks`);
    }
  });

  t.test('kinds are separate key spaces', async (t) => {
    const ns = namespace();
    const key = `${ns}-same`;
    await store.commit([put('tenant', key, { name: key })]);
    t.equal(await store.get('host', key), undefined, 'a tenant key is not a host');
  });

  t.test('a put overwrites and reports the previous value', async (t) => {
    const ns = namespace();
    const first = await store.commit([putSample('lease', ns, 1, 1)]);
    const second = await store.commit([putSample('lease', ns, 1, 2)]);
    t.ok(second.revision > first.revision, 'revisions grow');
    t.same(second.changes[0]?.previous, sample('lease', ns, 1, 1), 'previous is the overwritten value');
    t.same((await store.get('lease', keyOf('lease', lease(ns, 1))))?.value, sample('lease', ns, 1, 2), 'the new value is stored');
  });

  t.test('a transaction is atomic: when one condition fails, nothing of it is written', async (t) => {
    const ns = namespace();
    const existing = await store.commit([putSample('tenant', ns, 0)]);
    const rev = await store.revision();
    await rejectsWith(
      t,
      store.commit([putSample('tenant', ns, 1), del('tenant', `${ns}-t0`), putSample('tenant', ns, 0, 9, existing.revision + 1000)]),
      ConflictError,
      'the failed condition rejects the transaction',
    );
    t.equal(await store.get('tenant', `${ns}-t1`), undefined, 'the earlier put did not happen');
    t.same((await store.get('tenant', `${ns}-t0`))?.value, sample('tenant', ns, 0), 'the earlier delete did not happen');
    t.equal(await store.revision(), rev, 'no revision was used');
  });

  t.test('ifRevision is compare-and-set, by revision or by absence', async (t) => {
    const ns = namespace();
    const key = `${ns}-t0`;
    const created = await store.commit([putSample('tenant', ns, 0, 0, null)]);
    t.pass('put if absent creates');
    const e = await rejectsWith(t, store.commit([putSample('tenant', ns, 0, 1, null)]), ConflictError, 'put if absent fails on an existing object');
    t.match(e, { kind: 'tenant', key, expected: null, actual: created.revision }, 'the conflict names the object and both revisions');

    const updated = await store.commit([putSample('tenant', ns, 0, 2, created.revision)]);
    t.pass('put at the current revision succeeds');
    await rejectsWith(t, store.commit([putSample('tenant', ns, 0, 3, created.revision)]), ConflictError, 'put at a stale revision fails');
    await rejectsWith(t, store.commit([del('tenant', key, created.revision)]), ConflictError, 'delete at a stale revision fails');
    t.same(await store.get('tenant', key), { kind: 'tenant', key, value: sample('tenant', ns, 0, 2), revision: updated.revision }, 'failed writes changed nothing');

    await store.commit([del('tenant', key, updated.revision)]);
    t.equal(await store.get('tenant', key), undefined, 'delete at the current revision succeeds');
    const gone = await rejectsWith(t, store.commit([del('tenant', key, updated.revision)]), ConflictError, 'a conditional delete of an absent object fails');
    t.match(gone, { actual: null }, 'and reports it absent');
  });

  t.test('conditions see the earlier ops of their own transaction', async (t) => {
    const ns = namespace();
    const r = await store.commit([putSample('tenant', ns, 0, 0, null), del('tenant', `${ns}-t0`), putSample('tenant', ns, 0, 1, null)]);
    t.same(r.changes.map((c) => c.op), ['put', 'delete', 'put'], 'put, delete and put again in one transaction');
    t.ok(r.changes.every((c) => c.revision === r.revision), 'all at one revision');
    t.same((await store.get('tenant', `${ns}-t0`))?.value, sample('tenant', ns, 0, 1), 'the last op wins');
  });

  t.test('an empty transaction checks its fence and uses no revision', async (t) => {
    const rev = await store.revision();
    const r = await store.commit([]);
    t.same(r, { revision: rev, changes: [] });
    t.equal(await store.revision(), rev);
  });

  t.test('a write fenced by an old term fails and changes nothing', async (t) => {
    const ns = namespace();
    const scope = `network:${ns}-t/net`;
    t.equal(await store.term(scope), 0, 'an unclaimed scope is at term 0');
    const term = await store.claimTerm(scope, 0);
    t.equal(term, 1, 'the first claim takes term 1');
    await store.commit([putSample('lease', ns, 1)], { fence: { scope, term } });
    t.pass('the leader writes under its term');

    t.equal(await store.claimTerm(scope, 1), 2, 'another replica takes term 2');
    const rev = await store.revision();
    const e = await rejectsWith(
      t,
      store.commit([putSample('lease', ns, 1, 7), putSample('lease', ns, 2)], { fence: { scope, term: 1 } }),
      FencedError,
      'the deposed leader cannot write',
    );
    t.match(e, { scope, expected: 1, actual: 2 }, 'the error names the scope and both terms');
    t.same((await store.get('lease', keyOf('lease', lease(ns, 1))))?.value, lease(ns, 1), 'its write changed nothing');
    t.equal(await store.get('lease', keyOf('lease', lease(ns, 2))), undefined, 'not even the new object');
    t.equal(await store.revision(), rev, 'and used no revision');
    await rejectsWith(t, store.commit([], { fence: { scope, term: 1 } }), FencedError, 'an empty transaction checks the fence too');
    await rejectsWith(t, store.commit([putSample('lease', ns, 3)], { fence: { scope, term: 3 } }), FencedError, 'a term from the future is refused as well');
    await store.commit([putSample('lease', ns, 3)], { fence: { scope, term: 2 } });
    t.pass('the new leader writes');
    t.equal(await store.term(`network:${ns}-t/other`), 0, 'terms are per scope');
  });

  t.test('a term is claimed only from the term seen, and concurrent claims have one winner', async (t) => {
    const ns = namespace();
    const scope = `network:${ns}-t/net`;
    const stale = await rejectsWith(t, store.claimTerm(scope, 5), FencedError, 'a claim from a term never reached fails');
    t.match(stale, { scope, expected: 5, actual: 0 }, 'and carries the current term');
    t.equal(await store.claimTerm(scope, 0), 1);

    const claims = await Promise.allSettled(Array.from({ length: 10 }, () => store.claimTerm(scope, 1)));
    const won = claims.filter((c) => c.status === 'fulfilled');
    t.equal(won.length, 1, 'exactly one of ten concurrent claims wins');
    t.same(won.map((c) => c.value), [2], 'with the next term');
    t.ok(
      claims.every((c) => c.status === 'fulfilled' || (c.reason instanceof FencedError && c.reason.actual === 2)),
      'the others are fenced by the winner',
    );
    t.equal(await store.term(scope), 2);
  });

  t.test('the change feed delivers every committed change once, in revision order, none of failed transactions', async (t) => {
    const ns = namespace();
    const seen: Change[] = [];
    const batches: number[] = [];
    const stop = store.watch((changes) => {
      const mine = changes.filter((c) => c.key.startsWith(ns));
      if (mine.length > 0) batches.push(mine[0]!.revision);
      seen.push(...mine);
    });
    const from = await store.revision();
    const pending = [
      store.commit([putSample('lease', ns, 1), putSample('lease', ns, 2)]),
      store.commit([putSample('lease', ns, 3, 0, 12345)]),
      store.commit([putSample('lease', ns, 1, 1), del('lease', keyOf('lease', lease(ns, 2)))]),
      store.commit([putSample('lease', ns, 4)], { fence: { scope: `x:${ns}`, term: 9 } }),
      store.commit([putSample('tenant', ns, 0)]),
    ];
    const results = await Promise.allSettled(pending);
    t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'], 'the conditions decide');
    const expected = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.changes : []));
    // A watcher is called after the commit is durable, before or after the
    // committer resumes; both are allowed, so wait a turn.
    await new Promise((r) => setImmediate(r));
    t.same(seen, expected, 'the feed has the committed changes, exactly once each');
    t.same(batches, [...batches].sort((a, b) => a - b), 'in revision order');
    t.equal(new Set(batches).size, batches.length, 'one batch per transaction');
    t.same(seen.map((c) => [c.op, c.kind, c.key]), [
      ['put', 'lease', keyOf('lease', lease(ns, 1))],
      ['put', 'lease', keyOf('lease', lease(ns, 2))],
      ['put', 'lease', keyOf('lease', lease(ns, 1))],
      ['delete', 'lease', keyOf('lease', lease(ns, 2))],
      ['put', 'tenant', `${ns}-t0`],
    ]);
    t.same(seen[2]?.previous, lease(ns, 1), 'an overwrite carries the previous value');
    t.same(seen[3]?.value, lease(ns, 2), 'a delete carries the last value');

    const resumed = (await store.changesSince(from)).filter((c) => c.key.startsWith(ns));
    t.same(resumed, expected, 'changesSince resumes with the same changes');
    const later = (await store.changesSince(seen[2]!.revision)).filter((c) => c.key.startsWith(ns));
    t.same(later, expected.slice(4), 'from any revision');
    t.same(await store.changesSince(await store.revision()), [], 'nothing after the latest revision');

    stop();
    await store.commit([putSample('tenant', ns, 1)]);
    await new Promise((r) => setImmediate(r));
    t.equal(seen.length, 5, 'an unsubscribed listener hears nothing more');
  });

  t.test('5,000 lease writes issued at once all commit, each at its own revision', async (t) => {
    const ns = namespace();
    const n = 5000;
    const before = await store.count('lease');
    const results = await Promise.all(Array.from({ length: n }, (_, i) => store.commit([putSample('lease', ns, i, i)])));
    const revisions = results.map((r) => r.revision);
    t.equal(new Set(revisions).size, n, 'every transaction has its own revision');
    t.ok(revisions.every((r, i) => i === 0 || r > revisions[i - 1]!), 'revisions follow the order of the calls');
    t.equal(await store.count('lease'), before + n, 'count grows by all of them');
    const listed = await store.list('lease', { prefix: `${ns}-` });
    t.equal(listed.length, n, 'all are listed');
    const byKey = new Map(listed.map((o) => [o.key, o]));
    t.ok(
      Array.from({ length: n }, (_, i) => lease(ns, i, i)).every((l) => byKey.get(keyOf('lease', l))?.value.start === l.start),
      'each with its value',
    );
  });

  t.test('random transactions leave the store in the same state as a reference map', async (t) => {
    type Ref = Map<string, { value: unknown; revision: number }>;
    const kinds = ['tenant', 'lease'] as const;
    const opArb = fc.record({
      kind: fc.constantFrom(...kinds),
      i: fc.integer({ min: 0, max: 5 }),
      v: fc.integer({ min: 0, max: 1000 }),
      del: fc.boolean(),
      cond: fc.constantFrom('none', 'current', 'stale', 'absent'),
    });
    const txArb = fc.array(opArb, { minLength: 0, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(fc.array(txArb, { minLength: 1, maxLength: 15 }), async (txs) => {
        const ns = namespace();
        const ref: Ref = new Map();
        const id = (kind: Kind, key: string) => `${kind} ${key}`;
        for (const tx of txs) {
          const ops: Op[] = tx.map((o) => {
            const value = sample(o.kind, ns, o.i, o.v);
            const key = keyOf(o.kind, value);
            const cur = ref.get(id(o.kind, key));
            const ifRevision =
              o.cond === 'none' ? undefined : o.cond === 'current' ? (cur?.revision ?? null) : o.cond === 'stale' ? (cur ? cur.revision - 1 : 1) : null;
            if (o.del) return ifRevision === null ? del(o.kind, key) : del(o.kind, key, ifRevision);
            return put(o.kind, key, value, ifRevision);
          });
          // The reference: ops in order, conditions against the state so far,
          // the transaction's own writes at a revision nobody can name yet.
          const next = new Map(ref);
          let ok = true;
          for (const op of ops) {
            const k = id(op.kind, op.key);
            const actual = next.get(k)?.revision ?? null;
            if (op.ifRevision !== undefined && actual !== op.ifRevision) {
              ok = false;
              break;
            }
            if (op.op === 'put') next.set(k, { value: op.value, revision: -1 });
            else next.delete(k);
          }
          try {
            const r = await store.commit(ops);
            if (!ok) throw new Error(`the store committed what the reference refused: ${JSON.stringify(ops)}`);
            for (const [k, e] of next) if (e.revision === -1) next.set(k, { value: e.value, revision: r.revision });
            ref.clear();
            for (const [k, e] of next) ref.set(k, e);
          } catch (e) {
            if (!(e instanceof ConflictError) || ok) throw e;
          }
        }
        const got = await snapshot(store, ns);
        for (const kind of KINDS) {
          const want = [...ref]
            .filter(([k]) => k.startsWith(`${kind} `))
            .map(([k, e]) => [k.slice(kind.length + 1), e.value, e.revision] as [string, unknown, number])
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          t.same(got[kind], want, `${kind} objects match`, { diagnostic: false });
          if (JSON.stringify(got[kind]) !== JSON.stringify(want)) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
    t.pass('60 random sequences of transactions');
  });

  t.test('a reopened store holds everything, and a closed one refuses every call', async (t) => {
    const ns = namespace();
    const scope = `network:${ns}-t/net`;
    await store.claimTerm(scope, 0);
    await store.commit([putSample('lease', ns, 1), putSample('tenant', ns, 1)]);
    // Read before the commit below is issued: a backend with asynchronous
    // reads may land that commit before a later read is answered.
    const state = await snapshot(store, ns);
    const revision = await store.revision();
    // Issued but not awaited: close() flushes it before closing.
    const inflight = store.commit([putSample('lease', ns, 2)]);
    await store.close();
    await inflight;
    t.pass('a commit pending at close is flushed, not lost');

    const closed = store;
    for (const [name, call] of Object.entries({
      get: () => closed.get('lease', 'x'),
      list: () => closed.list('lease'),
      count: () => closed.count('lease'),
      commit: () => closed.commit([putSample('lease', ns, 3)]),
      term: () => closed.term(scope),
      claimTerm: () => closed.claimTerm(scope, 1),
      revision: () => closed.revision(),
      changesSince: () => closed.changesSince(0),
      check: () => closed.check(),
    })) {
      await rejectsWith(t, call(), StoreClosedError, `${name} after close rejects`);
    }

    store = await open();
    const reopened = await snapshot(store, ns);
    t.same(reopened.tenant, state.tenant, 'tenants survive');
    t.equal(reopened.lease?.length, 2, 'both leases survive, the flushed one too');
    t.same(reopened.lease?.[0], state.lease?.[0], 'with their values and revisions');
    t.ok((await store.revision()) > revision, 'the revision carries on');
    t.equal(await store.term(scope), 1, 'terms survive');
    t.same((await store.check()).problems, [], 'the reopened store passes its check');
  });
}
