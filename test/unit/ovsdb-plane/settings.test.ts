// The OVSDB plane's tunnelLocalIp setting: on unless turned off by flag,
// environment or file (LAB.md pitfall 15: on OVS's dummy datapath a tunnel
// with options:local_ip fails routing).
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { addSettingOptions, flagValues, loadConfig, SETTINGS } from '../../../src/config/index.js';

t.test('tunnelLocalIp is on by default', async (t) => {
  t.equal(loadConfig({}).config.tunnelLocalIp, true);
});

t.test('--no-tunnel-local-ip turns it off; without the flag the default stands', async (t) => {
  const off = addSettingOptions(new Command('serve').exitOverride(), SETTINGS);
  off.parse(['--no-tunnel-local-ip'], { from: 'user' });
  t.equal(loadConfig({ flags: flagValues(off, SETTINGS).flags }).config.tunnelLocalIp, false);
  const none = addSettingOptions(new Command('serve').exitOverride(), SETTINGS);
  none.parse([], { from: 'user' });
  t.same(flagValues(none, SETTINGS).flags, {}, 'not given: no flag value');
  t.equal(loadConfig({ flags: flagValues(none, SETTINGS).flags }).config.tunnelLocalIp, true);
});

t.test('the environment and the config file can turn it off', async (t) => {
  t.equal(loadConfig({ env: { WEFT_TUNNEL_LOCAL_IP: 'false' } }).config.tunnelLocalIp, false);
  t.equal(loadConfig({ env: { WEFT_TUNNEL_LOCAL_IP: 'true' } }).config.tunnelLocalIp, true);
  t.throws(() => loadConfig({ env: { WEFT_TUNNEL_LOCAL_IP: 'maybe' } }), /tunnelLocalIp/);
  const dir = mkdtempSync(join(tmpdir(), 'weft-settings-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'weft.yaml');
  writeFileSync(file, 'tunnelLocalIp: false\n');
  t.equal(loadConfig({ configFile: file }).config.tunnelLocalIp, false);
});
