// weft network create|list|show|update|delete (the changes with --wait)
import type { Command } from 'commander';
import { call, clientCommand, collect, integer, networkRef, table, usage, waitOptions, waitParams, withWaited, type WaitFlags, type Waited } from './client.js';

interface Subnet {
  cidr: string;
  gateway?: string;
  ranges: { start: string; end: string }[];
  dns: string[];
  domain?: string;
  leaseTime: number;
}
interface Network {
  tenant: string;
  name: string;
  vlan: number;
  vni: number;
  mtu: number;
  subnets: Subnet[];
  description?: string;
  revision: number;
  waited?: Waited[];
}

interface SubnetFlags {
  subnet?: string;
  gateway?: string;
  dhcpRange?: string[];
  dns?: string[];
  domain?: string;
  leaseTime?: string;
}

interface CreateFlags extends SubnetFlags, WaitFlags {
  vlan: string;
  vni?: string;
  mtu?: string;
  description?: string;
}

function subnetOf(cmd: Command, o: SubnetFlags): object[] {
  if (o.subnet === undefined) {
    if (o.gateway ?? o.dhcpRange ?? o.dns ?? o.domain ?? o.leaseTime) usage(cmd, '--gateway, --dhcp-range, --dns, --domain and --lease-time need --subnet');
    return [];
  }
  const ranges = (o.dhcpRange ?? []).map((r) => {
    const [start, end, ...rest] = r.split('-');
    if (!start || !end || rest.length > 0) usage(cmd, `--dhcp-range must be FIRST-LAST, got ${JSON.stringify(r)}`);
    return { start, end };
  });
  return [
    {
      cidr: o.subnet,
      ...(o.gateway !== undefined ? { gateway: o.gateway } : {}),
      ranges,
      dns: o.dns ?? [],
      ...(o.domain !== undefined ? { domain: o.domain } : {}),
      ...(o.leaseTime !== undefined ? { leaseTime: integer(cmd, '--lease-time', o.leaseTime) } : {}),
    },
  ];
}

function subnetsText(n: Network): string {
  return n.subnets.map((s) => s.cidr).join(',');
}

/** --subnet with the flags that describe it, and --description: create and update take the same ones. */
function subnetOptions(cmd: Command, subnetHelp: string): Command {
  return cmd
    .option('--subnet <cidr>', subnetHelp)
    .option('--gateway <ip>', "the subnet's router")
    .option('--dhcp-range <first-last>', 'a DHCP range (repeatable)', collect)
    .option('--dns <ip>', 'a DNS server (repeatable)', collect)
    .option('--domain <name>', 'DNS domain')
    .option('--lease-time <seconds>', 'DHCP lease time')
    .option('--description <text>', 'free text');
}

export function registerNetwork(program: Command): void {
  const network = program.command('network').description('create, list, show, update and delete networks');
  const create = waitOptions(clientCommand(network, 'create', 'create a network: weft network create acme/web --vlan 11 --subnet 192.0.2.0/24 ...'))
    .argument('<tenant/network>')
    .requiredOption('--vlan <tag>', 'VLAN tag on the hypervisors\' access ports (1-4094)')
    .option('--vni <vni>', 'tunnel key (default: the VLAN tag)')
    .option('--mtu <bytes>', 'MTU handed out by DHCP (default 1450)');
  subnetOptions(create, 'the subnet, e.g. 192.0.2.0/24')
    .action((ref: string, o: CreateFlags, cmd: Command) => {
      const { tenant, name } = networkRef(cmd, ref);
      const params = {
        tenant,
        name,
        vlan: integer(cmd, '--vlan', o.vlan),
        ...(o.vni !== undefined ? { vni: integer(cmd, '--vni', o.vni) } : {}),
        ...(o.mtu !== undefined ? { mtu: integer(cmd, '--mtu', o.mtu) } : {}),
        subnets: subnetOf(cmd, o),
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...waitParams(cmd, o),
      };
      return call<Network>(cmd, 'network.create', params, withWaited((n) => `created network ${n.tenant}/${n.name} (VLAN ${n.vlan}, VNI ${n.vni})`));
    });
  clientCommand(network, 'list', "list networks (all, or one tenant's)")
    .argument('[tenant]')
    .action((tenant: string | undefined, _o: unknown, cmd: Command) =>
      call<{ networks: Network[] }>(cmd, 'network.list', tenant === undefined ? {} : { tenant }, ({ networks }) =>
        table(
          ['NETWORK', 'VLAN', 'VNI', 'MTU', 'SUBNETS'],
          networks.map((n) => [`${n.tenant}/${n.name}`, n.vlan, n.vni, n.mtu, subnetsText(n)]),
        ),
      ),
    );
  clientCommand(network, 'show', 'show a network with its subnets')
    .argument('<tenant/network>')
    .action((ref: string, _o: unknown, cmd: Command) => {
      const key = networkRef(cmd, ref);
      return call<Network>(cmd, 'network.get', key, (n) => {
        const head = table(['NETWORK', 'VLAN', 'VNI', 'MTU', 'REVISION'], [[`${n.tenant}/${n.name}`, n.vlan, n.vni, n.mtu, n.revision]]);
        const subnets = table(
          ['SUBNET', 'GATEWAY', 'DHCP RANGES', 'DNS', 'DOMAIN', 'LEASE'],
          n.subnets.map((s) => [s.cidr, s.gateway, s.ranges.map((r) => `${r.start}-${r.end}`).join(','), s.dns.join(','), s.domain, s.leaseTime]),
        );
        return `${head}\n${subnets}`;
      });
    });
  const update = waitOptions(clientCommand(network, 'update', 'change fields of a network; --subnet and its flags replace the whole subnet list'))
    .argument('<tenant/network>')
    .option('--vlan <tag>', "VLAN tag on the hypervisors' access ports (1-4094)")
    .option('--vni <vni>', 'tunnel key (a VNI that followed the VLAN tag keeps following it unless given)')
    .option('--mtu <bytes>', 'MTU handed out by DHCP');
  subnetOptions(update, 'the subnet, replacing the current ones')
    .option('--if-revision <n>', 'only if the network is still at this revision')
    .action((ref: string, o: Partial<CreateFlags> & { ifRevision?: string }, cmd: Command) => {
      const key = networkRef(cmd, ref);
      const params: Record<string, unknown> = { ...key };
      if (o.vlan !== undefined) params.vlan = integer(cmd, '--vlan', o.vlan);
      if (o.vni !== undefined) params.vni = integer(cmd, '--vni', o.vni);
      if (o.mtu !== undefined) params.mtu = integer(cmd, '--mtu', o.mtu);
      if (o.description !== undefined) params.description = o.description;
      const subnets = subnetOf(cmd, o);
      if (o.subnet !== undefined) params.subnets = subnets;
      if (Object.keys(params).length === 2) usage(cmd, 'nothing to update: give --vlan, --vni, --mtu, --subnet or --description');
      if (o.ifRevision !== undefined) params.ifRevision = integer(cmd, '--if-revision', o.ifRevision);
      return call<Network>(cmd, 'network.update', { ...params, ...waitParams(cmd, o) }, withWaited((n) => `updated network ${n.tenant}/${n.name} (VLAN ${n.vlan}, VNI ${n.vni}), now at revision ${n.revision}`));
    });
  waitOptions(clientCommand(network, 'delete', 'delete a network with its reservations and leases'))
    .argument('<tenant/network>')
    .action((ref: string, o: WaitFlags, cmd: Command) =>
      call<{ deleted: string[]; waited?: Waited[] }>(cmd, 'network.delete', { ...networkRef(cmd, ref), ...waitParams(cmd, o) }, withWaited(({ deleted }) => deleted.map((d) => `deleted ${d}`).join('\n'))),
    );
}
