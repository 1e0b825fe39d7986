// The victim of the crash test: writes leases with many commits in flight and
// reports each one on stdout only after its commit resolved, until it is
// killed. Usage: node store-crash-child.js FILE NAMESPACE FIRST_SEQ
//
// Leases overwrite one another (the key is seq mod 16384), so the parent can
// also check that a later acknowledged value is never replaced by an earlier
// one. Every few commits is a multi-lease transaction, so atomicity is
// exercised across the crash too.
import { writeSync } from 'node:fs';
import { keyOf } from '../../src/model/index.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { put, type Op } from '../../src/store/store.js';
import { lease } from '../unit/store/conformance.js';

const [file, namespace, first] = process.argv.slice(2);
if (!file || !namespace || !first) throw new Error('usage: store-crash-child FILE NAMESPACE FIRST_SEQ');
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
const store = await openSqliteStore(file);
say('ready\n');

let seq = Number(first);
function next(): void {
  const mine = seq;
  const width = mine % 5 === 0 ? 3 : 1;
  seq += width;
  const ops: Op[] = [];
  for (let s = mine; s < mine + width; s++) {
    const l = lease(ns, s % 16384, s);
    ops.push(put('lease', keyOf('lease', l), l));
  }
  store.commit(ops).then(
    () => {
      say(`${mine} ${width}\n`);
      next();
    },
    (e: unknown) => {
      writeSync(2, `commit failed: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
for (let i = 0; i < IN_FLIGHT; i++) next();
