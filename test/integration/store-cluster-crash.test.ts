// The crash test (store-crash.ts) on the clustered store: the child, a weft
// replica, writes to a three-member cluster and is killed WEFT_CRASH_KILLS
// times (default 20). A client dying mid-transact must neither lose an
// acknowledged write nor leave part of a transaction; one client of the
// cluster checks it after every kill.
import t from 'tap';
import { openOvsdbClusterStore } from '../../src/store/ovsdb-cluster.js';
import { Cluster } from '../harness/cluster.js';
import { OVS, requirement } from '../harness/require.js';
import { crashTest } from './store-crash.js';

const KILLS = Number(process.env.WEFT_CRASH_KILLS ?? 20);

t.test(`acknowledged lease writes survive ${KILLS} kills of the writer with SIGKILL`, requirement(OVS), async (t) => {
  const cluster = await Cluster.start();
  t.teardown(() => cluster.teardown());
  const store = await openOvsdbClusterStore({ remotes: cluster.remotes });
  t.teardown(() => store.close());
  await crashTest(t, {
    store: ['ovsdb', cluster.remotes.join(',')],
    kills: KILLS,
    maxDelayMs: { afterReady: 1000, afterGo: 300 },
    inspect: (use) => use(store),
    survived: 'passed its check',
    readies: 'connected',
  });
});
