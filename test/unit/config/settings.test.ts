// Every setting resolves flag > environment > config file > default, and a bad
// value is one ConfigError naming the key and where the value came from.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import t from 'tap';
import { z } from 'zod';
import {
  addSettingOptions,
  flagValues,
  loadConfig,
  readConfigFile,
  resolveSettings,
  setting,
  SETTINGS,
} from '../../../src/config/index.js';
import { errorOf } from './config-error.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

t.test('with nothing given, every setting has its default', async (t) => {
  const { config, sources } = loadConfig({});
  t.same(config, {
    data: './var',
    store: { backend: 'sqlite' },
    logLevel: 'info',
    ovsdb: [{ scheme: 'ptcp', port: 6640 }],
    openflow: [{ scheme: 'ptcp', port: 6653 }],
    admit: [],
    controllerTargets: [],
    ovsdbProbe: 5000,
    tunnelLocalIp: true,
    openflowAudit: 60_000,
    packetInQueue: 1024,
    packetInRate: 5000,
    ovsdbTlsCert: undefined,
    ovsdbTlsKey: undefined,
    ovsdbTlsCa: undefined,
    api: { host: '127.0.0.1', port: 8080 },
    apiTlsCert: undefined,
    apiTlsKey: undefined,
    replicaId: undefined,
    peers: [],
    advertListen: { host: '127.0.0.1', port: 6656 },
    advertInterval: 200,
    advertKey: undefined,
    advertKeyFile: undefined,
    priority: 100,
    networkPriority: [],
    preempt: true,
    preemptDelay: 0,
    trackWeight: 50,
    notifyScript: undefined,
  });
  t.same(sources.data, { kind: 'default' });
});

t.test('precedence is flag > env > file > default, per setting', async (t) => {
  const path = file('prec.yaml', 'data: /file/data\nlogLevel: warn\napi: 127.0.0.1:9001\n');
  const { config, sources } = loadConfig({
    flags: { data: '/flag/data' },
    env: { WEFT_DATA: '/env/data', WEFT_LOG_LEVEL: 'debug' },
    configFile: path,
  });
  t.equal(config.data, '/flag/data', 'the flag beats env and file');
  t.equal(config.logLevel, 'debug', 'env beats the file');
  t.same(config.api, { host: '127.0.0.1', port: 9001 }, 'the file beats the default');
  t.same(config.ovsdb, [{ scheme: 'ptcp', port: 6640 }], 'the default is last');
  t.same(sources.data, { kind: 'flag', flag: '--data' });
  t.same(sources.logLevel, { kind: 'env', name: 'WEFT_LOG_LEVEL' });
  t.same(sources.api, { kind: 'file', path, key: 'api' });
});

t.test('lists: repeatable flag, comma-separated env, YAML sequence in a file', async (t) => {
  t.same(loadConfig({ flags: { ovsdb: ['ptcp:6640', 'tcp:198.19.1.1:6640,unix:/run/db.sock'] } }).config.ovsdb, [
    { scheme: 'ptcp', port: 6640 },
    { scheme: 'tcp', host: '198.19.1.1', port: 6640 },
    { scheme: 'unix', path: '/run/db.sock' },
  ]);
  t.same(loadConfig({ env: { WEFT_OPENFLOW: 'ptcp:6653:198.19.1.254, pssl:6654' } }).config.openflow, [
    { scheme: 'ptcp', port: 6653, host: '198.19.1.254' },
    { scheme: 'pssl', port: 6654 },
  ]);
  t.same(loadConfig({ env: { WEFT_OVSDB: '' } }).config.ovsdb, [], 'an empty env list means no targets');
  const path = file('lists.yaml', 'ovsdb:\n  - ptcp:6640\n  - tcp:[2001:db8::1]:6640\n');
  t.same(loadConfig({ configFile: path }).config.ovsdb, [
    { scheme: 'ptcp', port: 6640 },
    { scheme: 'tcp', host: '2001:db8::1', port: 6640 },
  ]);
});

t.test('WEFT_CONFIG names the file when --config is not given', async (t) => {
  const path = file('env.yaml', 'data: /from/env/file\n');
  t.equal(loadConfig({ env: { WEFT_CONFIG: path } }).config.data, '/from/env/file');
});

t.test('JSON config files are read as JSON', async (t) => {
  const path = file('weft.json', JSON.stringify({ logLevel: 'error', openflow: ['ptcp:6653', 'ptcp:6654'] }));
  const { config } = loadConfig({ configFile: path });
  t.equal(config.logLevel, 'error');
  t.equal(config.openflow.length, 2);
});

t.test('a bad value names the key and its source', async (t) => {
  const flag = errorOf(() => loadConfig({ flags: { ovsdb: ['ptcp:x'] } }));
  t.equal(flag.exitCode, 2);
  t.equal(flag.key, 'ovsdb');
  t.match(flag.message, /^config: invalid ovsdb from flag --ovsdb: bad target "ptcp:x"/);

  const env = errorOf(() => loadConfig({ env: { WEFT_LOG_LEVEL: 'loud' } }));
  t.match(env.message, /^config: invalid logLevel from environment variable WEFT_LOG_LEVEL: /);

  const path = file('bad.yaml', 'api: nowhere\n');
  const inFile = errorOf(() => loadConfig({ configFile: path }));
  t.equal(inFile.message.includes(`${path} key api`), true, inFile.message);
  t.same(inFile.source, { kind: 'file', path, key: 'api' });

  const wrongType = errorOf(() => loadConfig({ configFile: file('type.yaml', 'data: 42\n') }));
  t.match(wrongType.message, /invalid data from .*type\.yaml key data: /);

  for (const e of [flag, env, inFile, wrongType]) t.notMatch(e.message, /\n/, 'one line');
});

t.test('an unknown key in the file is an error naming the key and the file', async (t) => {
  const path = file('unknown.yaml', 'data: ./var\nlog-level: debug\n');
  const err = errorOf(() => loadConfig({ configFile: path }));
  t.equal(err.message, `config: unknown key "log-level" in ${path} (did you mean logLevel?)`);
  const other = errorOf(() => loadConfig({ configFile: file('unknown2.yaml', 'colour: blue\n') }));
  t.match(other.message, /unknown key "colour" in .*unknown2\.yaml$/);
});

t.test('files that are not a mapping, do not parse or do not exist are refused', async (t) => {
  t.match(errorOf(() => loadConfig({ configFile: file('list.yaml', '- a\n- b\n') })).message, /expected a mapping/);
  t.match(errorOf(() => loadConfig({ configFile: file('broken.yaml', 'data: [\n') })).message, /cannot parse .*broken\.yaml/);
  t.match(errorOf(() => loadConfig({ configFile: file('broken.json', '{"data":') })).message, /cannot parse .*broken\.json/);
  t.match(errorOf(() => loadConfig({ configFile: file('dup.yaml', 'data: a\ndata: b\n') })).message, /cannot parse .*dup\.yaml/);
  t.match(errorOf(() => readConfigFile(join(dir, 'missing.yaml'))).message, /cannot read .*missing\.yaml: ENOENT/);
  t.same(loadConfig({ configFile: file('empty.yaml', '') }).config.data, './var', 'an empty file sets nothing');
});

t.test('TLS certificate and key come together', async (t) => {
  const err = errorOf(() => loadConfig({ flags: { apiTlsCert: '/etc/weft/api.pem' } }));
  t.equal(err.key, 'apiTlsKey');
  t.match(err.message, /apiTlsKey is required when apiTlsCert is set/);
  const both = loadConfig({ env: { WEFT_API_TLS_CERT: '/c.pem', WEFT_API_TLS_KEY: '/k.pem' } }).config;
  t.equal(both.apiTlsCert, '/c.pem');
  t.equal(both.apiTlsKey, '/k.pem');
});

t.test('a new row is a new setting everywhere, without touching the loader', async (t) => {
  const table = {
    replicaId: setting({ flag: '--replica-id', arg: '<id>', env: 'WEFT_REPLICA_ID', schema: z.string().min(1), default: 'weft-1', help: 'replica id' }),
    priority: setting({ flag: '--priority', arg: '<n>', env: 'WEFT_PRIORITY', schema: z.number().int().min(1).max(254), default: 100, help: 'priority', text: 'number' }),
    preempt: setting({ flag: '--preempt', env: 'WEFT_PREEMPT', schema: z.boolean(), default: true, help: 'preempt', text: 'boolean' }),
    advertKey: setting({ flag: '--advert-key', arg: '<key>', env: 'WEFT_ADVERT_KEY', schema: z.string().min(16), help: 'key', secret: true }),
  };
  const { config } = resolveSettings(table, {
    env: { WEFT_PRIORITY: '200', WEFT_PREEMPT: 'no', WEFT_ADVERT_KEY: 'sixteen-chars-ok' },
    file: { path: '/etc/weft.yaml', data: { replicaId: 'weft-b' } },
  });
  t.same(config, { replicaId: 'weft-b', priority: 200, preempt: false, advertKey: 'sixteen-chars-ok' });

  const cmd = addSettingOptions(new Command('serve').exitOverride(), table);
  cmd.parse(['--priority', '7', '--preempt'], { from: 'user' });
  t.same(flagValues(cmd, table).flags, { priority: '7', preempt: true });
  t.match(cmd.helpInformation(), /--replica-id <id>\s+replica id \(env WEFT_REPLICA_ID, default weft-1\)/);

  const secret = errorOf(() => resolveSettings(table, { env: { WEFT_ADVERT_KEY: 'short' } }));
  t.equal(secret.message, 'config: invalid advertKey from environment variable WEFT_ADVERT_KEY', 'a secret is never echoed');
  const range = errorOf(() => resolveSettings(table, { flags: { priority: '999' } }));
  t.match(range.message, /^config: invalid priority from flag --priority: /);
});

t.test('the serve flags are generated from the table', async (t) => {
  const off = addSettingOptions(new Command('serve').exitOverride(), SETTINGS);
  off.parse(['--no-preempt'], { from: 'user' });
  t.same(flagValues(off, SETTINGS).flags, { preempt: false }, '--no-preempt turns preemption off');
  const cmd = addSettingOptions(new Command('serve').exitOverride(), SETTINGS);
  cmd.parse(['--data', '/d', '--ovsdb', 'ptcp:1', '--ovsdb', 'ptcp:2', '--api-tls-cert', 'c', '--config', 'w.yaml'], { from: 'user' });
  t.same(flagValues(cmd, SETTINGS), { flags: { data: '/d', ovsdb: ['ptcp:1', 'ptcp:2'], apiTlsCert: 'c' }, configFile: 'w.yaml' });
  const help = cmd.helpInformation();
  for (const s of Object.values(SETTINGS)) {
    t.ok(help.includes(s.flag), `help lists ${s.flag}`);
    t.ok(help.includes(s.env), `help lists ${s.env}`);
  }
  t.match(help, /default\s+ptcp:6640/);
});
