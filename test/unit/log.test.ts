// Logs are JSON lines at the configured level, and secrets never reach them.
import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger } from '../../src/log.js';

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

t.test('one JSON object per line, level by name, at or above the configured level', async (t) => {
  const out = capture();
  const log = createLogger({ level: 'info', pretty: false, destination: out.stream });
  log.debug('hidden');
  log.info({ network: 'acme/web' }, 'ready');
  const lines = out.lines();
  t.equal(lines.length, 1);
  t.match(lines[0], { level: 'info', msg: 'ready', network: 'acme/web' });
});

t.test('tokens, secrets, passwords and auth headers are redacted at any depth', async (t) => {
  const out = capture();
  const log = createLogger({ level: 'info', pretty: false, destination: out.stream });
  log.info({ token: 'tok-1', call: { secret: 's3', params: { password: 'pw' } }, req: { headers: { authorization: 'Bearer x' } }, key: 'acme/web' }, 'call');
  const text = JSON.stringify(out.lines());
  for (const secret of ['tok-1', 's3', '"pw"', 'Bearer x']) t.notOk(text.includes(secret), `${secret} is not logged`);
  t.ok(text.includes('acme/web'), 'a store key is not a secret');
});
