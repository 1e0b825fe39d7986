// The admin API over TLS (--api-tls-cert/--api-tls-key): https and wss answer
// with the same methods and auth, a client that does not trust the
// certificate is refused by its own TLS check, and a plain-HTTP client gets
// no JSON-RPC answer from a TLS listener.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { HttpClient, WsClient } from '../../../src/api/client.js';
import { requirement } from '../../harness/require.js';
import { startApi } from './harness.js';

t.test('https and wss serve the API with a certificate from the settings', requirement({ commands: ['openssl'] }), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-api-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, 'api.crt');
  const key = join(dir, 'api.key');
  const config = join(dir, 'req.cnf');
  writeFileSync(config, '[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=127.0.0.1\n[ext]\nsubjectAltName=IP:127.0.0.1\n');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-config', config], { stdio: 'ignore' });
  const ca = readFileSync(cert);

  const api = await startApi({ tls: { cert, key } });
  t.teardown(() => api.close());
  t.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the listener is https');

  const http = new HttpClient({ url: api.url, token: api.adminToken, ca });
  t.teardown(() => http.close());
  await http.call('tenant.create', { name: 'acme' });
  t.match(await http.call('tenant.get', { name: 'acme' }), { name: 'acme' }, 'a call over https');

  const ws = await WsClient.connect({ url: api.url, token: api.adminToken, ca });
  t.teardown(() => ws.close());
  t.match(await ws.call('tenant.list'), { tenants: [{ name: 'acme' }] }, 'a call over wss');

  await t.rejects(WsClient.connect({ url: api.url, token: 'not-a-token', ca }), { code: -32002 }, 'a bad token is refused over wss too');

  const untrusting = new HttpClient({ url: api.url, token: api.adminToken });
  t.teardown(() => untrusting.close());
  await t.rejects(untrusting.call('status'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'a client that does not trust the certificate refuses it');

  const cli = join(new URL('../../../../', import.meta.url).pathname, 'dist/src/cli/main.js');
  // Asynchronously: the API answering it lives in this process.
  const { stdout: listed } = await promisify(execFile)('node', [cli, 'tenant', 'list', '--json', '--api', api.url, '--token', api.adminToken, '--ca', cert]);
  t.match(JSON.parse(listed), { tenants: [{ name: 'acme' }] }, 'the CLI trusts the certificate given with --ca');

  const plain = new HttpClient({ url: api.url.replace('https:', 'http:'), token: api.adminToken });
  t.teardown(() => plain.close());
  await t.rejects(plain.call('status'), Error, 'plain HTTP gets no JSON-RPC answer from the TLS listener');
});
