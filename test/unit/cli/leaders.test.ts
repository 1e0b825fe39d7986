// What `weft leaders` prints, without a daemon.
import t from 'tap';
import { leaderTable } from '../../../src/cli/commands/leader.js';

const since = Date.UTC(2026, 10, 23, 19);
const peers = [{ replicaId: 'replica-2', priority: 100, live: true }, { replicaId: 'replica-3', priority: 50, live: false }];

t.test('weft leaders: one row per network; a leader whose term is not confirmed in time shows as quiet', async (t) => {
  t.equal(
    leaderTable([
      { name: 'acme/web', leader: 'replica-1', term: 4, role: 'leader', answering: true, priority: 100, since, peers },
      { name: 'acme/db', leader: 'replica-1', term: 2, role: 'leader', answering: false, priority: 100, since, peers },
      { name: 'acme/bulk', leader: null, term: 7, role: 'backup', answering: false, priority: 100, since, peers: [] },
    ]),
    [
      'NETWORK    LEADER     TERM  ROLE            PRIORITY  SINCE                 PEERS',
      'acme/web   replica-1  4     leader          100       2026-11-23T19:00:00Z  replica-2=100, replica-3=50 (dead)',
      'acme/db    replica-1  2     leader (quiet)  100       2026-11-23T19:00:00Z  replica-2=100, replica-3=50 (dead)',
      'acme/bulk  -          7     backup          100       2026-11-23T19:00:00Z',
      '',
    ].join('\n'),
  );
});
