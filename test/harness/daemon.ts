// `weft serve` as a real process, as operators and their scripts see it: a
// process whose output is kept, that says `ready` in its JSON log with the
// listeners it bound, serves the admin API over HTTP with the token it wrote
// to DATA/admin.token, and stops on a signal. No process outlives the test,
// also when the test process dies of a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerCleanup, sleep } from './proc.js';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
/** The compiled CLI, `weft`. */
export const cli = join(root, 'dist/src/cli/main.js');

/** Listeners on loopback with ports the kernel picks, so that tests run side by side. */
export const LOOPBACK_LISTENERS = ['--ovsdb', 'ptcp:0:127.0.0.1', '--openflow', 'ptcp:0:127.0.0.1', '--api', '127.0.0.1:0'];

export type LogLine = Record<string, unknown> & { msg?: string };
export type Exit = { code: number | null; signal: NodeJS.Signals | null };

const live = new Set<Proc>();

/**
 * SIGKILLs every process started here that still runs, and waits for them:
 * a test's teardown, so that a test that failed half-way leaves no daemon
 * behind to keep the test process alive.
 */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

/** A process whose stdout and stderr are kept; SIGKILLed by `killAll` or when the test process ends, if still running. */
export class Proc {
  readonly proc: ChildProcess;
  readonly exit: Promise<Exit>;
  private readonly group: boolean;
  private out = '';
  private err = '';

  /** `detached`: a process group of its own, which the signals go to (`npm run` and what it runs). */
  constructor(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; detached?: boolean } = {}) {
    const detached = opts.detached ?? false;
    this.group = detached;
    this.proc = spawn(cmd, args, { cwd: root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached });
    this.proc.stdout!.on('data', (b: Buffer) => (this.out += b.toString()));
    this.proc.stderr!.on('data', (b: Buffer) => (this.err += b.toString()));
    const unregister = registerCleanup(() => {
      if (this.running) this.signal('SIGKILL');
    });
    live.add(this);
    this.exit = new Promise<Exit>((resolve) =>
      this.proc.on('close', (code, signal) => {
        live.delete(this);
        unregister();
        resolve({ code, signal });
      }),
    );
  }

  stdout(): string {
    return this.out;
  }

  stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The JSON lines of its log (stdout). */
  logLines(): LogLine[] {
    return this.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  }

  /** Resolves with the `ready` log line; rejects when the process exits first or takes longer than `ms`. */
  async ready(ms = 20_000): Promise<LogLine> {
    const deadline = Date.now() + ms;
    let exited = false;
    void this.exit.then(() => (exited = true));
    for (;;) {
      const line = this.logLines().find((l) => l.msg === 'ready');
      if (line) return line;
      if (exited) throw new Error(`exited before ready: ${this.err}`);
      if (Date.now() > deadline) throw new Error(`not ready: ${this.out} ${this.err}`);
      await sleep(50);
    }
  }

  /** Sends `signal` (SIGTERM unless told) and resolves with how it exited; at once when it already has. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.running) this.signal(signal);
    return this.exit;
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.group ? -this.proc.pid! : this.proc.pid!, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  /** kill -9, as a crash or power loss would stop it. */
  kill(): Promise<Exit> {
    return this.stop('SIGKILL');
  }
}

/** `weft ARGS...` with its output kept. */
export function weft(args: string[], env?: NodeJS.ProcessEnv): Proc {
  return new Proc(process.execPath, [cli, ...args], env ? { env } : {});
}

/** The address of the `api` listener a ready line names, as `http://HOST:PORT/rpc`. */
export function apiAddress(line: LogLine): string {
  const listeners = line.listeners as { name: string; address: string }[];
  return listeners.find((l) => l.name === 'api')?.address ?? '';
}

export interface RpcAnswer<T = unknown> {
  result?: T;
  error?: { code: number; message: string; data?: unknown };
}

/** One JSON-RPC call over HTTP to the API at `api` (`http://HOST:PORT`); gives up after `timeoutMs`. */
export async function rpc<T = unknown>(api: string, token: string, method: string, params: unknown, timeoutMs = 30_000): Promise<RpcAnswer<T>> {
  const res = await fetch(`${api}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return (await res.json()) as RpcAnswer<T>;
}

/** A `weft serve` that said ready. */
export class Serve {
  constructor(
    readonly process: Proc,
    readonly data: string,
    /** Its `ready` log line. */
    readonly line: LogLine,
  ) {}

  /** The API's base URL, `http://HOST:PORT`. */
  get api(): string {
    return apiAddress(this.line).replace(/\/rpc$/, '');
  }

  /** The admin token it wrote to DATA/admin.token. */
  token(): string {
    return readFileSync(join(this.data, 'admin.token'), 'utf8').trim();
  }

  /** One JSON-RPC call over HTTP, with the admin token unless another is given. */
  rpc(method: string, params: unknown, token = this.token()): Promise<RpcAnswer> {
    return rpc(this.api, token, method, params);
  }

  /** Everything it logged, stdout and stderr. */
  log(): string {
    return this.process.stdout() + this.process.stderr();
  }

  stop(signal?: NodeJS.Signals): Promise<Exit> {
    return this.process.stop(signal);
  }

  kill(): Promise<Exit> {
    return this.process.kill();
  }
}

/**
 * Starts `weft serve --data DATA ARGS...` on loopback listeners with
 * kernel-picked ports (LOOPBACK_LISTENERS; `--ovsdb` and `--openflow` add up,
 * so `args` names no listeners) and waits for ready.
 */
export async function serve(data: string, args: string[] = [], env?: NodeJS.ProcessEnv): Promise<Serve> {
  const p = weft(['serve', '--data', data, ...LOOPBACK_LISTENERS, ...args], env);
  try {
    return new Serve(p, data, await p.ready(30_000));
  } catch (e) {
    await p.kill();
    throw e;
  }
}
