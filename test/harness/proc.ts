// Process plumbing shared by the OVS and namespace harnesses: argument-vector
// execution (never a shell string), waiting on foreign PIDs, and a registry of
// synchronous cleanups that also runs when the test process is interrupted.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before the child is killed; default 30 s. */
  timeout?: number;
  /** Resolve with the output instead of rejecting on a non-zero exit. */
  allowFailure?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(`${argv.join(' ')} exited ${result.code}: ${(result.stderr || result.stdout).trim()}`);
    this.name = 'CommandError';
  }
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        env: opts.env ?? process.env,
        timeout: opts.timeout ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const result = { stdout, stderr, code };
        if (err && !opts.allowFailure) reject(new CommandError([cmd, ...args], result));
        else resolve(result);
      },
    );
  });
}

/** `run` that returns stdout only. */
export async function out(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return (await run(cmd, args, opts)).stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Whether `pid` is a live process. A zombie counts as gone: daemons detach to
 * PID 1, and a container's init may reap them only seconds later, although
 * they have already released their pidfile locks and sockets.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until `pid` is gone; SIGKILLs it after `ms`. True if it left on its own. */
export async function waitGone(pid: number, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      while (alive(pid)) await sleep(10);
      return false;
    }
    await sleep(10);
  }
  return true;
}

/** Synchronous counterpart of `waitGone`, for exit handlers. */
export function waitGoneSync(pid: number, ms = 2000): void {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) spawnSync('sleep', ['0.02']);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Short random id for parallel-safe names: 5 chars of [0-9a-z]. */
export function runId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(5)].map((b) => alphabet[b % 36]).join('');
}

// Cleanups that must happen even when the process is torn down by a signal or
// exits without running tap's teardown. Each is synchronous because an 'exit'
// listener cannot wait; the normal path is the async teardown, which
// unregisters its entry when it has finished.
const cleanups = new Set<() => void>();
let installed = false;

function runCleanups(): void {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      /* best effort: keep cleaning the rest */
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  runCleanups();
  process.removeListener(sig, onSignal);
  // Re-raise so the default action (or tap's own signal-exit handler) applies.
  process.kill(process.pid, sig);
}

export function registerCleanup(fn: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runCleanups);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  }
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/**
 * Polls `fn` until it gives something other than undefined or false, and
 * throws naming `what` after `ms`; deadlines are generous because the box
 * may be busy, and an error thrown by `fn` counts as "not yet".
 */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000, every = 100): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(every);
  }
}
