// The election's settings: parsed rows and the checks across them.
import t from 'tap';
import { loadConfig } from '../../../src/config/index.js';
import { errorOf } from '../config/config-error.js';

t.test('peers, listener and per-network priorities parse', async (t) => {
  const { config } = loadConfig({
    env: { WEFT_PEERS: '198.19.1.2:6656,198.19.1.3:6656', WEFT_ADVERT_LISTEN: '198.19.1.1:6656', WEFT_ADVERT_KEY: 'sixteen-chars-ok', WEFT_NETWORK_PRIORITY: 'acme/web=200,acme/db=50', WEFT_PREEMPT: 'false' },
  });
  t.same(config.peers, [{ host: '198.19.1.2', port: 6656 }, { host: '198.19.1.3', port: 6656 }]);
  t.same(config.networkPriority, [{ network: 'acme/web', priority: 200 }, { network: 'acme/db', priority: 50 }]);
  t.equal(config.preempt, false);
});

t.test('bad values and missing keys are refused, the key never echoed', async (t) => {
  t.match(errorOf(() => loadConfig({ flags: { networkPriority: ['acme/web=255'] } })).message, /networkPriority/);
  t.match(errorOf(() => loadConfig({ flags: { advertInterval: '5' } })).message, /advertInterval/);
  t.equal(errorOf(() => loadConfig({ env: { WEFT_PEERS: '127.0.0.1:6657' } })).key, 'advertKey');
  const both = errorOf(() => loadConfig({ env: { WEFT_ADVERT_KEY: 'sixteen-chars-ok', WEFT_ADVERT_KEY_FILE: '/etc/weft/advert.key' } }));
  t.equal(both.key, 'advertKeyFile');
  t.notMatch(both.message, /sixteen/);
  t.equal(errorOf(() => loadConfig({ env: { WEFT_PEERS: '198.19.1.2:6656', WEFT_ADVERT_KEY: 'sixteen-chars-ok' } })).key, 'advertListen', 'loopback cannot be reached by a remote peer');
});
