// Three `weft serve` replicas on loopback, one store (a 3-member ovsdb-server
// Raft cluster), adverts every 100 ms: one replica leads a network and all
// agree; after kill -9 of the leader another leads; a graceful stop hands
// over; forged and malformed adverts are ignored and counted. The gaps are
// reported, not asserted (no timing assertions); `npm run bench -- ha`
// measures them.
import { createSocket } from 'node:dgram';
import t from 'tap';
import { encodeAdvert } from '../../protocols/advert/index.js';
import { sleep } from '../harness/proc.js';
import { OVS, requirement } from '../harness/require.js';
import { Replicas } from './election-replicas.js';

const NET = 'acme/web';

interface ReplicaStatus {
  replicaId: string;
  election: boolean;
  peers: { replicaId: string; live: boolean }[];
  store: { reachable: boolean };
  adverts: { sent: number; received: number; rejected: Record<string, number> };
}

async function agreed(set: Replicas): Promise<number> {
  for (let tries = 0; ; tries++) {
    const leaders = await set.selfLeaders(NET);
    const seen = await Promise.all(set.alive().map((i) => set.leaderSeenBy(i, NET).then((r) => r?.leader)));
    if (leaders.length === 1 && seen.every((id) => id === set.replicas[leaders[0]!]!.id)) return leaders[0]!;
    if (tries > 600) throw new Error(`no agreed leader: ${JSON.stringify({ leaders, seen })}`);
    await sleep(50);
  }
}

t.test('three replicas on one clustered store elect one leader per network and fail over', requirement(OVS), async (t) => {
  const set = await Replicas.start({ intervalMs: 100 });
  t.teardown(() => set.teardown());

  await set.rpc(1, 'tenant.create', { name: 'acme' });
  await set.rpc(1, 'network.create', { tenant: 'acme', name: 'web', vlan: 11 });

  const first = await agreed(set);
  t.pass(`${set.replicas[first]!.id} leads ${NET}, and every replica says so`);
  const status = await set.rpc<{ replica: ReplicaStatus }>(first, 'status');
  t.ok(status.replica.election, 'status shows the election');
  t.same(status.replica.peers.map((p) => p.live), [true, true], 'the leader sees both peers live');
  t.ok(status.replica.store.reachable, 'and the store reachable');

  // kill -9 of the leader: another replica leads.
  const killedAt = performance.now();
  await set.kill(first, 'SIGKILL');
  const second = await set.waitNewLeader(NET, first, killedAt);
  t.not(second.index, first, `after kill -9, ${set.replicas[second.index]!.id} leads`);
  t.comment(`fail-over gap after kill -9 at a 100 ms interval: ${second.gapMs.toFixed(0)} ms (polled leader.list)`);
  t.equal((await set.selfLeaders(NET)).length, 1, 'exactly one live replica leads');

  // Graceful stop of the new leader: the last one takes over after its skew time.
  const stoppedAt = performance.now();
  t.equal((await set.kill(second.index, 'SIGTERM')).code, 0, 'the stopped leader exits cleanly');
  const third = await set.waitNewLeader(NET, second.index, stoppedAt);
  t.comment(`handover gap after SIGTERM at a 100 ms interval: ${third.gapMs.toFixed(0)} ms (includes the stopping daemon's own shutdown)`);
  t.match(set.log(second.index), /"reason":"shutdown"/, 'the stopped leader logged its step-down');

  // Forged adverts at the remaining replica: random bytes, and a well-formed advert under another key.
  const target = third.index;
  const before = (await set.rpc<{ replica: ReplicaStatus }>(target, 'status')).replica.adverts.rejected;
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const send = (bytes: Uint8Array) => new Promise<void>((resolve) => sock.send(bytes, set.replicas[target]!.advertPort, '127.0.0.1', () => resolve()));
  for (let i = 0; i < 5; i++) await send(crypto.getRandomValues(new Uint8Array(64 + i)));
  const forged = encodeAdvert({
    version: 1, replicaId: 'replica-9', intervalMs: 100, boot: Date.now(), seq: 1, timestamp: Date.now(),
    entries: [{ network: NET, priority: 254, term: 1_000_000, leader: true }],
  }, new TextEncoder().encode('not the shared advert key, 32 b.'));
  for (let i = 0; i < 3; i++) await send(forged);
  let after = before;
  for (let tries = 0; tries < 100; tries++) {
    after = (await set.rpc<{ replica: ReplicaStatus }>(target, 'status')).replica.adverts.rejected;
    if ((after.forged ?? 0) - (before.forged ?? 0) >= 3 && (after.malformed ?? 0) + (after.forged ?? 0) - (before.malformed ?? 0) - (before.forged ?? 0) >= 8) break;
    await sleep(20);
  }
  t.equal((after.forged ?? 0) - (before.forged ?? 0) + (after.malformed ?? 0) - (before.malformed ?? 0), 8, 'the 8 bad datagrams are counted as malformed or forged');
  t.ok((after.forged ?? 0) - (before.forged ?? 0) >= 3, 'the advert under another key is counted as forged');
  const row = await set.leaderSeenBy(target, NET);
  t.equal(row?.role, 'leader', 'the forged term 1,000,000 changed nothing: it still leads');
  t.ok(row!.term < 1_000_000);
});
