// The daemon's lifecycle as an operator sees it: `weft serve` as a real
// process starts, says it is ready, stops cleanly on SIGTERM, keeps its data
// across restarts, and refuses bad input with one line and exit status 2.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { MIGRATIONS, openSqliteStore } from '../../src/store/sqlite.js';
import { put } from '../../src/store/store.js';
import { apiAddress, cli, killAll, LOOPBACK_LISTENERS, Proc, root, serve, weft } from '../harness/daemon.js';

const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

const tmp = mkdtempSync(join(tmpdir(), 'weft-daemon-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
// Whatever happens to the test, no daemon outlives it.
t.teardown(killAll);
let seq = 0;
const fresh = (name: string) => join(tmp, `${name}-${++seq}`);

t.test('serve starts on a fresh data dir, and SIGTERM stops it with status 0', async (t) => {
  const data = fresh('data');
  const daemon = await serve(data);
  t.match(apiAddress(daemon.line), /^http:\/\/127\.0\.0\.1:\d+\/rpc$/, 'ready names the API listener');
  t.ok(existsSync(join(data, 'weft.db')), 'the store is DATA/weft.db');
  const exit = await daemon.stop();
  t.same(exit, { code: 0, signal: null }, daemon.process.stderr());
  t.ok(daemon.process.logLines().some((l) => l.msg === 'stopped'), 'it says it stopped');
});

t.test('SIGINT stops it with status 0 too', async (t) => {
  const daemon = await serve(fresh('data'));
  t.same(await daemon.stop('SIGINT'), { code: 0, signal: null });
});

t.test('a restart on the same data dir keeps the data', async (t) => {
  const data = fresh('data');
  const first = await serve(data);
  t.equal((await first.stop()).code, 0);

  const store = await openSqliteStore(join(data, 'weft.db'));
  await store.commit([put('tenant', 'acme', { name: 'acme', description: 'written between runs' })]);
  await store.close();

  const second = await serve(data);
  t.equal((await second.stop()).code, 0);

  const after = await openSqliteStore(join(data, 'weft.db'));
  t.teardown(() => after.close());
  t.match(await after.get('tenant', 'acme'), { value: { name: 'acme', description: 'written between runs' } });
  t.equal(await after.count('tenant'), 1);
  t.equal((await after.check()).ok, true, 'the store is intact');
});

t.test('settings come from env and config file as well as flags', async (t) => {
  const data = fresh('data');
  const file = join(tmp, 'good.yaml');
  writeFileSync(file, `data: ${data}\nlogLevel: warn\n`);
  const run = weft(['serve', '--config', file], { WEFT_API_LISTEN: '127.0.0.1:0', WEFT_OPENFLOW: 'ptcp:0:127.0.0.1', WEFT_LOG_LEVEL: 'info' });
  await run.ready();
  t.ok(existsSync(join(data, 'weft.db')), 'data from the file');
  t.equal((await run.stop()).code, 0);
});

t.test('a second daemon runs beside the first through `npm run -s weft`', async (t) => {
  const first = await serve(fresh('data'));
  const second = new Proc('npm', ['run', '-s', 'weft', '--', 'serve', '--data', fresh('data'), ...LOOPBACK_LISTENERS], { detached: true });
  const line = await second.ready();
  t.not(apiAddress(line), apiAddress(first.line), 'each has its own API listener');
  await second.stop();
  t.ok(second.logLines().some((l) => l.msg === 'stopped'), 'the second daemon stopped cleanly');
  t.equal((await first.stop()).code, 0, 'the first one was unaffected');
});

t.test('bad input: one line on stderr, status 2, nothing half-written', async (t) => {
  const exits = async (args: string[], pattern: RegExp, env?: NodeJS.ProcessEnv, run = weft(args, env)) => {
    const { code } = await run.exit;
    t.equal(code, 2, `${args.join(' ')} exits 2`);
    t.match(run.stderr(), pattern);
    t.equal(run.stderr().trim().split('\n').length, 1, 'in one line');
    return run;
  };

  await t.test('a bad value in the config file names the key and the file', async (t) => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(file, 'logLevel: loud\n');
    await exits(['serve', '--config', file, '--data', fresh('data')], new RegExp(`invalid logLevel from ${file} key logLevel`));
    const unknown = join(tmp, 'unknown.yaml');
    writeFileSync(unknown, 'dataDir: /tmp\n');
    await exits(['serve', '--config', unknown], new RegExp(`unknown key "dataDir" in ${unknown}`));
    t.end();
  });

  await t.test('a bad flag or env value names the flag or the variable', async (t) => {
    await exits(['serve', '--ovsdb', 'ptcp:99999'], /invalid ovsdb from flag --ovsdb: bad target "ptcp:99999"/);
    await exits(['serve', '--data', fresh('data')], /invalid api from environment variable WEFT_API_LISTEN/, { WEFT_API_LISTEN: 'everywhere' });
    t.end();
  });

  await t.test('an unknown flag', async (t) => {
    await exits(['serve', '--colour', 'blue'], /unknown option '--colour'/);
    await exits(['--frobnicate'], /unknown option '--frobnicate'/);
    t.end();
  });

  await t.test('an unwritable data dir names the path', async (t) => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    await exits(['serve', '--data', join(file, 'data'), ...LOOPBACK_LISTENERS], new RegExp(`data directory ${join(file, 'data')} is not writable`));
    const locked = mkdtempSync(join(tmpdir(), 'weft-locked-'));
    t.teardown(() => rmSync(locked, { recursive: true, force: true }));
    chmodSync(locked, 0o555);
    // Root writes through any mode bits, so as root (CI) the daemon runs as
    // nobody, without tap's NODE_OPTIONS hook, which would write into root's .tap/.
    const args = ['serve', '--data', locked, ...LOOPBACK_LISTENERS];
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'NODE_OPTIONS', process.execPath, cli, ...args];
    await exits(args, new RegExp(`data directory ${locked} is not writable: EACCES`), undefined, process.getuid?.() === 0 ? new Proc('setpriv', asNobody) : weft(args));
    t.end();
  });

  await t.test('a port in use names the listener and the address', async (t) => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
    const { port } = blocker.address() as AddressInfo;
    const data = fresh('data');
    await exits(['serve', '--data', data, '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1', '--api', `127.0.0.1:${port}`], new RegExp(`api listener 127\\.0\\.0\\.1:${port}: address already in use`));
    t.notOk(existsSync(data), 'the data dir it created is gone again');
    t.end();
  });

  await t.test('a second daemon on the same data directory, which would answer DHCP beside the first', async (t) => {
    const data = fresh('data');
    const first = await serve(data);
    await exits(['serve', '--data', data, ...LOOPBACK_LISTENERS], /weft\.db is in use by another process/);
    t.equal((await first.stop()).code, 0, 'the first one was unaffected');
    t.end();
  });

  await t.test('a store written by a newer weft', async (t) => {
    const data = fresh('data');
    mkdirSync(data);
    const newer = await openSqliteStore(join(data, 'weft.db'), { migrations: [...MIGRATIONS, []] });
    await newer.close();
    const before = readFileSync(join(data, 'weft.db'));
    await exits(['serve', '--data', data, ...LOOPBACK_LISTENERS], /written by a newer weft/);
    t.ok(readFileSync(join(data, 'weft.db')).equals(before), 'the store file is untouched');
    t.end();
  });
});

t.test('--version, --help and serve --help', async (t) => {
  const v = weft(['--version']);
  t.equal((await v.exit).code, 0);
  t.equal(v.stdout().trim(), version);

  const help = weft(['--help']);
  t.equal((await help.exit).code, 0);
  t.match(help.stdout(), /Usage: weft/);
  t.match(help.stdout(), /serve/);

  const serveHelp = weft(['serve', '--help']);
  t.equal((await serveHelp.exit).code, 0);
  for (const [flag, env] of [
    ['--data', 'WEFT_DATA'],
    ['--log-level', 'WEFT_LOG_LEVEL'],
    ['--ovsdb', 'WEFT_OVSDB'],
    ['--openflow', 'WEFT_OPENFLOW'],
    ['--api', 'WEFT_API_LISTEN'],
    ['--api-tls-cert', 'WEFT_API_TLS_CERT'],
    ['--api-tls-key', 'WEFT_API_TLS_KEY'],
    ['--config', 'WEFT_CONFIG'],
  ] as const) {
    t.ok(serveHelp.stdout().includes(flag) && serveHelp.stdout().includes(env), `lists ${flag} and ${env}`);
  }
  t.match(serveHelp.stdout(), /default\s+ptcp:6640/);
});
