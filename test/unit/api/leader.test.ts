// leader.list answers from the election's own view, so a replica cut off
// from the store still says what it sees; the store is asked only whether a
// network the election does not know exists at all.
import t from 'tap';
import type { LeaderRow } from '../../../src/api/methods/leader.js';
import { startApi } from './harness.js';

const row: LeaderRow = { network: 'acme/web', leader: 'weft-1', term: 3, role: 'leader', answering: true, priority: 100, since: 1, peers: [] };
const leaders = { leaders: () => [row], flowWriters: () => [], replica: () => ({ replicaId: 'weft-1', election: true, leads: 1, peers: [] }) };

t.test('a network the election knows is answered without a store read; an unknown one is not found', async (t) => {
  const api = await startApi({ leaders });
  t.teardown(() => api.close());
  const client = api.http();
  let reads = 0;
  const get = api.store.get.bind(api.store);
  api.store.get = ((kind, key) => {
    reads++;
    return get(kind, key);
  }) as typeof api.store.get;

  t.match(await client.call('leader.list', { network: 'acme/web' }), { replicaId: 'weft-1', leaders: [{ network: 'acme/web', leader: 'weft-1', term: 3 }] });
  t.equal(reads, 0, 'the store was not asked');
  await t.rejects(client.call('leader.list', { network: 'acme/nope' }), { code: -32000 }, 'a network nobody knows is not found');
  t.equal(reads, 1, 'the store was asked about the unknown network only');
});
