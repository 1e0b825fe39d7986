// The settings of `weft serve`: one row each. A later plane adds its settings
// here (and, when they depend on each other, a cross check); the loader, the
// flags, the environment variables, the config-file keys and the help text
// follow from the row. The config-file key is the row's name.
import { z } from 'zod';
import { setting, type ConfigOf, type CrossCheck } from './setting.js';
import { parseAdmitRule, type AdmitRule } from '../ovsdb/admission.js';
import { parseStoreSetting, type StoreChoice } from '../store/ovsdb-remotes.js';
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

/** The store to open: `sqlite` or `ovsdb:REMOTE[,REMOTE...]`, checked and parsed. */
export const StoreSetting: z.ZodType<StoreChoice, string> = z.string().transform((s, ctx): StoreChoice => {
  try {
    return parseStoreSetting(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

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

/** A replica id: what peers call this replica in adverts, logs and `leader.list`. */
const ReplicaId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 of letters, digits, ".", "_", "-"');

/** `TENANT/NAME=PRIORITY`: this replica's priority for one network. */
export const NetworkPrioritySetting = z.string().transform((s, ctx): { network: string; priority: number } => {
  const m = /^([a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9-]{0,62})=(\d{1,3})$/.exec(s);
  const priority = m ? Number(m[2]) : NaN;
  if (!m || priority < 1 || priority > 254) {
    ctx.addIssue({ code: 'custom', message: 'a network priority is TENANT/NAME=PRIORITY with a priority from 1 to 254' });
    return z.NEVER;
  }
  return { network: m[1]!, priority };
});

export const DEFAULT_ADVERT_LISTEN = '127.0.0.1:6656';

export const SETTINGS = {
  data: setting({
    flag: '--data',
    arg: '<dir>',
    env: 'WEFT_DATA',
    schema: Path,
    default: './var',
    help: 'data directory (the store is DIR/weft.db)',
  }),
  store: setting({
    flag: '--store',
    arg: '<store>',
    env: 'WEFT_STORE',
    schema: StoreSetting,
    default: 'sqlite',
    help: 'the store: sqlite (DATA/weft.db) or ovsdb:REMOTE[,REMOTE...], the client remotes (unix:PATH, tcp:HOST:PORT) of the ovsdb-server Raft cluster that serves the Weft database (docs/ha.md)',
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
  tunnelLocalIp: setting({
    flag: '--no-tunnel-local-ip',
    env: 'WEFT_TUNNEL_LOCAL_IP',
    schema: z.boolean(),
    default: true,
    text: 'boolean',
    help: "set options:local_ip (the host's encap IP) on weft's tunnels; turn it off for OVS's dummy datapath, where a tunnel with local_ip fails routing",
  }),
  openflowAudit: setting({
    flag: '--openflow-audit',
    arg: '<ms>',
    env: 'WEFT_OPENFLOW_AUDIT',
    schema: z.number().int().min(0).max(86_400_000),
    default: 60_000,
    text: 'number',
    help: "how often every switch's flows are read back and repaired, in ms (0: only on connect and on change)",
  }),
  packetInQueue: setting({
    flag: '--packet-in-queue',
    arg: '<n>',
    env: 'WEFT_PACKET_IN_QUEUE',
    schema: z.number().int().min(1).max(1_000_000),
    default: 1024,
    text: 'number',
    help: 'packet-ins waiting per switch; more are dropped and counted',
  }),
  packetInRate: setting({
    flag: '--packet-in-rate',
    arg: '<n>',
    env: 'WEFT_PACKET_IN_RATE',
    schema: z.number().int().min(1).max(10_000_000),
    default: 5000,
    text: 'number',
    help: 'packet-ins per second handled per switch (DHCP), so one switch cannot starve the others',
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
  replicaId: setting({
    flag: '--replica-id',
    arg: '<id>',
    env: 'WEFT_REPLICA_ID',
    schema: ReplicaId.optional(),
    help: "this replica's id in adverts and leader.list (letters, digits, . _ -); default: the host name",
  }),
  peers: setting({
    flag: '--peer',
    arg: '<host:port>',
    env: 'WEFT_PEERS',
    schema: z.array(ListenSetting),
    default: [],
    text: 'list',
    help: "the other replicas' advert addresses, HOST:PORT (repeatable); none: a single replica that leads every network without an election",
  }),
  advertListen: setting({
    flag: '--advert-listen',
    arg: '<host:port>',
    env: 'WEFT_ADVERT_LISTEN',
    schema: ListenSetting,
    default: DEFAULT_ADVERT_LISTEN,
    help: 'UDP address adverts from peers arrive at; with peers, an address they can reach',
  }),
  advertInterval: setting({
    flag: '--advert-interval',
    arg: '<ms>',
    env: 'WEFT_ADVERT_INTERVAL',
    schema: z.number().int().min(10).max(60_000),
    default: 200,
    text: 'number',
    help: 'advert interval in ms (10 to 60000); a leader is replaced after 3 intervals plus a skew of at most one',
  }),
  advertKey: setting({
    flag: '--advert-key',
    arg: '<key>',
    env: 'WEFT_ADVERT_KEY',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
    secret: true,
    help: 'shared HMAC key of the adverts, at least 16 characters, the same on every replica (or --advert-key-file)',
  }),
  advertKeyFile: setting({
    flag: '--advert-key-file',
    arg: '<file>',
    env: 'WEFT_ADVERT_KEY_FILE',
    schema: Path.optional(),
    help: 'file holding the shared advert key (trailing newline ignored)',
  }),
  priority: setting({
    flag: '--priority',
    arg: '<n>',
    env: 'WEFT_PRIORITY',
    schema: z.number().int().min(1).max(254),
    default: 100,
    text: 'number',
    help: "this replica's priority for every network (1 to 254); the live replica with the highest leads, ties to the larger replica id",
  }),
  networkPriority: setting({
    flag: '--network-priority',
    arg: '<tenant/name=n>',
    env: 'WEFT_NETWORK_PRIORITY',
    schema: z.array(NetworkPrioritySetting),
    default: [],
    text: 'list',
    help: "this replica's priority for one network, overriding --priority, so leadership spreads across replicas (repeatable)",
  }),
  preempt: setting({
    flag: '--no-preempt',
    env: 'WEFT_PREEMPT',
    schema: z.boolean(),
    default: true,
    text: 'boolean',
    help: 'a better replica takes over from a live leader; --no-preempt (false): it waits until the leader dies or leaves, no flap after a heal',
  }),
  preemptDelay: setting({
    flag: '--preempt-delay',
    arg: '<ms>',
    env: 'WEFT_PREEMPT_DELAY',
    schema: z.number().int().min(0).max(3_600_000),
    default: 0,
    text: 'number',
    help: 'how long a better replica waits before it preempts a live leader, ms',
  }),
  trackWeight: setting({
    flag: '--track-weight',
    arg: '<n>',
    env: 'WEFT_TRACK_WEIGHT',
    schema: z.number().int().min(0).max(254),
    default: 50,
    text: 'number',
    help: "how much the priority of a host's networks drops for each lost session to it (OVSDB, OpenFlow) and all networks' for a lost store",
  }),
  notifyScript: setting({
    flag: '--notify-script',
    arg: '<file>',
    env: 'WEFT_NOTIFY_SCRIPT',
    schema: Path.optional(),
    help: 'run as SCRIPT leader|backup NETWORK TERM when this replica starts or stops leading a network',
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
  (c) => (c.advertKey !== undefined && c.advertKeyFile !== undefined ? { key: 'advertKeyFile', message: 'and advertKey exclude each other' } : undefined),
  (c) => (c.peers.length > 0 && c.advertKey === undefined && c.advertKeyFile === undefined ? { key: 'advertKey', message: 'is required (or advertKeyFile) when peers are set' } : undefined),
  (c) => {
    const loopback = (h: string) => h === 'localhost' || h === '::1' || h.startsWith('127.');
    return c.peers.some((p) => !loopback(p.host)) && loopback(c.advertListen.host)
      ? { key: 'advertListen', message: 'is a loopback address, which peers on other machines cannot reach' }
      : undefined;
  },
];
