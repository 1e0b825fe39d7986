// port.*, flows.dump and trace: the VM ports of every host with the network
// each is in (by its explicit binding or its tag), explicit bindings stored
// as the `port` kind, a host's flows as its switch holds them (learned ones
// marked), and a packet walked through the pipeline by the simulator.
import { z } from 'zod';
import { HostName, Ipv4, Mac, NetworkRef, Port } from '../../model/index.js';
import { del, put } from '../../store/store.js';
import { visible } from '../access.js';
import type { MethodDeps } from '../deps.js';
import { ErrorCode, invalidParams, notFound } from '../errors.js';
import { defineMethod, type AnyMethod } from '../registry.js';

export const PortInfo = z.object({
  host: z.string(),
  name: z.string().describe('the OVS port name'),
  ofport: z.number().int().optional(),
  tag: z.number().int().optional().describe("the Port row's tag, as Proxmox sets it"),
  network: z.string().optional().describe('the network the port is in, `tenant/network`'),
  boundBy: z.enum(['binding', 'tag']).optional().describe('`binding`: by port.bind; `tag`: the network whose VLAN is the tag'),
  unbound: z.enum(['no-ofport', 'unknown-network', 'unknown-tag', 'no-tag']).optional().describe('why the port is in no network (its frames are dropped)'),
  binding: z.string().optional().describe('the explicit binding stored by port.bind'),
  macs: z.array(z.string()).describe('MACs port security admits (declared and leased); empty: any, learned'),
  ips: z.array(z.string()).describe('IPv4 addresses port security admits (declared and leased); empty: any'),
});
export type PortInfo = z.infer<typeof PortInfo>;

export const DumpedFlow = z.object({
  table: z.number().int(),
  priority: z.number().int(),
  cookie: z.string().describe('hex'),
  learned: z.boolean().describe("learned in the switch by the pipeline's learn(), never reconciled"),
  flow: z.string().describe('the flow in ovs-ofctl syntax'),
});
export type DumpedFlow = z.infer<typeof DumpedFlow>;

/** What these methods need of the data plane: the fabric and the switches. */
export interface PortRuntime {
  ports(): PortInfo[];
  /** weft's flows on the host's switch now, static and learned; rejects when the switch is not connected. */
  dumpFlows(host: string): Promise<DumpedFlow[]>;
  /** The simulator's walk of `packet` (`field=value,...`) entering `port` (name or ofport) of `host`, one line per step. */
  trace(host: string, port: string, packet: string): { lines: string[]; delivered: { host: string; port: number }[]; controller: boolean };
}

export interface PortDeps {
  ports?: PortRuntime;
}

const PortKey = { host: HostName, name: Port.shape.name.describe('the OVS port name') };

export function portMethods({ store, guard, ports }: MethodDeps & PortDeps): AnyMethod[] {
  const runtime = (): PortRuntime => {
    if (!ports) throw notFound('the data plane (this daemon runs no OpenFlow plane)');
    return ports;
  };
  return [
    defineMethod({
      name: 'port.list',
      summary: "VM ports of every host, with the network each is in; a tenant token sees only ports in its networks.",
      scope: 'tenant',
      params: z.strictObject({ host: HostName.optional(), network: NetworkRef.optional() }),
      result: z.object({ ports: z.array(PortInfo) }),
      handler: (p, { principal }) => ({
        ports: (ports?.ports() ?? []).filter(
          (x) => visible(principal, x.network?.split('/')[0]) && (principal.tenant === undefined || x.network !== undefined) && (p.host === undefined || x.host === p.host) && (p.network === undefined || x.network === p.network),
        ),
      }),
    }),
    defineMethod({
      name: 'port.get',
      summary: 'One VM port of a host.',
      scope: 'tenant',
      params: z.strictObject(PortKey),
      result: PortInfo,
      errors: [ErrorCode.NotFound],
      handler: (p, { principal }) => {
        const x = (ports?.ports() ?? []).find((q) => q.host === p.host && q.name === p.name);
        if (!x || (principal.tenant !== undefined && x.network?.split('/')[0] !== principal.tenant)) throw notFound(`port ${p.host}/${p.name}`);
        return x;
      },
    }),
    defineMethod({
      name: 'port.bind',
      summary: 'Bind a port of a host to a network explicitly; the binding wins over its tag.',
      description: 'The port need not exist yet: the binding applies when it appears. `mac` and `ips` declare the addresses port security holds it to (beside leased ones).',
      scope: 'admin',
      params: z.strictObject({ ...PortKey, network: NetworkRef, mac: Mac.optional(), ips: z.array(Ipv4).max(16).optional() }),
      result: Port,
      errors: [ErrorCode.NotFound],
      handler: (p) =>
        guard.run(async (fence) => {
          if (!(await store.get('network', p.network))) throw notFound(`network ${p.network}`);
          const port: Port = { host: p.host, name: p.name, network: p.network, ips: p.ips ?? [], ...(p.mac ? { mac: p.mac } : {}) };
          await store.commit([put('port', `${p.host}/${p.name}`, port)], { fence });
          return port;
        }),
    }),
    defineMethod({
      name: 'port.unbind',
      summary: "Remove a port's explicit binding: its tag decides again.",
      scope: 'admin',
      params: z.strictObject(PortKey),
      result: z.object({ unbound: z.boolean().describe('false when there was no binding') }),
      handler: (p) =>
        guard.run(async (fence) => {
          const key = `${p.host}/${p.name}`;
          const had = await store.get('port', key);
          if (had) await store.commit([del('port', key, had.revision)], { fence });
          return { unbound: had !== undefined };
        }),
    }),
    defineMethod({
      name: 'flows.dump',
      summary: "weft's flows on a host's switch, as the switch holds them now; learned ones marked.",
      scope: 'admin',
      params: z.strictObject({ host: HostName, table: z.number().int().min(0).max(254).optional() }),
      result: z.object({ flows: z.array(DumpedFlow) }),
      errors: [ErrorCode.NotFound],
      handler: async (p) => {
        let flows: DumpedFlow[];
        try {
          flows = await runtime().dumpFlows(p.host);
        } catch (err) {
          throw notFound(`a connected switch of host ${p.host} (${err instanceof Error ? err.message : String(err)})`);
        }
        return { flows: p.table === undefined ? flows : flows.filter((f) => f.table === p.table) };
      },
    }),
    defineMethod({
      name: 'trace',
      summary: "A packet through a host's pipeline (and across tunnels to the others), by the simulator.",
      description:
        '`packet` is `field=value` pairs separated by commas: eth_src, eth_dst, eth_type, vlan_vid, ipv4_src, ipv4_dst, ip_proto, udp_src, udp_dst, tcp_src, tcp_dst, arp_op, arp_spa, arp_tpa (MACs and dotted addresses as such, numbers in decimal or 0x hex). Learned entries of the simulation start empty.',
      scope: 'admin',
      params: z.strictObject({ host: HostName, port: z.string().min(1).max(64).describe('OVS port name or ofport'), packet: z.string().max(1000) }),
      result: z.object({
        trace: z.array(z.string()),
        delivered: z.array(z.object({ host: z.string(), port: z.number().int() })),
        controller: z.boolean().describe('the packet went to the controller (DHCP)'),
      }),
      errors: [ErrorCode.NotFound],
      handler: (p) => {
        let r: ReturnType<PortRuntime['trace']>;
        try {
          r = runtime().trace(p.host, p.port, p.packet);
        } catch (err) {
          if (err instanceof RangeError) throw notFound(err.message);
          if (err instanceof SyntaxError) throw invalidParams([{ path: 'packet', message: err.message }]);
          throw err;
        }
        return { trace: r.lines, delivered: r.delivered, controller: r.controller };
      },
    }),
  ];
}
