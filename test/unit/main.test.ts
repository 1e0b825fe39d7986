// The composition root starts planes in order, stops them in reverse (after
// the planes that hand over have done so), and on a failed start undoes everything it did; a port in use is the operator's to
// fix (StartupError, exit 2), named by plane and address.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { StartupError, startDaemon, type Plane, type PlaneFactory } from '../../src/main.js';
import { StoreVersionError, type Store } from '../../src/store/store.js';

const tmp = mkdtempSync(join(tmpdir(), 'weft-main-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const log = createLogger({ level: 'silent', pretty: false, destination: new Writable({ write: (_c, _e, done) => done() }) });

function fakeStore(events: string[]): Store {
  return { backend: 'fake', close: async () => void events.push('store closed') } as unknown as Store;
}

function plane(name: string, events: string[], start: () => Promise<void> = async () => {}): PlaneFactory {
  return (): Plane => ({
    name,
    start: async () => {
      await start();
      events.push(`${name} started`);
    },
    stop: async () => void events.push(`${name} stopped`),
    listeners: () => [{ name, address: `${name}:0` }],
  });
}

const config = (data: string) => loadConfig({ flags: { data } }).config;

t.test('planes start in order and stop in reverse, then the store closes', async (t) => {
  const events: string[] = [];
  const daemon = await startDaemon(config(join(tmp, 'a')), log, {
    openStore: async () => fakeStore(events),
    planes: [plane('ovsdb', events), plane('openflow', events), plane('api', events)],
  });
  t.same(daemon.listeners().map((l) => l.name), ['ovsdb', 'openflow', 'api']);
  await daemon.stop();
  await daemon.stop();
  t.same(events, ['ovsdb started', 'openflow started', 'api started', 'api stopped', 'openflow stopped', 'ovsdb stopped', 'store closed']);
});

t.test('a graceful stop hands over first (the election resigns) before any plane stops', async (t) => {
  const events: string[] = [];
  const resigning: PlaneFactory = (ctx) => ({ ...plane('election', events)(ctx), handOver: () => void events.push('election handed over') });
  const daemon = await startDaemon(config(join(tmp, 'h')), log, {
    openStore: async () => fakeStore(events),
    planes: [plane('openflow', events), resigning, plane('dhcp', events)],
  });
  await daemon.stop();
  t.same(events, ['openflow started', 'election started', 'dhcp started', 'election handed over', 'dhcp stopped', 'election stopped', 'openflow stopped', 'store closed']);
});

t.test('a port in use: StartupError naming plane and address, started planes stopped, created dir removed', async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const { port } = blocker.address() as AddressInfo;
  const events: string[] = [];
  const data = join(tmp, 'b', 'nested');
  const bind = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  await t.rejects(
    startDaemon(config(data), log, { openStore: async () => fakeStore(events), planes: [plane('ovsdb', events), plane('api', events, bind)] }),
    new StartupError(`api listener 127.0.0.1:${port}: address already in use`),
  );
  t.same(events, ['ovsdb started', 'ovsdb stopped', 'store closed']);
  t.notOk(existsSync(join(tmp, 'b')), 'every directory it created is gone');
});

t.test('a store from a newer weft is a StartupError', async (t) => {
  await t.rejects(
    startDaemon(config(join(tmp, 'c')), log, { openStore: async () => Promise.reject(new StoreVersionError('weft.db is version 9')), planes: [] }),
    { name: 'StartupError', message: 'store: weft.db is version 9', exitCode: 2 },
  );
});

t.test('any other plane failure is passed through as it is (a runtime failure)', async (t) => {
  const events: string[] = [];
  const boom = new Error('boom');
  await t.rejects(
    startDaemon(config(join(tmp, 'd')), log, { openStore: async () => fakeStore(events), planes: [plane('x', events, () => Promise.reject(boom))] }),
    boom,
  );
  t.same(events, ['store closed']);
});
