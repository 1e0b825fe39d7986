// The desired flow list of one host: weft's forwarding pipeline
// (docs/pipeline.md) computed from the networks, the host's ports and
// tunnels, and which other hosts have which networks. Pure and
// deterministic: the same input gives the same flows in the same order, so
// the flow sync can diff them against what a switch reports.
import { learn, output, OFPP, ipv4, mac, subfield, type Action, type Instruction, type KnownOxm, type FieldName, type FlowLike } from '../protocols/openflow/index.js';
import { cookie } from './cookie.js';
import { LEARNED_IDLE_TIMEOUT, METADATA_FROM_TUNNEL, METADATA_MASK, METADATA_NETWORK_BITS, METADATA_NETWORK_MASK, PRIORITY, TABLE } from './tables.js';

/** A network as the pipeline needs it; a model Network satisfies it. */
export interface FlowNetwork {
  tenant: string;
  name: string;
  vlan: number;
  vni: number;
  /**
   * weft answers this network's DHCP (default): client packets go to the
   * controller and DHCP server packets from ports are dropped. False leaves
   * DHCP to the tenant, flooded like any broadcast.
   */
  dhcp?: boolean;
}

/**
 * A port of this host's integration bridge. From a model Port plus what
 * OVSDB reports (ofport, tag) and the port's leases: `macs` is the declared
 * MAC and the leased ones, `ips` the declared and leased addresses.
 */
export interface FlowPort {
  name: string;
  /** OpenFlow port number; a port without one (OVS reports -1 or nothing) gets no flows. */
  ofport: number | undefined;
  /** The Port row's `tag`, as Proxmox sets it. */
  tag?: number | undefined;
  /** An explicit binding `tenant/network`; it wins over the tag. */
  network?: string | undefined;
  /** Known MACs. None: any source MAC is accepted (and learned). */
  macs?: readonly string[];
  /** Known IPv4 addresses. None: any ARP sender and IPv4 source is accepted. */
  ips?: readonly string[];
}

/** A tunnel port of this host to one other host. */
export interface FlowTunnel {
  ofport: number;
  /** The host at the other end. */
  peer: string;
}

/** The networks another host has a port in. */
export interface PeerNetworks {
  host: string;
  /** `tenant/network` references. */
  networks: readonly string[];
}

export interface PipelineInput {
  networks: readonly FlowNetwork[];
  ports: readonly FlowPort[];
  tunnels: readonly FlowTunnel[];
  peers: readonly PeerNetworks[];
}

/** One desired flow: what a FLOW_MOD add carries, with weft's cookie. */
export type Flow = FlowLike;

export type PortBinding =
  | { bound: true; network: FlowNetwork; by: 'binding' | 'tag' }
  | { bound: false; reason: 'no-ofport' | 'unknown-network' | 'unknown-tag' | 'no-tag' };

const MAX_OFPORT = OFPP.MAX;

export function networkRefOf(n: { tenant: string; name: string }): string {
  return `${n.tenant}/${n.name}`;
}

/**
 * The network a port joins: its explicit binding, else the network whose
 * VLAN is the port's tag. An explicit binding to a network that does not
 * exist leaves the port unbound rather than falling back to its tag, so a
 * typo cannot put a VM on whatever network happens to own that tag.
 */
export function bindPort(networks: readonly FlowNetwork[], port: FlowPort): PortBinding {
  return bindIndexed(indexNetworks(networks), port);
}

interface NetworkIndex {
  byRef: Map<string, FlowNetwork>;
  byVlan: Map<number, FlowNetwork>;
}

function indexNetworks(networks: readonly FlowNetwork[]): NetworkIndex {
  return { byRef: new Map(networks.map((n) => [networkRefOf(n), n])), byVlan: new Map(networks.map((n) => [n.vlan, n])) };
}

function bindIndexed(index: NetworkIndex, port: FlowPort): PortBinding {
  if (port.ofport === undefined || !Number.isInteger(port.ofport) || port.ofport < 1 || port.ofport >= MAX_OFPORT) return { bound: false, reason: 'no-ofport' };
  if (port.network !== undefined) {
    const network = index.byRef.get(port.network);
    return network ? { bound: true, network, by: 'binding' } : { bound: false, reason: 'unknown-network' };
  }
  if (port.tag === undefined) return { bound: false, reason: 'no-tag' };
  const network = index.byVlan.get(port.tag);
  return network ? { bound: true, network, by: 'tag' } : { bound: false, reason: 'unknown-tag' };
}

/** A host of the cluster, for computing every host's input at once. */
export interface ClusterHost {
  name: string;
  ports: readonly FlowPort[];
  tunnels: readonly FlowTunnel[];
}

/** The refs of the networks a host has at least one bound port in. */
export function hostNetworks(networks: readonly FlowNetwork[], ports: readonly FlowPort[]): Set<string> {
  return hostNetworksIndexed(indexNetworks(networks), ports);
}

function hostNetworksIndexed(index: NetworkIndex, ports: readonly FlowPort[]): Set<string> {
  const refs = new Set<string>();
  for (const p of ports) {
    const b = bindIndexed(index, p);
    if (b.bound) refs.add(networkRefOf(b.network));
  }
  return refs;
}

/** Each host's PipelineInput, with its peers' networks worked out from their ports. */
export function clusterInputs(networks: readonly FlowNetwork[], hosts: readonly ClusterHost[]): Map<string, PipelineInput> {
  const index = indexNetworks(networks);
  const has = new Map(hosts.map((h) => [h.name, [...hostNetworksIndexed(index, h.ports)].sort()]));
  return new Map(
    hosts.map((h) => [
      h.name,
      {
        networks,
        ports: h.ports,
        tunnels: h.tunnels,
        peers: hosts.filter((o) => o.name !== h.name).map((o) => ({ host: o.name, networks: has.get(o.name)! })),
      },
    ]),
  );
}

function oxm(field: FieldName, value: bigint, mask?: bigint): KnownOxm {
  return mask === undefined ? { field, value } : { field, value, mask };
}

function flow(table: number, priority: number, vni: number, fields: KnownOxm[], instructions: Instruction[]): Flow {
  return { cookie: cookie('static', table, vni), tableId: table, priority, idleTimeout: 0, hardTimeout: 0, flags: 0, match: { fields }, instructions };
}

const goto = (tableId: number): Instruction => ({ type: 'goto_table', tableId });
const apply = (actions: Action[]): Instruction => ({ type: 'apply_actions', actions });

const ETH_ARP = 0x0806n;
const ETH_IPV4 = 0x0800n;
const IP_UDP = 17n;
const DHCP_CLIENT = 68n;
const DHCP_SERVER = 67n;
const MULTICAST_BIT = 0x010000000000n;
/** OFPVID_NONE: the frame has no 802.1Q header. */
const NO_VLAN = 0n;

/** metadata=network/mask matching frames of a network from a local port, a tunnel, or either. */
function networkMatch(vni: number, from: 'local' | 'tunnel' | 'any'): KnownOxm {
  const v = BigInt(vni);
  if (from === 'any') return oxm('metadata', v, METADATA_NETWORK_MASK);
  return oxm('metadata', from === 'tunnel' ? v | METADATA_FROM_TUNNEL : v, METADATA_MASK);
}

const METADATA_NETWORK = subfield('metadata', 0, METADATA_NETWORK_BITS);

/** learn(): future frames of this network to this source MAC go out the port it came in on. */
function learnInto(table: number, vni: number, fromTunnel: boolean): Action {
  return learn({
    tableId: table,
    priority: PRIORITY.LEARNED_MAC,
    idleTimeout: LEARNED_IDLE_TIMEOUT,
    cookie: cookie('learned', table, vni),
    specs: [
      { kind: 'match', src: { subfield: METADATA_NETWORK }, dst: METADATA_NETWORK },
      { kind: 'match', src: { subfield: subfield('nxm_eth_src') }, dst: subfield('nxm_eth_dst') },
      // From a tunnel the reply must carry the network's VNI back.
      ...(fromTunnel ? [{ kind: 'load' as const, src: { subfield: subfield('tun_id') }, dst: subfield('tun_id') }] : []),
      { kind: 'output', src: subfield('nxm_in_port') },
    ],
  });
}

interface LocalPort {
  ofport: number;
  network: FlowNetwork;
  macs: bigint[];
  ips: bigint[];
}

function uniqueSorted(values: bigint[]): bigint[] {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A port's flows in classify and port security. Classify admits only the
 * port's known MACs (any, while none is known), so later tables can trust
 * eth_src; port security then holds the port to its known addresses.
 */
function portFlows(p: LocalPort): Flow[] {
  const vni = p.network.vni;
  const inPort = oxm('in_port', BigInt(p.ofport));
  const out: Flow[] = [];
  // Access ports carry untagged frames: OVS's `tag` only acts in the
  // NORMAL action, which this bridge never uses, so a tagged frame here was
  // tagged by the VM and is dropped rather than carried into its network.
  const classify = (src: KnownOxm[]): Flow =>
    flow(TABLE.CLASSIFY, PRIORITY.CLASSIFY, vni, [inPort, oxm('vlan_vid', NO_VLAN), ...src], [
      { type: 'write_metadata', metadata: BigInt(vni), mask: METADATA_MASK },
      goto(TABLE.PORT_SECURITY),
    ]);
  if (p.macs.length === 0) out.push(classify([]));
  for (const m of p.macs) out.push(classify([oxm('eth_src', m)]));
  const t = TABLE.PORT_SECURITY;
  if (p.ips.length === 0) {
    // Above the table's ARP and IPv4 drops: any address goes until one is known.
    out.push(flow(t, PRIORITY.ADDRESS_ALLOWED, vni, [inPort], [goto(TABLE.SERVICES)]));
    return out;
  }
  for (const ip of p.ips) {
    out.push(flow(t, PRIORITY.ADDRESS_ALLOWED, vni, [inPort, oxm('eth_type', ETH_ARP), oxm('arp_spa', ip)], [goto(TABLE.SERVICES)]));
    out.push(flow(t, PRIORITY.ADDRESS_ALLOWED, vni, [inPort, oxm('eth_type', ETH_IPV4), oxm('ipv4_src', ip)], [goto(TABLE.SERVICES)]));
  }
  return out;
}

/**
 * The desired flows of one host. Only networks with a bound port on this
 * host get flows, and a tunnel carries a network only when the host at its
 * other end has that network too. MACs and addresses are those the model's
 * schemas accept; anything else throws a RangeError.
 */
export function desiredFlows(input: PipelineInput): Flow[] {
  const index = indexNetworks(input.networks);
  const local: LocalPort[] = [];
  for (const port of input.ports) {
    const b = bindIndexed(index, port);
    if (!b.bound) continue;
    local.push({
      ofport: port.ofport!,
      network: b.network,
      macs: uniqueSorted((port.macs ?? []).map(mac)),
      ips: uniqueSorted((port.ips ?? []).map(ipv4)),
    });
  }
  local.sort((a, b) => a.ofport - b.ofport);

  const byVni = new Map<number, { network: FlowNetwork; ports: LocalPort[] }>();
  for (const p of local) {
    const entry = byVni.get(p.network.vni);
    if (entry) entry.ports.push(p);
    else byVni.set(p.network.vni, { network: p.network, ports: [p] });
  }
  const peerHas = new Map(input.peers.map((p) => [p.host, new Set(p.networks)]));
  const tunnels = [...input.tunnels].filter((t) => Number.isInteger(t.ofport) && t.ofport >= 1 && t.ofport < MAX_OFPORT).sort((a, b) => a.ofport - b.ofport);

  const flows: Flow[] = [];
  // Every table ends in an explicit drop: a switch's table-miss default
  // (drop in OF1.3, but configurable) is not relied on, and the sync owns it.
  for (const table of [TABLE.CLASSIFY, TABLE.PORT_SECURITY, TABLE.LEARN, TABLE.FLOOD]) flows.push(flow(table, PRIORITY.MISS, 0, [], []));
  // Services and lookup are pass-through stages: a miss goes on.
  flows.push(flow(TABLE.SERVICES, PRIORITY.MISS, 0, [], [goto(TABLE.LEARN)]));
  flows.push(flow(TABLE.LOOKUP, PRIORITY.MISS, 0, [], [goto(TABLE.FLOOD)]));
  flows.push(flow(TABLE.LOOKUP_FROM_TUNNEL, PRIORITY.MISS, 0, [], [goto(TABLE.FLOOD)]));
  if (local.length > 0) {
    const ps = TABLE.PORT_SECURITY;
    const toServices = [goto(TABLE.SERVICES)];
    flows.push(flow(ps, PRIORITY.MULTICAST_SOURCE, 0, [oxm('eth_src', MULTICAST_BIT, MULTICAST_BIT)], []));
    // RFC 5227 probes (sender 0.0.0.0) and DHCP before an address is bound, from any admitted port.
    flows.push(flow(ps, PRIORITY.ADDRESS_ALLOWED, 0, [oxm('eth_type', ETH_ARP), oxm('arp_spa', 0n)], toServices));
    flows.push(flow(ps, PRIORITY.ADDRESS_ALLOWED, 0, [oxm('eth_type', ETH_IPV4), oxm('ipv4_src', 0n), oxm('ip_proto', IP_UDP), oxm('udp_src', DHCP_CLIENT), oxm('udp_dst', DHCP_SERVER)], toServices));
    flows.push(flow(ps, PRIORITY.ADDRESS_DENIED, 0, [oxm('eth_type', ETH_ARP)], []));
    flows.push(flow(ps, PRIORITY.ADDRESS_DENIED, 0, [oxm('eth_type', ETH_IPV4)], []));
    // Other ethertypes (IPv6, LLDP...) are held to the port's MAC only, by classify.
    flows.push(flow(ps, PRIORITY.OTHER_ALLOWED, 0, [], toServices));
    // Services: only frames from local ports get here. weft answers DHCP
    // unless a network says otherwise (an exception below).
    const udp = [oxm('eth_type', ETH_IPV4), oxm('ip_proto', IP_UDP)];
    flows.push(flow(TABLE.SERVICES, PRIORITY.DHCP, 0, [...udp, oxm('udp_src', DHCP_CLIENT), oxm('udp_dst', DHCP_SERVER)], [apply([output(OFPP.CONTROLLER)])]));
    // A relay agent among the VMs (giaddr set, server port to server port, RFC 2131 4.1), as perfdhcp is.
    flows.push(flow(TABLE.SERVICES, PRIORITY.DHCP, 0, [...udp, oxm('udp_src', DHCP_SERVER), oxm('udp_dst', DHCP_SERVER)], [apply([output(OFPP.CONTROLLER)])]));
    flows.push(flow(TABLE.SERVICES, PRIORITY.DHCP, 0, [...udp, oxm('udp_src', DHCP_SERVER), oxm('udp_dst', DHCP_CLIENT)], []));
  }
  for (const p of local) flows.push(...portFlows(p));

  for (const [vni, { network, ports }] of [...byVni].sort(([a], [b]) => a - b)) {
    const ref = networkRefOf(network);
    const peers = tunnels.filter((t) => peerHas.get(t.peer)?.has(ref));
    for (const t of peers) {
      // Tunnel frames skip port security and services: they were checked on
      // the host they entered at, and DHCP never crosses a tunnel.
      flows.push(
        flow(TABLE.CLASSIFY, PRIORITY.CLASSIFY, vni, [oxm('in_port', BigInt(t.ofport)), oxm('tunnel_id', BigInt(vni))], [
          { type: 'write_metadata', metadata: BigInt(vni) | METADATA_FROM_TUNNEL, mask: METADATA_MASK },
          goto(TABLE.LEARN),
        ]),
      );
    }
    if (network.dhcp === false) {
      // The tenant runs its own DHCP: its packets are ordinary traffic.
      const udp = [networkMatch(vni, 'local'), oxm('eth_type', ETH_IPV4), oxm('ip_proto', IP_UDP)];
      flows.push(flow(TABLE.SERVICES, PRIORITY.DHCP_EXCEPTION, vni, [...udp, oxm('udp_src', DHCP_CLIENT), oxm('udp_dst', DHCP_SERVER)], [goto(TABLE.LEARN)]));
      flows.push(flow(TABLE.SERVICES, PRIORITY.DHCP_EXCEPTION, vni, [...udp, oxm('udp_src', DHCP_SERVER), oxm('udp_dst', DHCP_SERVER)], [goto(TABLE.LEARN)]));
      flows.push(flow(TABLE.SERVICES, PRIORITY.DHCP_EXCEPTION, vni, [...udp, oxm('udp_src', DHCP_SERVER), oxm('udp_dst', DHCP_CLIENT)], [goto(TABLE.LEARN)]));
    }
    // A MAC learned from a local port is reachable from anywhere; one learned
    // from a tunnel only from local ports, so no frame goes tunnel to tunnel.
    flows.push(flow(TABLE.LEARN, PRIORITY.LEARN, vni, [networkMatch(vni, 'local')], [apply([learnInto(TABLE.LOOKUP, vni, false), learnInto(TABLE.LOOKUP_FROM_TUNNEL, vni, false)]), goto(TABLE.LOOKUP)]));
    if (peers.length > 0) flows.push(flow(TABLE.LEARN, PRIORITY.LEARN, vni, [networkMatch(vni, 'tunnel')], [apply([learnInto(TABLE.LOOKUP, vni, true)]), goto(TABLE.LOOKUP_FROM_TUNNEL)]));
    const claimed = new Set<bigint>();
    for (const p of ports) {
      for (const m of p.macs) {
        // Two ports claiming one MAC: the lower ofport keeps it, so the entry is never ambiguous.
        if (claimed.has(m)) continue;
        claimed.add(m);
        for (const table of [TABLE.LOOKUP, TABLE.LOOKUP_FROM_TUNNEL]) {
          flows.push(flow(table, PRIORITY.STATIC_MAC, vni, [networkMatch(vni, 'any'), oxm('eth_dst', m)], [apply([output(p.ofport)])]));
        }
      }
    }
    // Flooding is an action list, not a group: the switch skips the ingress
    // port on output, so one flow serves every local ingress port.
    const toLocal = ports.map((p) => output(p.ofport));
    const toTunnels: Action[] = peers.length === 0 ? [] : [{ type: 'set_field', field: oxm('tunnel_id', BigInt(vni)) }, ...peers.map((t) => output(t.ofport))];
    flows.push(flow(TABLE.FLOOD, PRIORITY.FLOOD, vni, [networkMatch(vni, 'local')], [apply([...toLocal, ...toTunnels])]));
    if (peers.length > 0) flows.push(flow(TABLE.FLOOD, PRIORITY.FLOOD, vni, [networkMatch(vni, 'tunnel')], [apply(toLocal)]));
  }
  return flows;
}
