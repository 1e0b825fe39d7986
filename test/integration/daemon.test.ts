// The daemon's lifecycle as an operator sees it: `weft serve` as a real
// process starts, says it is ready, stops cleanly on SIGTERM, keeps its data
// across restarts, and refuses bad input with one line and exit status 2.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { MIGRATIONS, openSqliteStore } from '../../src/store/sqlite.js';
import { put } from '../../src/store/store.js';

const root = new URL('../../../', import.meta.url).pathname;
const cli = join(root, 'dist/src/cli/main.js');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

const tmp = mkdtempSync(join(tmpdir(), 'weft-daemon-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
const fresh = (name: string) => join(tmp, `${name}-${++seq}`);

interface Run {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Run {
  const proc = spawn(cmd, args, { cwd: root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  // Whatever happens to the test, no daemon outlives it.
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return { proc, stdout: () => out, stderr: () => err, exit };
}

function weft(args: string[], env?: NodeJS.ProcessEnv): Run {
  return launch(process.execPath, [cli, ...args], env ? { env } : {});
}

type LogLine = Record<string, unknown> & { msg?: string };

function logLines(run: Run): LogLine[] {
  return run
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** Resolves with the "ready" log line, or rejects when the process exits first or takes over 20 s. */
async function ready(run: Run): Promise<LogLine> {
  const deadline = Date.now() + 20_000;
  let exited = false;
  void run.exit.then(() => (exited = true));
  for (;;) {
    const line = logLines(run).find((l) => l.msg === 'ready');
    if (line) return line;
    if (exited) throw new Error(`exited before ready: ${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`not ready: ${run.stdout()} ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function apiAddress(line: LogLine): string {
  const listeners = line.listeners as { name: string; address: string }[];
  return listeners.find((l) => l.name === 'api')?.address ?? '';
}

async function serve(data: string, extra: string[] = []): Promise<{ run: Run; line: LogLine }> {
  const run = weft(['serve', '--data', data, '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1', '--api', '127.0.0.1:0', ...extra]);
  return { run, line: await ready(run) };
}

async function stop(run: Run, signal: NodeJS.Signals = 'SIGTERM') {
  run.proc.kill(signal);
  return run.exit;
}

t.test('serve starts on a fresh data dir, and SIGTERM stops it with status 0', async (t) => {
  const data = fresh('data');
  const { run, line } = await serve(data);
  t.match(apiAddress(line), /^http:\/\/127\.0\.0\.1:\d+\/rpc$/, 'ready names the API listener');
  t.ok(existsSync(join(data, 'weft.db')), 'the store is DATA/weft.db');
  const exit = await stop(run);
  t.same(exit, { code: 0, signal: null }, run.stderr());
  t.ok(logLines(run).some((l) => l.msg === 'stopped'), 'it says it stopped');
});

t.test('SIGINT stops it with status 0 too', async (t) => {
  const { run } = await serve(fresh('data'));
  t.same(await stop(run, 'SIGINT'), { code: 0, signal: null });
});

t.test('a restart on the same data dir keeps the data', async (t) => {
  const data = fresh('data');
  const first = await serve(data);
  t.equal((await stop(first.run)).code, 0);

  const store = await openSqliteStore(join(data, 'weft.db'));
  await store.commit([put('tenant', 'acme', { name: 'acme', description: 'written between runs' })]);
  await store.close();

  const second = await serve(data);
  t.equal((await stop(second.run)).code, 0);

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
  await ready(run);
  t.ok(existsSync(join(data, 'weft.db')), 'data from the file');
  t.equal((await stop(run)).code, 0);
});

t.test('a second daemon runs beside the first through `npm run -s weft`', async (t) => {
  const first = await serve(fresh('data'));
  const second = launch('npm', ['run', '-s', 'weft', '--', 'serve', '--data', fresh('data'), '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1', '--api', '127.0.0.1:0'], { detached: true });
  const line = await ready(second);
  t.not(apiAddress(line), apiAddress(first.line), 'each has its own API listener');
  process.kill(-second.proc.pid!, 'SIGTERM');
  await second.exit;
  t.ok(logLines(second).some((l) => l.msg === 'stopped'), 'the second daemon stopped cleanly');
  t.equal((await stop(first.run)).code, 0, 'the first one was unaffected');
});

t.test('bad input: one line on stderr, status 2, nothing half-written', async (t) => {
  const exits = async (args: string[], pattern: RegExp, env?: NodeJS.ProcessEnv) => {
    const run = weft(args, env);
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
    await exits(['serve', '--data', join(file, 'data'), '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1', '--api', '127.0.0.1:0'], new RegExp(`data directory ${join(file, 'data')} is not writable`));
    if (process.getuid?.() !== 0) {
      const locked = fresh('locked');
      mkdirSync(locked, { mode: 0o500 });
      chmodSync(locked, 0o500);
      await exits(['serve', '--data', locked, '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1', '--api', '127.0.0.1:0'], new RegExp(`data directory ${locked} is not writable: EACCES`));
    }
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
    await exits(['serve', '--data', data, '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1', '--api', '127.0.0.1:0'], /weft\.db is in use by another process/);
    t.equal((await stop(first.run)).code, 0, 'the first one was unaffected');
    t.end();
  });

  await t.test('a store written by a newer weft', async (t) => {
    const data = fresh('data');
    mkdirSync(data);
    const newer = await openSqliteStore(join(data, 'weft.db'), { migrations: [...MIGRATIONS, []] });
    await newer.close();
    const before = readFileSync(join(data, 'weft.db'));
    await exits(['serve', '--data', data, '--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1', '--api', '127.0.0.1:0'], /written by a newer weft/);
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
