// The settings of `weft serve`: one row each. A later plane adds its settings
// here (and, when they depend on each other, a cross check); the loader, the
// flags, the environment variables, the config-file keys and the help text
// follow from the row. The config-file key is the row's name.
import { z } from 'zod';
import { setting, type ConfigOf, type CrossCheck } from './setting.js';
import { DEFAULT_API_LISTEN, parseListen, parseTarget, TargetError, type Listen, type Target } from './target.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function parsed<T>(parse: (s: string) => T) {
  return z.string().transform((s, ctx): T => {
    try {
      return parse(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof TargetError ? err.message : String(err) });
      return z.NEVER;
    }
  });
}

/** An OVS connection target string, checked and parsed. */
export const TargetSetting: z.ZodType<Target, string> = parsed(parseTarget);
/** A `HOST:PORT` listener string, checked and parsed. */
export const ListenSetting: z.ZodType<Listen, string> = parsed(parseListen);

const Path = z.string().min(1, 'must not be empty');

export const SETTINGS = {
  data: setting({
    flag: '--data',
    arg: '<dir>',
    env: 'WEFT_DATA',
    schema: Path,
    default: './var',
    help: 'data directory (the store is DIR/weft.db)',
  }),
  logLevel: setting({
    flag: '--log-level',
    arg: '<level>',
    env: 'WEFT_LOG_LEVEL',
    schema: z.enum(LOG_LEVELS),
    default: 'info',
    help: `log level: ${LOG_LEVELS.join(', ')}`,
  }),
  ovsdb: setting({
    flag: '--ovsdb',
    arg: '<target>',
    env: 'WEFT_OVSDB',
    schema: z.array(TargetSetting),
    default: ['ptcp:6640'],
    text: 'list',
    help: 'OVSDB targets: ptcp:PORT[:IP], pssl:PORT[:IP], punix:PATH to listen, tcp:IP:PORT, ssl:IP:PORT, unix:PATH to dial (repeatable)',
  }),
  openflow: setting({
    flag: '--openflow',
    arg: '<target>',
    env: 'WEFT_OPENFLOW',
    schema: z.array(TargetSetting),
    default: ['ptcp:6653'],
    text: 'list',
    help: 'OpenFlow targets, same syntax as --ovsdb (repeatable)',
  }),
  api: setting({
    flag: '--api',
    arg: '<host:port>',
    env: 'WEFT_API_LISTEN',
    schema: ListenSetting,
    default: DEFAULT_API_LISTEN,
    help: 'admin API listener (JSON-RPC over HTTP and WebSocket)',
  }),
  apiTlsCert: setting({
    flag: '--api-tls-cert',
    arg: '<file>',
    env: 'WEFT_API_TLS_CERT',
    schema: Path.optional(),
    help: 'PEM certificate for the admin API (serves https/wss; needs --api-tls-key)',
  }),
  apiTlsKey: setting({
    flag: '--api-tls-key',
    arg: '<file>',
    env: 'WEFT_API_TLS_KEY',
    schema: Path.optional(),
    help: 'PEM private key for the admin API (needs --api-tls-cert)',
  }),
};

export type Settings = typeof SETTINGS;
export type Config = ConfigOf<Settings>;

export const CROSS_CHECKS: CrossCheck<Settings>[] = [
  (c) => (c.apiTlsCert !== undefined && c.apiTlsKey === undefined ? { key: 'apiTlsKey', message: 'is required when apiTlsCert is set' } : undefined),
  (c) => (c.apiTlsKey !== undefined && c.apiTlsCert === undefined ? { key: 'apiTlsCert', message: 'is required when apiTlsKey is set' } : undefined),
];
