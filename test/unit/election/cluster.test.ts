// The election as a cluster behaves: replicas on a fake clock and a fake
// network, terms in a real SQLite store. Every run checks at every instant
// that no two replicas believe they lead a network at the same term and that
// no believed term was not granted by the store.
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { encodeAdvert } from '../../../protocols/advert/index.js';
import { confirmMs, masterDownMs, quietGraceMs, skewMs } from '../../../src/election/machine.js';
import { flowsGroup } from '../../../src/election/service.js';
import { del, put } from '../../../src/store/store.js';
import { Sim, T0, type ReplicaOptions } from './sim.js';

const NET = 'acme/web';
const INTERVAL = 100;

async function cluster(t: Test, priorities: Record<string, number>, options: ReplicaOptions = {}, networks = [NET]): Promise<Sim> {
  const sim = await Sim.create(networks);
  t.teardown(() => sim.close());
  for (const [id, priority] of Object.entries(priorities)) await sim.add(id, { priority, ...options });
  return sim;
}

function leaderIds(sim: Sim, network = NET): string[] {
  return sim.leaders(network).map((l) => l.id);
}

t.test('the live replica with the highest priority leads, and everyone agrees', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150, 'replica-c': 100 });
  await sim.run(1000, [NET]);
  t.same(leaderIds(sim), ['replica-a']);
  for (const r of sim.live()) t.equal(r.service.leaders()[0]!.leader, 'replica-a', `${r.id} sees replica-a lead`);
  t.same(sim.replicas.get('replica-a')!.service.fence(NET), { scope: 'network:acme/web', term: 1 });
  t.equal(sim.replicas.get('replica-b')!.service.fence(NET), undefined);
  t.same(sim.replicas.get('replica-a')!.notified, [['leader', NET, '1']], 'the notify script ran once');
  t.same(sim.violations, []);
});

t.test('equal priorities go to the larger replica id', async (t) => {
  const sim = await cluster(t, { 'replica-b': 100, 'replica-c': 100, 'replica-a': 100 });
  await sim.run(1000, [NET]);
  t.same(leaderIds(sim), ['replica-c']);
  t.same(sim.violations, []);
});

t.test('after kill -9 of the leader the best backup leads within 3 intervals + its skew', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150, 'replica-c': 100 });
  await sim.run(1000, [NET]);
  sim.kill('replica-a');
  const took = await sim.until(5000, () => leaderIds(sim).includes('replica-b'), [NET]);
  t.ok(took !== undefined, 'replica-b leads');
  t.ok(took! <= masterDownMs(150, INTERVAL) + sim.net.maxDelay, `took ${took} ms, bound ${masterDownMs(150, INTERVAL) + sim.net.maxDelay}`);
  t.same(sim.replicas.get('replica-b')!.service.fence(NET), { scope: 'network:acme/web', term: 2 });
  await sim.run(2000, [NET]);
  t.same(leaderIds(sim), ['replica-b'], 'and stays the only leader');
  t.same(sim.violations, []);
});

t.test('a graceful stop advertises priority 0: the best backup leads after its skew time only', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150, 'replica-c': 100 });
  await sim.run(1000, [NET]);
  const a = sim.replicas.get('replica-a')!;
  await sim.stop('replica-a');
  t.same(a.notified.at(-1), ['backup', NET, '1'], 'the stopping leader notifies backup');
  const took = await sim.until(5000, () => leaderIds(sim).includes('replica-b'), [NET]);
  t.ok(took !== undefined && took <= skewMs(150, INTERVAL) + sim.net.maxDelay, `handover in ${took} ms, under one interval`);
  t.same(sim.violations, []);
});

t.test('resign: the leader stops leading at once and advertises priority 0 until it stops; the best backup leads after its skew', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150, 'replica-c': 100 });
  await sim.run(1000, [NET]);
  const a = sim.replicas.get('replica-a')!;
  a.service.resign();
  t.notOk(a.service.isLeader(NET), 'no longer leader the moment it resigns (DHCP falls silent)');
  t.equal(a.service.fence(NET), undefined, 'and it has no fence to write with');
  const took = await sim.until(5000, () => leaderIds(sim).includes('replica-b'), [NET]);
  t.ok(took !== undefined && took <= skewMs(150, INTERVAL) + sim.net.maxDelay, `handover in ${took} ms, under one interval`);
  await sim.run(10 * INTERVAL, [NET]);
  const row = sim.replicas.get('replica-b')!.service.leaders().find((l) => l.network === NET)!;
  t.same(row.peers.find((p) => p.replicaId === 'replica-a'), { replicaId: 'replica-a', priority: 0, term: 1, leader: false, live: true },
    'ten intervals on, the resigned replica still advertises, at priority 0');
  t.same(leaderIds(sim), ['replica-b'], 'and it never leads again');
  await sim.stop('replica-a');
  t.same(sim.violations, []);
});

t.test('every admitted host gets a flows group, elected like a network: one writer per switch, and the next one after a kill', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150, 'replica-c': 100 }, {}, [NET]);
  await sim.store.commit([
    put('host', 'hv1', { name: 'hv1', state: 'admitted', encap: 'vxlan', bridge: 'br-int' }),
    put('host', 'hv2', { name: 'hv2', state: 'pending', encap: 'vxlan', bridge: 'br-int' }),
  ]);
  const HV1 = flowsGroup('hv1');
  await sim.run(1000, [NET, HV1]);
  t.same(leaderIds(sim, HV1), ['replica-a'], 'the best replica writes hv1\'s flows');
  t.same(sim.replicas.get('replica-a')!.service.fence(HV1), { scope: 'flows:hv1', term: 1 }, 'at a term of its own scope: the switch\'s generation id');
  t.same(sim.replicas.get('replica-a')!.service.leaders().map((l) => l.network).sort(), [NET, HV1], 'a pending host has no writer to elect');
  t.same(sim.replicas.get('replica-a')!.notified, [['leader', NET, '1']], 'the notify script runs for networks only');
  t.equal(sim.replicas.get('replica-b')!.service.view().leads, 0, 'and status counts networks only');
  t.equal(sim.replicas.get('replica-a')!.service.view().leads, 1);

  await sim.store.commit([put('host', 'hv2', { name: 'hv2', state: 'admitted', encap: 'vxlan', bridge: 'br-int' })]);
  await sim.run(1000, [NET, HV1, flowsGroup('hv2')]);
  t.same(leaderIds(sim, flowsGroup('hv2')), ['replica-a'], 'admitted later, hv2 gets its writer');

  sim.kill('replica-a');
  await sim.run(1000, [NET, HV1]);
  t.same(leaderIds(sim, HV1), ['replica-b'], 'after kill -9 the next best writes hv1\'s flows');
  t.same(sim.replicas.get('replica-b')!.service.fence(HV1), { scope: 'flows:hv1', term: 2 }, 'at a newer term, so the switch refuses the old writer');

  await sim.store.commit([del('host', 'hv2')]);
  await sim.run(100);
  t.notOk(sim.replicas.get('replica-b')!.service.leaders().some((l) => l.network === flowsGroup('hv2')), 'a removed host\'s group is gone');
  t.same(sim.violations, []);
});

t.test('preempt: a better replica back from a partition takes over; nopreempt: it does not, and nothing flaps', async (t) => {
  for (const preempt of [true, false]) {
    t.test(preempt ? 'preempt' : 'nopreempt', async (t) => {
      const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150, 'replica-c': 100 }, { preempt });
      await sim.run(1000, [NET]);
      sim.net.isolate('replica-a', ['replica-b', 'replica-c']);
      sim.cutStore('replica-a', true);
      await sim.run(2000, [NET]);
      t.ok(leaderIds(sim).includes('replica-b'), 'the others elect replica-b');
      const fenceA = sim.replicas.get('replica-a')!.service.fence(NET);
      t.ok(fenceA === undefined || fenceA.term < 2, 'the cut-off replica holds no current term: its writes are fenced');
      sim.net.heal();
      sim.cutStore('replica-a', false);
      await sim.run(1000, [NET]);
      t.same(leaderIds(sim), [preempt ? 'replica-a' : 'replica-b']);
      const changes = sim.live().reduce((n, r) => n + r.events.length, 0);
      await sim.run(3000, [NET]);
      t.equal(sim.live().reduce((n, r) => n + r.events.length, 0), changes, 'no change of leader after that');
      t.same(sim.violations, []);
    });
  }
});

t.test('preempt delay: a better replica that starts later waits before taking over', async (t) => {
  const sim = await cluster(t, { 'replica-b': 150 });
  await sim.run(1000, [NET]);
  await sim.add('replica-a', { priority: 200, preemptDelayMs: 2000 });
  await sim.run(1500, [NET]);
  t.same(leaderIds(sim), ['replica-b'], 'still replica-b during the delay');
  await sim.run(1000, [NET]);
  t.same(leaderIds(sim), ['replica-a'], 'replica-a after it');
  t.same(sim.violations, []);
});

t.test('tracking: losing a host lowers the priority of its networks and moves their leadership', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 180 }, { trackWeight: 50 }, [NET, 'acme/db']);
  await sim.run(1000, [NET, 'acme/db']);
  t.same(leaderIds(sim), ['replica-a']);
  t.same(leaderIds(sim, 'acme/db'), ['replica-a']);
  sim.replicas.get('replica-a')!.service.track('ovsdb:hv1', false, [NET]);
  await sim.run(1000, [NET, 'acme/db']);
  t.same(leaderIds(sim), ['replica-b'], 'the network on the lost host moves');
  t.same(leaderIds(sim, 'acme/db'), ['replica-a'], 'the other one does not');
  sim.replicas.get('replica-a')!.service.track('ovsdb:hv1', true, [NET]);
  await sim.run(1000, [NET]);
  t.same(leaderIds(sim), ['replica-a'], 'and comes back when the host does (preempt)');
  t.same(sim.violations, []);
});

t.test('per-network priorities spread leadership across replicas', async (t) => {
  const nets = ['acme/one', 'acme/two', 'acme/three'];
  const sim = await Sim.create(nets);
  t.teardown(() => sim.close());
  const ids = ['replica-a', 'replica-b', 'replica-c'];
  for (const [i, id] of ids.entries()) await sim.add(id, { networkPriorities: { [nets[i]!]: 200 } });
  await sim.run(1000, nets);
  t.same(nets.map((n) => leaderIds(sim, n)), ids.map((id) => [id]));
  t.same(sim.violations, []);
});

t.test('a replica that cannot reach the store does not lead; the next one does', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150, 'replica-c': 100 });
  await sim.run(1000, [NET]);
  sim.cutStore('replica-b', true);
  sim.kill('replica-a');
  await sim.run(3000, [NET]);
  t.same(leaderIds(sim), ['replica-c']);
  t.ok(sim.replicas.get('replica-b')!.service.stats().claimErrors > 0);
  t.equal(sim.replicas.get('replica-b')!.events.filter((e) => e.type === 'leader').length, 0, 'replica-b never led');
  t.same(sim.violations, []);
});

t.test('a fenced write makes the leader step down at once', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150 });
  await sim.run(1000, [NET]);
  const a = sim.replicas.get('replica-a')!;
  a.service.fenced(NET, 1);
  t.notOk(a.service.isLeader(NET));
  t.equal(a.service.fence(NET), undefined);
  t.match(a.events.at(-1), { type: 'backup', term: 1 });
  await sim.run(2000, [NET]);
  t.equal(sim.leaders(NET).length, 1, 'someone leads again, at a new term');
  t.ok(sim.leaders(NET)[0]!.term > 1);
  t.same(sim.violations, []);
});

t.test('forged, replayed and malformed adverts are ignored and counted', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150 });
  await sim.run(1000, [NET]);
  const b = sim.replicas.get('replica-b')!;
  const forged = encodeAdvert({
    version: 1, replicaId: 'replica-z', intervalMs: INTERVAL, boot: T0, seq: 1, timestamp: sim.clock.t,
    entries: [{ network: NET, priority: 255, term: 1000, leader: true }],
  }, new TextEncoder().encode('not the shared key, but 32 bytes'));
  sim.net.inject('replica-b', forged);
  sim.net.inject('replica-b', new Uint8Array([1, 2, 3]));
  const fromA = sim.net.sent.filter((s) => s.from === 'replica-a');
  sim.kill('replica-a');
  // Replaying the dead leader's adverts does not keep it alive.
  for (let i = 0; i < 10; i++) {
    for (const s of fromA.slice(-5)) sim.net.inject('replica-b', s.bytes);
    await sim.run(INTERVAL, [NET]);
  }
  const stats = b.service.stats();
  t.equal(stats.rejected.forged, 1);
  t.equal(stats.rejected.malformed, 1);
  t.equal(stats.rejected.replayed, 50);
  t.same(leaderIds(sim), ['replica-b'], 'the forged term 1000 changed nothing and replica-b took over');
  t.equal(b.service.fence(NET)!.term, 2);
  t.same(sim.violations, []);
});

t.test('property: under loss, delay, partitions, kills, restarts and stops, terms stay unique and one leader emerges', async (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('kill' as const), who: fc.nat(3) }),
    fc.record({ kind: fc.constant('stop' as const), who: fc.nat(3) }),
    fc.record({ kind: fc.constant('restart' as const), who: fc.nat(3) }),
    fc.record({ kind: fc.constant('partition' as const), who: fc.nat(3), other: fc.nat(3) }),
    fc.record({ kind: fc.constant('storeCut' as const), who: fc.nat(3) }),
    fc.record({ kind: fc.constant('track' as const), who: fc.nat(3), ok: fc.boolean() }),
    fc.record({ kind: fc.constant('heal' as const) }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        seed: fc.nat(),
        n: fc.integer({ min: 2, max: 4 }),
        loss: fc.constantFrom(0, 0.1, 0.3),
        maxDelay: fc.constantFrom(2, 30, 150),
        preempt: fc.boolean(),
        priorities: fc.array(fc.integer({ min: 1, max: 254 }), { minLength: 4, maxLength: 4 }),
        ops: fc.array(fc.tuple(op, fc.integer({ min: 0, max: 800 })), { maxLength: 8 }),
      }),
      async (s) => {
        const nets = [NET, 'acme/db'];
        const sim = await Sim.create(nets, s.seed);
        try {
          sim.net.loss = s.loss;
          sim.net.maxDelay = s.maxDelay;
          const ids = Array.from({ length: s.n }, (_, i) => `replica-${i}`);
          const opts = (i: number): ReplicaOptions => ({ priority: s.priorities[i]!, preempt: s.preempt, trackWeight: 60 });
          for (const [i, id] of ids.entries()) await sim.add(id, opts(i));
          await sim.run(500, nets);
          for (const [o, wait] of s.ops) {
            const id = ids[('who' in o ? o.who : 0) % s.n]!;
            const r = sim.replicas.get(id)!;
            if (o.kind === 'kill' && r.alive) sim.kill(id);
            else if (o.kind === 'stop' && r.alive) await sim.stop(id);
            else if (o.kind === 'restart' && !r.alive) await sim.add(id, opts(ids.indexOf(id)));
            else if (o.kind === 'partition') sim.net.partition(id, ids[o.other % s.n]!);
            else if (o.kind === 'storeCut') sim.cutStore(id, true);
            else if (o.kind === 'track' && r.alive) r.service.track('openflow:hv1', o.ok, [NET]);
            else if (o.kind === 'heal') sim.net.heal();
            await sim.run(wait, nets);
          }
          sim.net.heal();
          sim.net.loss = 0;
          for (const id of ids) sim.cutStore(id, false);
          await sim.run(4000, nets);
          if (sim.violations.length > 0) throw new Error(sim.violations.join('; '));
          if (sim.live().length > 0) {
            for (const n of nets) {
              const leaders = sim.leaders(n);
              if (leaders.length !== 1) throw new Error(`${n}: ${leaders.length} leaders after healing`);
              const top = Math.max(...(sim.granted.get(`network:${n}`) ?? [0]));
              if (leaders[0]!.term !== top) throw new Error(`${n}: the leader holds term ${leaders[0]!.term}, the store ${top}`);
            }
          }
          return true;
        } finally {
          await sim.close();
        }
      },
    ),
    { numRuns: 25 },
  );
});

t.test('a leader cut off from its peers and the store steps down before a backup takes over, and answers nothing while cut off', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150, 'replica-c': 100 });
  await sim.run(1000, [NET]);
  const a = sim.replicas.get('replica-a')!;
  const b = sim.replicas.get('replica-b')!;
  t.ok(a.service.isLeader(NET));
  const cutAt = sim.clock.t;
  sim.net.isolate('replica-a', ['replica-b', 'replica-c']);
  sim.cutStore('replica-a', true);
  let overlap = 0;
  let aAnsweredAfter: number | undefined;
  const bound = cutAt + confirmMs(INTERVAL) + INTERVAL;
  const tookB = await sim.until(5000, () => {
    if (a.service.isLeader(NET) && b.service.isLeader(NET)) overlap++;
    if (a.service.isLeader(NET) && sim.clock.t > bound) aAnsweredAfter ??= sim.clock.t - cutAt;
    return b.service.isLeader(NET);
  }, [NET]);
  t.ok(tookB !== undefined, 'replica-b leads');
  t.equal(overlap, 0, 'never two replicas that answer for the network');
  t.equal(aAnsweredAfter, undefined, `replica-a stopped answering within ${confirmMs(INTERVAL) + INTERVAL} ms of the cut`);
  t.equal(a.service.stats().quiet, 1, 'replica-a went quiet once');
  const stepDownBound = cutAt + confirmMs(INTERVAL) + quietGraceMs(INTERVAL) + INTERVAL;
  await sim.until(stepDownBound - sim.clock.t, () => a.events.at(-1)?.type === 'backup', [NET]);
  t.match(a.events.at(-1), { type: 'backup', term: 1, reason: 'unconfirmed' }, `and stepped down within ${stepDownBound - cutAt} ms of the cut`);
  t.equal(a.service.stats().unconfirmed, 1);
  for (let i = 0; i < 20; i++) {
    await sim.run(INTERVAL, [NET]);
    t.notOk(a.service.isLeader(NET), 'still cut off: not answering');
  }
  t.notOk(a.service.view().store.reachable, 'it sees the store as unreachable');
  sim.net.heal();
  sim.cutStore('replica-a', false);
  await sim.run(2000, [NET]);
  t.ok(a.service.view().store.reachable, 'and reachable again after healing');
  t.same(leaderIds(sim), ['replica-a'], 'preempt: it leads again, at a new term');
  t.ok(a.service.fence(NET)!.term > 2);
  t.same(sim.violations, []);
});

t.test('a leader cut off from the store only keeps leading no longer than its lease; its peers then take over', async (t) => {
  const sim = await cluster(t, { 'replica-a': 200, 'replica-b': 150 });
  await sim.run(1000, [NET]);
  sim.cutStore('replica-a', true);
  await sim.run(2000, [NET]);
  t.same(leaderIds(sim), ['replica-b'], 'the store-tracked check lowered replica-a below replica-b, which can claim');
  const view = sim.replicas.get('replica-b')!.service.view();
  t.match(view.peers, [{ replicaId: 'replica-a', address: 'replica-a', live: true }]);
  t.ok(view.store.reachable);
  t.same(sim.violations, []);
});
