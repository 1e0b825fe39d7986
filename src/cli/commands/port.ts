// weft ports [HOST], weft port show|bind|unbind, weft flows HOST [--table N],
// weft trace HOST PORT PACKET: the data plane as the switches see it.
import type { Command } from 'commander';
import { call, clientCommand, collect, integer, networkRef, table, usage, waitOptions, waitParams, withWaited, type WaitFlags, type Waited } from './client.js';

export interface PortRow {
  host: string;
  name: string;
  ofport?: number;
  tag?: number;
  network?: string;
  boundBy?: 'binding' | 'tag';
  unbound?: string;
  binding?: string;
  macs: string[];
  ips: string[];
}

interface DumpedFlow {
  table: number;
  priority: number;
  cookie: string;
  learned: boolean;
  flow: string;
}

interface Traced {
  trace: string[];
  delivered: { host: string; port: number }[];
  controller: boolean;
}

/**
 * How the port got its network: `tag`, `binding` (port.bind), `binding
 * (external_ids)` (what the host declares on the port: a binding without a
 * stored one), or `none` with the reason its frames are dropped.
 */
export function boundBy(p: PortRow): string {
  if (p.boundBy === 'tag') return 'tag';
  if (p.boundBy === 'binding') return p.binding === p.network ? 'binding' : 'binding (external_ids)';
  const why = p.unbound === 'unknown-network' && p.binding ? `unknown-network ${p.binding}` : p.unbound;
  return why ? `none (${why})` : 'none';
}

function addresses(p: PortRow): string {
  if (p.network === undefined) return '';
  const all = [...p.macs, ...p.ips];
  return all.length === 0 ? 'any' : all.join(',');
}

export function portTable(ports: readonly PortRow[]): string {
  return table(
    ['HOST', 'PORT', 'OFPORT', 'TAG', 'NETWORK', 'BOUND BY', 'MACS/IPS'],
    ports.map((p) => [p.host, p.name, p.ofport ?? '-', p.tag ?? '-', p.network ?? '-', boundBy(p), addresses(p)]),
  );
}

/** One flow per line as ovs-ofctl prints it; flows the switch learned end in `# learned`. */
export function flowLines(flows: readonly DumpedFlow[]): string {
  if (flows.length === 0) return '(no flows)\n';
  return flows.map((f) => `${f.flow}${f.learned ? '  # learned' : ''}\n`).join('');
}

/** The simulator's steps, then what became of the packet. */
export function traceText(r: Traced): string {
  const outcome: string[] = [];
  if (r.delivered.length > 0) outcome.push(`delivered to ${r.delivered.map((d) => `${d.host} port ${d.port}`).join(', ')}`);
  if (r.controller) outcome.push('sent to the controller (DHCP)');
  if (outcome.length === 0) outcome.push('dropped');
  return `${r.trace.join('\n')}\n\n${outcome.join('; ')}\n`;
}

const ALIASES: Record<string, string> = {
  dl_src: 'eth_src',
  dl_dst: 'eth_dst',
  dl_type: 'eth_type',
  dl_vlan: 'vlan_vid',
  nw_proto: 'ip_proto',
  ip_src: 'ipv4_src',
  ip_dst: 'ipv4_dst',
};

const PROTOCOLS: Record<string, [string, string][]> = {
  arp: [['eth_type', '0x0806']],
  ip: [['eth_type', '0x0800']],
  icmp: [['eth_type', '0x0800'], ['ip_proto', '1']],
  tcp: [['eth_type', '0x0800'], ['ip_proto', '6']],
  udp: [['eth_type', '0x0800'], ['ip_proto', '17']],
};

/**
 * The packet as the trace method takes it (`field=value,...` with its
 * field names) from what people type: the same, ovs-ofctl's names and
 * shorthands (`dl_src`, `nw_dst`, `tp_dst`, `arp`, `udp`, ...), or a JSON
 * object of fields. Fields the method does not know pass through, for it to
 * name in its refusal.
 */
export function packetSpec(text: string): string {
  const pairs: [string, string][] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch (err) {
      throw new SyntaxError(`not JSON: ${(err as Error).message}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new SyntaxError('a JSON packet must be an object of fields');
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new SyntaxError(`${k}: a field's value is a string or a number`);
      pairs.push([k, String(v)]);
    }
  } else {
    for (const part of trimmed.split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = part.indexOf('=');
      if (eq < 0) {
        const proto = PROTOCOLS[part];
        if (!proto) throw new SyntaxError(`"${part}": expected FIELD=VALUE or one of ${Object.keys(PROTOCOLS).join(', ')}`);
        pairs.push(...proto);
      } else pairs.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
    }
  }
  const fields = new Map<string, string>();
  for (const [k, v] of pairs) fields.set(ALIASES[k] ?? k, v);
  const isArp = Number(fields.get('eth_type') ?? 0) === 0x0806;
  for (const [from, ip, arp] of [['nw_src', 'ipv4_src', 'arp_spa'], ['nw_dst', 'ipv4_dst', 'arp_tpa']] as const) {
    const v = fields.get(from);
    if (v === undefined) continue;
    fields.delete(from);
    fields.set(isArp ? arp : ip, v);
  }
  for (const [from, suffix] of [['tp_src', 'src'], ['tp_dst', 'dst']] as const) {
    const v = fields.get(from);
    if (v === undefined) continue;
    fields.delete(from);
    const proto = Number(fields.get('ip_proto') ?? NaN);
    if (proto !== 6 && proto !== 17) throw new SyntaxError(`${from} needs tcp or udp (ip_proto 6 or 17) first`);
    fields.set(`${proto === 6 ? 'tcp' : 'udp'}_${suffix}`, v);
  }
  return [...fields].map(([k, v]) => `${k}=${v}`).join(',');
}

export function registerPort(program: Command): void {
  clientCommand(program, 'ports', 'VM ports of every host (or one), with the network each is in and why')
    .argument('[host]')
    .option('--network <tenant/network>', 'only ports in this network')
    .action((host: string | undefined, o: { network?: string }, cmd: Command) => {
      if (o.network !== undefined) networkRef(cmd, o.network);
      const params = { ...(host !== undefined ? { host } : {}), ...(o.network !== undefined ? { network: o.network } : {}) };
      return call<{ ports: PortRow[] }>(cmd, 'port.list', params, ({ ports }) => portTable(ports));
    });

  const port = program.command('port').description("one VM port: show, bind to a network, unbind");
  clientCommand(port, 'show', 'one port of a host: its network, how it got it, the addresses port security admits')
    .argument('<host>')
    .argument('<port>', 'the OVS port name')
    .action((host: string, name: string, _o: unknown, cmd: Command) => call<PortRow>(cmd, 'port.get', { host, name }, (p) => portTable([p])));
  waitOptions(clientCommand(port, 'bind', "put a host's port in a network, whatever its tag or external_ids say"))
    .argument('<host>')
    .argument('<port>', 'the OVS port name (the port need not exist yet)')
    .argument('<tenant/network>')
    .option('--mac <mac>', 'the MAC port security holds the port to (beside leased ones)')
    .option('--ip <ip>', 'an IPv4 address port security admits (repeatable)', collect)
    .action((host: string, name: string, ref: string, o: WaitFlags & { mac?: string; ip?: string[] }, cmd: Command) => {
      networkRef(cmd, ref);
      const params = { host, name, network: ref, ...(o.mac !== undefined ? { mac: o.mac } : {}), ...(o.ip !== undefined ? { ips: o.ip } : {}), ...waitParams(cmd, o) };
      return call<{ host: string; name: string; network: string; waited?: Waited[] }>(cmd, 'port.bind', params, withWaited((p) => `bound ${p.host}/${p.name} to ${p.network}`));
    });
  waitOptions(clientCommand(port, 'unbind', "remove a port's binding: its external_ids or its tag decide again"))
    .argument('<host>')
    .argument('<port>', 'the OVS port name')
    .action((host: string, name: string, o: WaitFlags, cmd: Command) =>
      call<{ unbound: boolean; waited?: Waited[] }>(cmd, 'port.unbind', { host, name, ...waitParams(cmd, o) }, withWaited((r) => (r.unbound ? `unbound ${host}/${name}` : `${host}/${name} had no binding`))),
    );

  clientCommand(program, 'flows', "weft's flows on a host's switch as the switch holds them now, learned ones marked")
    .argument('<host>')
    .option('--table <n>', 'only this table (0 classify, 10 port security, 20 services, 30 learn, 40/41 lookup, 50 flood)')
    .action((host: string, o: { table?: string }, cmd: Command) => {
      const t = o.table === undefined ? undefined : integer(cmd, '--table', o.table);
      if (t !== undefined && t > 254) usage(cmd, `--table must be 0-254, got ${t}`);
      return call<{ flows: DumpedFlow[] }>(cmd, 'flows.dump', { host, ...(t !== undefined ? { table: t } : {}) }, ({ flows }) => flowLines(flows));
    });

  clientCommand(program, 'trace', "walk a packet through the hosts' pipelines (the simulator, learned entries empty)")
    .argument('<host>')
    .argument('<port>', 'the OVS port name or ofport it enters by')
    .argument(
      '<packet>',
      "fields: 'eth_src=02:00:00:00:00:01,eth_dst=ff:ff:ff:ff:ff:ff,arp,arp_spa=192.0.2.10,arp_tpa=192.0.2.1'; ovs-ofctl names (dl_src, nw_dst, tp_dst) and shorthands (arp, ip, icmp, tcp, udp) work, and so does a JSON object of fields",
    )
    .action((host: string, port: string, packet: string, _o: unknown, cmd: Command) => {
      let spec: string;
      try {
        spec = packetSpec(packet);
      } catch (err) {
        usage(cmd, `packet: ${(err as Error).message}`);
      }
      return call<Traced>(cmd, 'trace', { host, port, packet: spec }, traceText);
    });
}
