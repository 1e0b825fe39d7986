// Two election services in one process over real UDP on loopback: adverts
// cross the wire, one of them leads. No timing assertions.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createElectionService, type ElectionService } from '../../../src/election/service.js';
import { udpTransport } from '../../../src/election/transport.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { put } from '../../../src/store/store.js';
import { createSocket } from 'node:dgram';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const key = new TextEncoder().encode('loopback test key of 32 bytes...');

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 20));
}

t.test('two replicas on loopback elect one leader and hand over on a graceful stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-election-udp-'));
  const store = await openSqliteStore(join(dir, 'weft.db'));
  t.teardown(() => store.close());
  await store.commit([put('network', 'acme/web', { tenant: 'acme', name: 'web' } as never)]);
  const [pa, pb] = [await freePort(), await freePort()];
  const make = (id: string, own: number, peer: number, priority: number): ElectionService =>
    createElectionService({
      replicaId: id, key, store, log: quiet, intervalMs: 20, priority,
      transport: udpTransport({ listen: { host: '127.0.0.1', port: own }, peers: [{ host: '127.0.0.1', port: peer }] }),
    });
  const a = make('replica-a', pa, pb, 200);
  const b = make('replica-b', pb, pa, 100);
  await a.start();
  await b.start();
  t.equal(a.address(), `127.0.0.1:${pa}`);
  await until(() => a.isLeader('acme/web') && b.leaders()[0]?.leader === 'replica-a');
  t.notOk(b.isLeader('acme/web'));
  t.ok(b.stats().advertsReceived > 0 && a.stats().advertsSent > 0);
  await a.stop();
  await until(() => b.isLeader('acme/web'));
  t.same(b.fence('acme/web'), { scope: 'network:acme/web', term: 2 });
  await b.stop();
});
