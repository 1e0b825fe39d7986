// Connection targets in Open vSwitch's own syntax, so an operator can paste
// what `ovs-vsctl set-manager` / `set-controller` take: passive (we listen)
// `ptcp:PORT[:IP]`, `pssl:PORT[:IP]`, `punix:PATH`, and active (we dial)
// `tcp:HOST:PORT`, `ssl:HOST:PORT`, `unix:PATH`. IPv6 addresses are written in
// brackets, as OVS writes them. Also the admin API's `HOST:PORT` listener.
// Pure: parsing and formatting only, no sockets and no name resolution.
import { isIPv4, isIPv6 } from 'node:net';

export type PassiveTarget =
  | { scheme: 'ptcp' | 'pssl'; port: number; host?: string }
  | { scheme: 'punix'; path: string };

export type ActiveTarget =
  | { scheme: 'tcp' | 'ssl'; host: string; port: number }
  | { scheme: 'unix'; path: string };

export type Target = PassiveTarget | ActiveTarget;
export type Scheme = Target['scheme'];

export const SCHEMES: readonly Scheme[] = ['ptcp', 'pssl', 'punix', 'tcp', 'ssl', 'unix'];

/** The admin API listener: a plain `HOST:PORT` (port 0 asks the kernel for a free one). */
export interface Listen {
  host: string;
  port: number;
}

export const DEFAULT_API_LISTEN = '127.0.0.1:8080';

export type TargetErrorReason = 'empty' | 'scheme' | 'port' | 'address' | 'path' | 'syntax';

/** Why a target string was refused; `input` is the string as given. */
export class TargetError extends Error {
  override name = 'TargetError';
  constructor(
    readonly reason: TargetErrorReason,
    readonly input: string,
    detail: string,
  ) {
    super(`bad target "${input}": ${detail}`);
  }
}

export function isPassive(t: Target): t is PassiveTarget {
  return t.scheme === 'ptcp' || t.scheme === 'pssl' || t.scheme === 'punix';
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parsePort(text: string, input: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(text)) throw new TargetError('port', input, `port "${text}" is not a number from ${allowZero ? 0 : 1} to 65535`);
  const port = Number(text);
  if (port > 65535 || (port === 0 && !allowZero)) {
    throw new TargetError('port', input, `port ${port} is not from ${allowZero ? 0 : 1} to 65535`);
  }
  return port;
}

/** An address as written after a scheme: IPv4, `[IPv6]`, or (when allowed) a DNS name. */
function parseHost(text: string, input: string, allowName: boolean): string {
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new TargetError('address', input, `unclosed "[" in "${text}"`);
    const inner = text.slice(1, -1);
    if (!isIPv6(inner)) throw new TargetError('address', input, `"${inner}" is not an IPv6 address`);
    return inner;
  }
  if (isIPv4(text)) return text;
  if (isIPv6(text)) throw new TargetError('address', input, `IPv6 address "${text}" must be written in brackets`);
  if (allowName && HOSTNAME.test(text) && !/^[\d.]+$/.test(text)) return text;
  throw new TargetError('address', input, `"${text}" is not an ${allowName ? 'IP address or host name' : 'IP address'}`);
}

/** Splits `HOST:PORT` where HOST may be `[v6]`; returns undefined when there is no port separator. */
function splitHostPort(text: string): [string, string] | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    return [text.slice(0, close + 1), text.slice(close + 2)];
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return undefined;
  return [text.slice(0, colon), text.slice(colon + 1)];
}

function parsePath(rest: string, input: string): string {
  if (rest === '') throw new TargetError('path', input, 'missing socket path');
  if (rest.includes('\0')) throw new TargetError('path', input, 'socket path contains a NUL byte');
  return rest;
}

/** Parses an OVS connection target; throws TargetError (and nothing else) when it is malformed. */
export function parseTarget(input: string): Target {
  if (typeof input !== 'string' || input.trim() === '') throw new TargetError('empty', String(input), 'empty target');
  const colon = input.indexOf(':');
  if (colon < 0) throw new TargetError('syntax', input, `expected SCHEME:..., one of ${SCHEMES.join(', ')}`);
  const scheme = input.slice(0, colon);
  const rest = input.slice(colon + 1);
  switch (scheme) {
    case 'punix':
    case 'unix':
      return { scheme, path: parsePath(rest, input) };
    case 'ptcp':
    case 'pssl': {
      // PORT[:IP]: the port comes first, so an IPv6 address is everything after the first colon.
      const sep = rest.indexOf(':');
      const portText = sep < 0 ? rest : rest.slice(0, sep);
      const port = parsePort(portText, input, true);
      if (sep < 0) return { scheme, port };
      const host = parseHost(rest.slice(sep + 1), input, false);
      return { scheme, port, host };
    }
    case 'tcp':
    case 'ssl': {
      const parts = splitHostPort(rest);
      if (!parts) throw new TargetError('syntax', input, `expected ${scheme}:IP:PORT`);
      const host = parseHost(parts[0], input, true);
      const port = parsePort(parts[1], input, false);
      return { scheme, host, port };
    }
    default:
      throw new TargetError('scheme', input, `unknown scheme "${scheme}", expected one of ${SCHEMES.join(', ')}`);
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The canonical OVS spelling of a target: parseTarget(formatTarget(t)) equals t. */
export function formatTarget(t: Target): string {
  switch (t.scheme) {
    case 'punix':
    case 'unix':
      return `${t.scheme}:${t.path}`;
    case 'ptcp':
    case 'pssl':
      return t.host === undefined ? `${t.scheme}:${t.port}` : `${t.scheme}:${t.port}:${formatHost(t.host)}`;
    case 'tcp':
    case 'ssl':
      return `${t.scheme}:${formatHost(t.host)}:${t.port}`;
  }
}

/** Parses the API listener `HOST:PORT` (`[v6]:PORT` for IPv6); throws TargetError. */
export function parseListen(input: string): Listen {
  if (typeof input !== 'string' || input.trim() === '') throw new TargetError('empty', String(input), 'empty listen address');
  const parts = splitHostPort(input);
  if (!parts || parts[0] === '') throw new TargetError('syntax', input, 'expected HOST:PORT');
  if ((SCHEMES as readonly string[]).includes(parts[0])) throw new TargetError('syntax', input, 'the API listener is HOST:PORT, not an OVS target');
  return { host: parseHost(parts[0], input, true), port: parsePort(parts[1], input, true) };
}

export function formatListen(l: Listen): string {
  return `${formatHost(l.host)}:${l.port}`;
}
