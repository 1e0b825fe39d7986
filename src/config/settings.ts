// The settings of `weft serve`: one row each. A later plane adds its settings
// here (and, when they depend on each other, a cross check); the loader, the
// flags, the environment variables, the config-file keys and the help text
// follow from the row. The config-file key is the row's name.
import { z } from 'zod';
import { setting, type ConfigOf, type CrossCheck } from './setting.js';
import { parseAdmitRule, type AdmitRule } from '../ovsdb/admission.js';
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

/** An admission rule (`auto`, `cidr:BLOCK`, `cn:PATTERN`), checked and parsed. */
export const AdmitRuleSetting: z.ZodType<AdmitRule, string> = z.string().transform((s, ctx): AdmitRule => {
  try {
    return parseAdmitRule(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** An OpenFlow controller target a bridge dials: tcp: or ssl: (unix: only inside the host's rundir, LAB.md pitfall 2). */
const ControllerTarget = TargetSetting.refine((t) => t.scheme === 'tcp' || t.scheme === 'ssl' || t.scheme === 'unix', 'a controller target is tcp:IP:PORT, ssl:IP:PORT or unix:PATH');

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
  admit: setting({
    flag: '--admit',
    arg: '<rule>',
    env: 'WEFT_ADMIT',
    schema: z.array(AdmitRuleSetting),
    default: [],
    text: 'list',
    help: 'admit hosts on first contact: auto (every host, labs only), cidr:A.B.C.D/LEN (source address), cn:PATTERN (TLS client certificate CN, * and ? wildcards); others wait for host.admit (repeatable)',
  }),
  controllerTargets: setting({
    flag: '--controller-target',
    arg: '<target>',
    env: 'WEFT_CONTROLLER_TARGETS',
    schema: z.array(ControllerTarget),
    default: [],
    text: 'list',
    help: "OpenFlow controller targets set on every host's integration bridge, one per weft replica (tcp:IP:PORT, repeatable); default: the address the host's OVSDB session reached weft at, with the OpenFlow listener's port",
  }),
  ovsdbProbe: setting({
    flag: '--ovsdb-probe',
    arg: '<ms>',
    env: 'WEFT_OVSDB_PROBE',
    schema: z.number().int().min(0).max(3_600_000),
    default: 5000,
    text: 'number',
    help: 'OVSDB inactivity probe in ms: echo an idle host after this long, drop it after twice this long without an answer (0: off)',
  }),
  ovsdbTlsCert: setting({
    flag: '--ovsdb-tls-cert',
    arg: '<file>',
    env: 'WEFT_OVSDB_TLS_CERT',
    schema: Path.optional(),
    help: 'PEM certificate weft presents on pssl: and ssl: OVSDB targets (needs --ovsdb-tls-key and --ovsdb-tls-ca)',
  }),
  ovsdbTlsKey: setting({
    flag: '--ovsdb-tls-key',
    arg: '<file>',
    env: 'WEFT_OVSDB_TLS_KEY',
    schema: Path.optional(),
    help: 'PEM private key for --ovsdb-tls-cert',
  }),
  ovsdbTlsCa: setting({
    flag: '--ovsdb-tls-ca',
    arg: '<file>',
    env: 'WEFT_OVSDB_TLS_CA',
    schema: Path.optional(),
    help: "PEM CA certificate that signs the hosts' certificates; a host without a certificate from it is refused",
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
  (c) => {
    const wantsTls = c.ovsdb.some((t) => t.scheme === 'pssl' || t.scheme === 'ssl');
    const given = [c.ovsdbTlsCert, c.ovsdbTlsKey, c.ovsdbTlsCa].filter((f) => f !== undefined).length;
    if (given !== 0 && given !== 3) return { key: c.ovsdbTlsCert === undefined ? 'ovsdbTlsCert' : c.ovsdbTlsKey === undefined ? 'ovsdbTlsKey' : 'ovsdbTlsCa', message: 'ovsdbTlsCert, ovsdbTlsKey and ovsdbTlsCa go together' };
    return wantsTls && given === 0 ? { key: 'ovsdbTlsCert', message: 'is required (with ovsdbTlsKey and ovsdbTlsCa) by a pssl: or ssl: OVSDB target' } : undefined;
  },
];
