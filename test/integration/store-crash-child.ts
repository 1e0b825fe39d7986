// The victim of the crash test (store-crash.ts): writes leases with many
// commits in flight and reports each one on stdout only after its commit
// resolved, until it is killed. Usage:
// node store-crash-child.js sqlite FILE NAMESPACE FIRST_SEQ ADDRESSES
// node store-crash-child.js ovsdb REMOTE[,REMOTE...] NAMESPACE FIRST_SEQ ADDRESSES
//
// Leases overwrite one another (the key is seq mod ADDRESSES), so the parent can
// also check that a later acknowledged value is never replaced by an earlier
// one. A transaction starting at a seq divisible by 5 writes three leases, so
// atomicity is exercised across the crash too. Like a DHCP leader, the child
// claims a term now and then and fences every write with the term it holds;
// writes caught behind a claim are fenced and retried under the new term.
import { writeSync } from 'node:fs';
import { openOvsdbClusterStore } from '../../src/store/ovsdb-cluster.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { FencedError, put, type Op, type Store } from '../../src/store/store.js';
import { lease, leaseKey } from '../unit/store/leases.js';

const [backend, target, namespace, first, addresses] = process.argv.slice(2);
if (!(backend === 'sqlite' || backend === 'ovsdb') || !target || !namespace || !first || !addresses) {
  throw new Error('usage: store-crash-child sqlite FILE|ovsdb REMOTES NAMESPACE FIRST_SEQ ADDRESSES');
}
const ADDRESSES = Number(addresses);
const ns = namespace;

const IN_FLIGHT = 256;

/**
 * stdout is a pipe: a line written is in the kernel's pipe buffer and survives
 * the SIGKILL. The pipe is non-blocking, so a full buffer (a busy parent)
 * means wait and retry, not lose the line.
 */
function say(line: string): void {
  let buf = Buffer.from(line);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(1, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

// The parent starts us ahead of time, while it still checks the store after
// the previous kill, and says `go` when the store is ours.
await new Promise((resolve) => process.stdin.once('data', resolve));
// A short history keeps the store small, so the parent's checks stay quick.
const store: Store =
  backend === 'sqlite'
    ? await openSqliteStore(target, { historyRevisions: 1000 })
    : await openOvsdbClusterStore({ remotes: target.split(','), historyRevisions: 1000 });
const scope = `network:${ns}-t/net`;
let term = await store.term(scope);
say('ready\n');

function fail(e: unknown): never {
  writeSync(2, `${String(e)}\n`);
  process.exit(1);
}

function claim(): void {
  store.claimTerm(scope, term).then((t) => {
    term = t;
    say(`term ${t}\n`);
    setTimeout(claim, 10);
  }, fail);
}
claim();

let seq = Number(first);
function write(mine: number, width: number): void {
  const ops: Op[] = [];
  for (let s = mine; s < mine + width; s++) {
    const l = lease(ns, s % ADDRESSES, s);
    ops.push(put('lease', leaseKey(l), l));
  }
  store.commit(ops, { fence: { scope, term } }).then(
    () => {
      say(`${mine} ${width}\n`);
      next();
    },
    (e: unknown) => (e instanceof FencedError ? write(mine, width) : fail(e)),
  );
}
function next(): void {
  const mine = seq;
  const width = mine % 5 === 0 ? 3 : 1;
  seq += width;
  write(mine, width);
}
for (let i = 0; i < IN_FLIGHT; i++) next();
