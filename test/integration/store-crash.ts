// The crash test of a store, whichever backend holds it: a child writes leases
// with many commits in flight and prints each one once its commit resolved;
// it is killed with SIGKILL at a random moment (sometimes before it even
// opened the store), many times over the same store. After every kill the
// store passes its integrity check and holds every acknowledged lease with its
// value (or a later one of the same address), no part of a transaction
// without the rest, and every acknowledged term claim.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import type { Store } from '../../src/store/store.js';
import { namespace } from '../unit/store/conformance.js';
import { lease } from '../unit/store/leases.js';

const child = join(dirname(fileURLToPath(import.meta.url)), 'store-crash-child.js');
const SEQS_PER_RUN = 10_000_000;
/** Lease addresses the children cycle through: far more than they have in flight (256 commits of up to 3). */
const ADDRESSES = 4096;

export interface CrashBackend {
  /** How the child opens the store: its first two arguments (see store-crash-child.ts). */
  store: ['sqlite', string] | ['ovsdb', string];
  kills: number;
  /** The kill lands up to this many ms after the child said ready, or after it was let go. */
  maxDelayMs: { afterReady: number; afterGo: number };
  /** Runs `use` on the store as a fresh process would find it after the kill. */
  inspect<T>(use: (store: Store) => Promise<T>): Promise<T>;
  /** What the store did after every kill, for the report: "opened and passed its check". */
  survived: string;
  /** What the child does before it says ready, for the report: "opened the store". */
  readies: string;
}

interface Outcome {
  acked: [number, number][];
  /** The last term the child's claims acknowledged. */
  term: number;
  ready: boolean;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Child {
  /** Lets the child open the store; it is killed `delayMs` after that, or after it reported ready. */
  go(delayMs: number, afterReady: boolean): Promise<Outcome>;
  kill(): void;
}

/** Starts a child that waits, loaded, for `go`: node's start-up then overlaps the parent's checks. */
function spawnChild(backend: CrashBackend, ns: string, firstSeq: number): Child {
  const p = spawn(process.execPath, [child, ...backend.store, ns, String(firstSeq), String(ADDRESSES)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Outcome = { acked: [], term: 0, ready: false, stderr: '', code: null, signal: null };
  let onReady = () => {};
  let buffered = '';
  p.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') {
        out.ready = true;
        onReady();
      } else if (line.startsWith('term ')) {
        out.term = Number(line.slice('term '.length));
      } else {
        const [s, w] = line.split(' ').map(Number);
        out.acked.push([s!, w!]);
      }
    }
  });
  p.stderr.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const closed = new Promise<Outcome>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code, signal) => {
      out.code = code;
      out.signal = signal;
      resolve(out);
    });
  });
  return {
    go(delayMs, afterReady) {
      const kill = () => setTimeout(() => p.kill('SIGKILL'), delayMs);
      if (afterReady) onReady = kill;
      else kill();
      p.stdin.write('go\n');
      return closed;
    },
    kill() {
      p.kill('SIGKILL');
    },
  };
}

/**
 * Leases of this run's three-lease transactions that are stored without their
 * siblings. The child's transactions start at `first` and take three seqs
 * when their first is divisible by five, else one.
 */
function tornTransactions(stored: Map<string, { start: number }>, first: number): string[] {
  const starts = [...stored.values()].map((l) => l.start).filter((s) => s >= first && s < first + SEQS_PER_RUN);
  const last = Math.max(first, ...starts);
  const txOf = new Map<number, number>();
  for (let cur = first; cur <= last; cur += cur % 5 === 0 ? 3 : 1) {
    for (let q = cur; q < cur + (cur % 5 === 0 ? 3 : 1); q++) txOf.set(q, cur);
  }
  const torn: string[] = [];
  for (const s of starts) {
    const tx = txOf.get(s)!;
    for (let q = tx; q < tx + (tx % 5 === 0 ? 3 : 1); q++) {
      const sibling = stored.get(lease('x', q % ADDRESSES).ip);
      if (!sibling || sibling.start < q) torn.push(`seq ${s} stored without seq ${q}`);
    }
  }
  return torn;
}

/** Kills a writer `backend.kills` times and checks the store after every kill. */
export async function crashTest(t: Test, backend: CrashBackend): Promise<void> {
  const ns = namespace();
  // The latest acknowledged seq of every address, over all runs.
  const latest = new Map<number, number>();
  let totalAcked = 0;
  let ackedTerm = 0;
  const scope = `network:${ns}-t/net`;
  let killedBeforeReady = 0;

  const spent = { child: 0, verify: 0 };
  let next = spawnChild(backend, ns, SEQS_PER_RUN);
  t.teardown(() => next.kill());
  for (let run = 0; run < backend.kills; run++) {
    const started = performance.now();
    const afterReady = run % 5 !== 0;
    const delay = Math.floor(Math.random() * (afterReady ? backend.maxDelayMs.afterReady : backend.maxDelayMs.afterGo));
    const out = await next.go(delay, afterReady);
    next = spawnChild(backend, ns, (run + 2) * SEQS_PER_RUN);
    if (out.signal !== 'SIGKILL') {
      t.fail(`run ${run}: the child ended by itself (code ${out.code}): ${out.stderr}`);
      return;
    }
    if (!out.ready) killedBeforeReady++;
    ackedTerm = Math.max(ackedTerm, out.term);
    for (const [s, w] of out.acked) {
      for (let q = s; q < s + w; q++) latest.set(q % ADDRESSES, Math.max(latest.get(q % ADDRESSES) ?? -1, q));
      totalAcked++;
    }

    const killed = performance.now();
    spent.child += killed - started;
    const { report, stored, term } = await backend.inspect(async (store) => ({
      report: await store.check(),
      stored: new Map((await store.list('lease', { prefix: `${ns}-` })).map((o) => [o.value.ip, o.value])),
      term: await store.term(scope),
    }));
    spent.verify += performance.now() - killed;
    if (!report.ok) {
      t.fail(`run ${run}: integrity check after the kill`, { problems: report.problems });
      return;
    }
    // Claims are one at a time: at most one more than acknowledged is stored.
    if (term !== ackedTerm && term !== ackedTerm + 1) {
      t.fail(`run ${run}: term ${term} stored, ${ackedTerm} acknowledged`);
      return;
    }
    const lost: string[] = [];
    for (const [i, seq] of latest) {
      const want = lease(ns, i, seq);
      const got = stored.get(want.ip);
      if (!got || got.start < seq || JSON.stringify(got) !== JSON.stringify(lease(ns, i, got.start))) {
        lost.push(`${want.ip}: acknowledged seq ${seq}, stored ${got ? got.start : 'nothing'}`);
      }
    }
    const torn = tornTransactions(stored, (run + 1) * SEQS_PER_RUN);
    if (torn.length > 0) {
      t.fail(`run ${run}: a transaction survived in part`, { torn: torn.slice(0, 10) });
      return;
    }
    if (lost.length > 0) {
      t.fail(`run ${run}: acknowledged writes lost after a kill ${delay} ms ${afterReady ? 'after ready' : 'after spawn'}`, {
        lost: lost.slice(0, 10),
        count: lost.length,
      });
      return;
    }
  }
  t.pass(`${backend.kills} kills: the store ${backend.survived} every time`);
  t.pass(`all ${totalAcked} acknowledged commits (${latest.size} addresses) were present with their values`);
  t.pass(`no transaction survived in part; every acknowledged term claim (up to ${ackedTerm}) survived`);
  t.comment(`time in children ${Math.round(spent.child)} ms, in verification ${Math.round(spent.verify)} ms`);
  t.comment(`${killedBeforeReady} kills landed before the child had ${backend.readies}`);
  t.ok(totalAcked > 0, 'the children acknowledged writes');
}
