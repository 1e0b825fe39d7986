// An acknowledged write survives kill -9 on the SQLite store: the crash test
// (store-crash.ts) WEFT_CRASH_KILLS times (default 50) over the same file,
// which a fresh process opens after every kill.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { crashTest } from './store-crash.js';

const KILLS = Number(process.env.WEFT_CRASH_KILLS ?? 50);

t.test(`acknowledged lease writes survive ${KILLS} kills with SIGKILL`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'store.sqlite');
  await crashTest(t, {
    store: ['sqlite', file],
    kills: KILLS,
    maxDelayMs: { afterReady: 300, afterGo: 150 },
    async inspect(use) {
      const store = await openSqliteStore(file);
      try {
        return await use(store);
      } finally {
        await store.close();
      }
    },
    survived: 'opened and passed its check',
    readies: 'opened the store',
  });
});
