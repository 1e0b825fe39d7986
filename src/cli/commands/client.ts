// What every client command shares: where the daemon is, which token to use,
// how to print for people (tables) and for scripts (--json), and the exit
// codes: 0 done, 1 the server refused or could not be reached, 2 usage.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { HttpClient, RpcError, WsClient } from '../../api/client.js';

/** -32007: the change is stored, but some switches did not confirm it in time. */
const NOT_CONFIRMED = -32007;

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export interface ClientFlags {
  api?: string;
  token?: string;
  data?: string;
  ca?: string;
  json?: boolean;
}

/** Adds the connection and output flags to a command that talks to the daemon. */
export function clientCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .addOption(new Option('--api <url>', `admin API URL (default ${DEFAULT_API_URL})`).env('WEFT_API'))
    .addOption(new Option('--token <token>', 'bearer token (default: DATA/admin.token when readable)').env('WEFT_TOKEN'))
    .addOption(new Option('--data <dir>', 'data directory whose admin.token to use').env('WEFT_DATA'))
    .addOption(new Option('--ca <file>', 'PEM CA certificate to trust for an https:// API (besides the system CAs)').env('WEFT_CA'))
    .option('--json', 'print JSON for scripts instead of tables');
}

export function flagsOf(cmd: Command): ClientFlags {
  return cmd.optsWithGlobals<ClientFlags>();
}

function tokenOf(flags: ClientFlags): string | undefined {
  if (flags.token) return flags.token;
  try {
    return readFileSync(join(flags.data ?? './var', 'admin.token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function connection(flags: ClientFlags): { url: string; token?: string; ca?: Buffer } {
  const url = flags.api ?? DEFAULT_API_URL;
  const token = tokenOf(flags);
  return {
    url,
    ...(token === undefined ? {} : { token }),
    ...(flags.ca === undefined ? {} : { ca: readFileSync(flags.ca) }),
  };
}

/** A usage error: commander prints it and the program exits 2. */
export function usage(cmd: Command, message: string): never {
  cmd.error(`error: ${message}`, { exitCode: 2, code: 'weft.usage' });
}

/** Prints a refusal with the fields it names, and sets exit status 1. */
function report(err: unknown, flags: ClientFlags, url: string): void {
  process.exitCode = 1;
  if (err instanceof RpcError) {
    if (flags.json) process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message, ...(err.data ? { data: err.data } : {}) } })}\n`);
    process.stderr.write(`weft: ${err.message} (${err.code})\n`);
    for (const i of err.data?.issues ?? []) process.stderr.write(`  ${i.path || '(params)'}: ${i.message}\n`);
    if (err.code === NOT_CONFIRMED && Array.isArray(err.data?.waited)) process.stderr.write(waitedText(err.data.waited as Waited[]));
    return;
  }
  const e = err as NodeJS.ErrnoException;
  const why = e.code ?? e.message;
  process.stderr.write(`weft: cannot reach the API at ${url}: ${why}\n`);
}

/** Runs one call and prints its result with `render` (or as JSON). */
export async function call<T>(cmd: Command, method: string, params: object, render: (result: T) => string): Promise<void> {
  const flags = flagsOf(cmd);
  const conn = connection(flags);
  const waitTimeout = (params as { waitTimeout?: unknown }).waitTimeout;
  // A call with --wait may take its whole wait timeout: the HTTP call must outlast it.
  const client = new HttpClient(typeof waitTimeout === 'number' ? { ...conn, timeout: Math.max(30_000, waitTimeout + 10_000) } : conn);
  try {
    const result = await client.call<T>(method, params);
    process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : ensureNewline(render(result)));
  } catch (err) {
    report(err, flags, conn.url);
  } finally {
    await client.close();
  }
}

/** Streams notifications after one call over a WebSocket, until interrupted. */
export async function stream(cmd: Command, method: string, params: object, onNotification: (method: string, params: unknown, json: boolean) => void): Promise<void> {
  const flags = flagsOf(cmd);
  const conn = connection(flags);
  let client: WsClient;
  try {
    client = await WsClient.connect(conn);
  } catch (err) {
    return report(err, flags, conn.url);
  }
  client.onNotification((m, p) => onNotification(m, p, flags.json === true));
  try {
    await client.call(method, params);
  } catch (err) {
    await client.close();
    return report(err, flags, conn.url);
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      void client.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    client.socket.once('close', () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    });
  });
}

function ensureNewline(s: string): string {
  return s === '' || s.endsWith('\n') ? s : `${s}\n`;
}

/** A plain text table: a header row and aligned columns. */
export function table(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** `acme/web` into its tenant and network, or a usage error. */
export function networkRef(cmd: Command, ref: string): { tenant: string; name: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(ref);
  if (!m) usage(cmd, `expected TENANT/NETWORK, got ${JSON.stringify(ref)}`);
  return { tenant: m[1]!, name: m[2]! };
}

export function integer(cmd: Command, flag: string, value: string): number {
  if (!/^[0-9]+$/.test(value)) usage(cmd, `${flag} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** One switch's answer to `--wait`, as the API's `waited` gives it. */
export interface Waited {
  host: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface WaitFlags {
  wait?: boolean;
  waitTimeout?: string;
}

/** Adds `--wait` and `--wait-timeout` to a command whose change reaches the switches. */
export function waitOptions(cmd: Command): Command {
  return cmd
    .option('--wait', 'return once every affected switch confirmed the change (like ovn-nbctl --wait=hv); exit 1 naming the hosts that did not')
    .option('--wait-timeout <seconds>', 'how long --wait waits (default 10)');
}

/** The `wait`/`waitTimeout` params of the flags, or none without `--wait`. */
export function waitParams(cmd: Command, o: WaitFlags): { wait?: true; waitTimeout?: number } {
  if (o.waitTimeout !== undefined && !o.wait) usage(cmd, '--wait-timeout needs --wait');
  if (!o.wait) return {};
  if (o.waitTimeout === undefined) return { wait: true };
  if (!/^[0-9]+(\.[0-9]+)?$/.test(o.waitTimeout) || Number(o.waitTimeout) <= 0 || Number(o.waitTimeout) > 600) usage(cmd, `--wait-timeout must be seconds, more than 0 and at most 600, got ${JSON.stringify(o.waitTimeout)}`);
  return { wait: true, waitTimeout: Math.max(1, Math.round(Number(o.waitTimeout) * 1000)) };
}

/** One line per switch that had to change: `hv1  ok  12 ms`, or `hv2  not confirmed  10000 ms  (why)`. */
export function waitedText(waited: readonly Waited[]): string {
  if (waited.length === 0) return 'no switch had to change\n';
  const sorted = [...waited].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const width = Math.max(...sorted.map((w) => w.host.length));
  return sorted.map((w) => `${w.host.padEnd(width)}  ${w.ok ? 'ok' : 'not confirmed'}  ${w.ms} ms${w.error ? `  (${w.error})` : ''}\n`).join('');
}

/** `render`'s text, then with `--wait` each switch's confirmation. */
export function withWaited<T extends { waited?: Waited[] }>(render: (result: T) => string): (result: T) => string {
  return (r) => {
    const text = ensureNewline(render(r));
    return r.waited === undefined ? text : `${text}${waitedText(r.waited)}`;
  };
}
