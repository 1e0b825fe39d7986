// The example config in deploy/ is real: it loads through the real loader and
// sets every setting, so a new setting cannot be left out of it.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { loadConfig, SETTINGS } from '../../../src/config/index.js';

const example = new URL('../../../../deploy/examples/weft.yaml', import.meta.url).pathname;

t.test('deploy/examples/weft.yaml loads and is valid', async (t) => {
  const { config, sources } = loadConfig({ configFile: example });
  t.equal(config.data, '/var/lib/weft');
  t.same(config.ovsdb, [{ scheme: 'ptcp', port: 6640 }]);
  t.equal(sources.data.kind, 'file');
});

t.test('it mentions every setting, its flag and its environment variable', async (t) => {
  const text = readFileSync(example, 'utf8');
  const uncommented = text
    .split('\n')
    .map((l) => l.replace(/^# (\w+:)/, '$1'))
    .join('\n');
  const keys = Object.keys(parse(uncommented) as object);
  t.same(keys.sort(), Object.keys(SETTINGS).sort(), 'every key is set or shown commented out');
  for (const s of Object.values(SETTINGS)) {
    t.ok(text.includes(s.flag), `mentions ${s.flag}`);
    t.ok(text.includes(s.env), `mentions ${s.env}`);
  }
});

t.test('the systemd unit runs weft serve and does not restart on a config error', async (t) => {
  const unit = readFileSync(new URL('../../../../deploy/weft.service', import.meta.url), 'utf8');
  t.match(unit, /^ExecStart=.*weft serve --config \/etc\/weft\/weft\.yaml/m);
  t.match(unit, /^RestartPreventExitStatus=2$/m);
  t.match(unit, /^NoNewPrivileges=yes$/m);
});
