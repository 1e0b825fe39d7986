// The OVSDB plane against real ovsdb-servers: an in-process weft with the
// plane and the API on one store, the "hypervisors" (ovsdb-server only)
// pointed at it, and what a test reads back from both. Every wait polls.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpClient } from '../../src/api/client.js';
import { createApiPlane, type ApiPlane } from '../../src/api/index.js';
import { parseTarget, type Target } from '../../src/config/target.js';
import { OvsdbPlane, type OvsdbPlaneOptions } from '../../src/ovsdb/plane.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { Ovs, VSWITCH_SCHEMA } from '../harness/ovs.js';
import { out, run, until as poll, waitGone } from '../harness/proc.js';

const quiet = { info() {}, warn() {}, debug() {}, error() {} };
/** The OpenFlow address weft tells hosts, on the address they reached it at. */
export const OPENFLOW = { port: 6653, scheme: 'tcp' as const };

/** The harness's poll with this file's longer deadline and shorter step. */
export const until = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000): Promise<T> => poll(what, fn, ms, 50);


export interface Weft {
  store: Store;
  plane: OvsdbPlane;
  api: ApiPlane;
  client: HttpClient;
  /** The admin token the API wrote. */
  token: string;
  /** The port of the plane's first passive listener (0 when it has none). */
  port: number;
  stop(): Promise<void>;
}

/** A weft with the OVSDB plane and the API on one store in `dir`; start another on the same `dir` for a restart. */
export async function startWeft(dir: string, options: Partial<OvsdbPlaneOptions> = {}, targets: Target[] = [parseTarget('ptcp:0:127.0.0.1')]): Promise<Weft> {
  const store = await openSqliteStore(join(dir, 'weft.db'));
  const plane = new OvsdbPlane({ store, log: quiet, targets, openflow: OPENFLOW, localIp: false, session: { probeInterval: 1000 }, backoff: { min: 100, max: 1000 }, ...options });
  await plane.start();
  const api = createApiPlane({ store, dataDir: dir, listen: { host: '127.0.0.1', port: 0 }, version: 'test', log: quiet, hosts: plane, registry: { checkResults: true } });
  await api.start();
  const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const client = new HttpClient({ url: api.url(), token });
  return {
    store,
    plane,
    api,
    client,
    token,
    port: plane.listenPort() ?? 0,
    async stop() {
      await client.close();
      await api.stop();
      await plane.stop();
      await store.close();
    },
  };
}

/** A host as `host.list` and `host.get` give it. */
export interface HostInfo {
  name: string;
  state: string;
  status: { connected: boolean; tunnels: string[]; reconcile: string; peer?: string };
}

export const hostList = async (w: Weft) => (await w.client.call<{ hosts: HostInfo[] }>('host.list', {})).hosts;
export const host = (w: Weft, name: string) => w.client.call<HostInfo>('host.get', { name });

/** An ovsdb-server named `name` with encapsulation IP `ip`, also listening on `remotes` (for weft to dial). */
export async function hypervisor(name: string, ip: string, remotes: string[] = []): Promise<Ovs> {
  const ovs = await Ovs.start({ vswitchd: false, remotes });
  await ovs.vsctl('set', 'Open_vSwitch', '.', `external_ids:system-id=${name}`, `external_ids:weft-encap-ip=${ip}`);
  return ovs;
}

export const vs = async (ovs: Ovs, ...args: string[]) => (await ovs.vsctl(...args)).trim();

/** weft's tunnel interfaces of a host: name, type, peer, remote_ip and _uuid, by peer. */
export async function tunnelRows(ovs: Ovs): Promise<{ uuid: string; name: string; type: string; peer: string; remoteIp: string }[]> {
  const text = await vs(ovs, '--format=json', '--columns=_uuid,name,type,options,external_ids', 'list', 'Interface');
  const json = JSON.parse(text) as { data: [[string, string], string, string, ['map', [string, string][]], ['map', [string, string][]]][] };
  return json.data
    .filter(([, , , , ext]) => new Map(ext[1]).get('weft') === 'owned' && new Map(ext[1]).has('weft-peer'))
    .map(([uuid, name, type, options, ext]) => ({ uuid: uuid[1], name, type, peer: new Map(ext[1]).get('weft-peer')!, remoteIp: new Map(options[1]).get('remote_ip')! }))
    .sort((a, b) => (a.peer < b.peer ? -1 : 1));
}

/** The weft tunnels of a host as `peer=remote_ip`, by peer. */
export const tunnels = async (ovs: Ovs) => (await tunnelRows(ovs)).map((r) => `${r.peer}=${r.remoteIp}`);

/** A CA named `ca` in `dir` and certificates it signs for `names`, made with the openssl CLI. */
export async function pki(dir: string, ca: string, names: string[]): Promise<void> {
  const f = (name: string) => join(dir, name);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.crt`), '-days', '2', '-subj', `/CN=${ca}`]);
  for (const n of names) {
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${n}.key`), '-out', f(`${n}.csr`), '-subj', `/CN=${n}`]);
    await run('openssl', ['x509', '-req', '-in', f(`${n}.csr`), '-CA', f(`${ca}.crt`), '-CAkey', f(`${ca}.key`), '-CAserial', f(`${ca}.srl`), '-CAcreateserial', '-out', f(`${n}.crt`), '-days', '2']);
  }
}

/**
 * An ovsdb-server in `dir` that takes its TLS material from the SSL table, as
 * ovs-ctl sets it up (the harness's ovsdb-server has no SSL options).
 */
export async function sslHypervisor(dir: string) {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'conf.db');
  const sock = join(dir, 'db.sock');
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  await run('ovsdb-tool', ['create', db, VSWITCH_SCHEMA]);
  await run(
    'ovsdb-server',
    [db, `--remote=punix:${sock}`, '--remote=db:Open_vSwitch,Open_vSwitch,manager_options', '--private-key=db:Open_vSwitch,SSL,private_key', '--certificate=db:Open_vSwitch,SSL,certificate', '--ca-cert=db:Open_vSwitch,SSL,ca_cert', `--pidfile=${join(dir, 'ovsdb-server.pid')}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--log-file=${join(dir, 'ovsdb-server.log')}`, '--detach', '--no-chdir', '-vconsole:off'],
    { env },
  );
  const vsctl = (...args: string[]) => out('ovs-vsctl', [`--db=unix:${sock}`, '--no-wait', '--timeout=20', ...args], { env });
  await vsctl('init');
  return {
    vsctl,
    async stop() {
      const pid = Number(readFileSync(join(dir, 'ovsdb-server.pid'), 'utf8'));
      await run('ovs-appctl', ['-t', join(dir, 'ovsdb-server.ctl'), 'exit'], { env, allowFailure: true });
      await waitGone(pid);
    },
  };
}
