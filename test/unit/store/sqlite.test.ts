// The embedded SQLite store: the conformance suite, then what is particular to
// it: schema versions and migrations, the integrity check, bounded history.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { keyOf } from '../../../src/model/index.js';
import { MIGRATIONS, openSqliteStore } from '../../../src/store/sqlite.js';
import { CompactedError, put, StoreError, StoreVersionError } from '../../../src/store/store.js';
import { conformance, lease, namespace } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-store-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = () => join(dir, `store-${files++}.sqlite`);

function schemaVersion(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: number }).value;
  } finally {
    db.close();
  }
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

t.test('the SQLite store passes the conformance suite', async (t) => {
  const file = freshFile();
  conformance(t, () => openSqliteStore(file));
});

t.test('a new store is created at the current schema version', async (t) => {
  const file = freshFile();
  const store = await openSqliteStore(file);
  await store.close();
  t.equal(schemaVersion(file), MIGRATIONS.length);
});

t.test('an older store is migrated on open and keeps its data', async (t) => {
  const file = freshFile();
  const ns = namespace();
  const old = await openSqliteStore(file);
  const written = await old.commit([put('lease', keyOf('lease', lease(ns, 1)), lease(ns, 1))]);
  await old.close();

  const newer = [...MIGRATIONS, [`CREATE TABLE lease_expiry (expires INTEGER, key TEXT)`, `CREATE INDEX lease_expiry_i ON lease_expiry (expires)`]];
  const store = await openSqliteStore(file, { migrations: newer });
  t.same(await store.get('lease', keyOf('lease', lease(ns, 1))), { kind: 'lease', key: keyOf('lease', lease(ns, 1)), value: lease(ns, 1), revision: written.revision }, 'the data is intact');
  await store.close();
  t.equal(schemaVersion(file), newer.length, 'the file is at the new version');
});

t.test('a failed migration leaves the store at its old version', async (t) => {
  const file = freshFile();
  await (await openSqliteStore(file)).close();
  await t.rejects(openSqliteStore(file, { migrations: [...MIGRATIONS, [`CREATE TABLE half (x)`, `THIS IS NOT SQL`]] }));
  t.equal(schemaVersion(file), MIGRATIONS.length, 'still at the old version');
  const db = new Database(file, { readonly: true });
  t.notOk(db.prepare(`SELECT 1 FROM sqlite_schema WHERE name = 'half'`).get(), 'no half-applied step');
  db.close();
});

t.test('a store written by a newer weft is refused before anything is written', async (t) => {
  const file = freshFile();
  const future = [...MIGRATIONS, [`CREATE TABLE future (x)`]];
  await (await openSqliteStore(file, { migrations: future })).close();
  const before = sha(file);
  const error = await openSqliteStore(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof StoreVersionError, 'StoreVersionError');
  t.match((error as Error).message, new RegExp(`version ${future.length}\\b.*version ${MIGRATIONS.length}\\b`), 'naming both versions');
  t.equal(sha(file), before, 'the file is unchanged');
  t.equal(schemaVersion(file), future.length);
});

t.test('the integrity check catches a value that is not JSON or does not match its key', async (t) => {
  const file = freshFile();
  const ns = namespace();
  const store = await openSqliteStore(file);
  const a = lease(ns, 1);
  const b = lease(ns, 2);
  await store.commit([put('lease', keyOf('lease', a), a), put('lease', keyOf('lease', b), b)]);
  t.same(await store.check(), { ok: true, problems: [] }, 'a healthy store passes');
  await store.close();

  const raw = new Database(file);
  raw.prepare(`UPDATE objects SET value = '{"tenant": "' WHERE key = ?`).run(keyOf('lease', a));
  raw.prepare(`UPDATE objects SET value = ? WHERE key = ?`).run(JSON.stringify({ ...b, ip: '198.18.127.1' }), keyOf('lease', b));
  raw.close();

  const reopened = await openSqliteStore(file);
  const report = await reopened.check();
  t.equal(report.ok, false);
  t.equal(report.problems.length, 2, 'two problems');
  t.match(report.problems[0], /not JSON/, 'the broken JSON');
  t.match(report.problems[1], /198\.18\.127\.1/, 'the key mismatch, with the key the value has');
  await reopened.close();
});

t.test('one process owns a store file: a second open fails at once, naming the file, until the owner closes it', async (t) => {
  const file = freshFile();
  const owner = await openSqliteStore(file);
  await t.rejects(openSqliteStore(file), { name: 'StoreError', message: /in use by another process/ });
  const raw = new Database(file, { timeout: 0 });
  t.throws(() => raw.prepare('SELECT count(*) FROM objects').get(), { code: 'SQLITE_BUSY' }, 'not even a reader gets in');
  raw.close();
  await owner.close();
  const next = await openSqliteStore(file);
  await next.close();
});

t.test('history is bounded: changesSince past it rejects with CompactedError', async (t) => {
  const file = freshFile();
  const ns = namespace();
  const store = await openSqliteStore(file, { historyRevisions: 10 });
  for (let i = 0; i < 40; i++) await store.commit([put('lease', keyOf('lease', lease(ns, i)), lease(ns, i))]);
  const rev = await store.revision();
  const e = await store.changesSince(0).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(e instanceof CompactedError, 'revision 0 is compacted');
  t.ok((e as CompactedError).oldest <= rev - 10, 'at least the promised history is kept');
  t.equal((await store.changesSince(rev - 10)).length, 10, 'the last 10 revisions are there');
  await store.close();
});

t.test('a listener that throws does not stop the others or the store', async (t) => {
  const errors: unknown[] = [];
  const store = await openSqliteStore(freshFile(), { onListenerError: (e) => errors.push(e) });
  const heard: number[] = [];
  store.watch(() => {
    throw new Error('listener bug');
  });
  store.watch((changes) => heard.push(changes[0]!.revision));
  const ns = namespace();
  const r = await store.commit([put('lease', keyOf('lease', lease(ns, 1)), lease(ns, 1))]);
  t.same(heard, [r.revision]);
  t.equal(errors.length, 1, 'the error is reported');
  await store.close();
});

t.test('a store that cannot be opened is refused with a StoreError naming the file', async (t) => {
  const missing = join(dir, 'no-such-dir', 'store.sqlite');
  await t.rejects(openSqliteStore(missing), { name: 'StoreError', message: new RegExp(`cannot open the store ${missing}`) }, 'a missing directory');
  const notADatabase = join(dir, 'garbage.sqlite');
  writeFileSync(notADatabase, 'this is a lease file, not a database\n'.repeat(100));
  const e = await openSqliteStore(notADatabase).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(e instanceof StoreError, 'a file that is not a database');
  t.match((e as Error).message, notADatabase);
});
