// The pipeline's size and cost: flows per network and per port on a host,
// beside OVN's roughly 114 OpenFlow flows per logical switch plus 8 per
// bound port (measured with OVN 23.03 for issue 6), and the time to compute
// every host's desired flows for 1,000 networks on 100 hosts.
//
// WEFT_BENCH_ROUNDS sets how many times the 1,000 × 100 cluster is computed
// (default 5; the median is reported).
import { clusterInputs, desiredFlows, type ClusterHost, type FlowNetwork, type FlowPort, type PipelineInput } from '../../flows/index.js';
import { rng } from '../harness/rng.js';

const OVN_PER_NETWORK = 114;
const OVN_PER_PORT = 8;
const rounds = Number(process.env.WEFT_BENCH_ROUNDS ?? 5);

function network(i: number): FlowNetwork {
  return { tenant: `t${i % 50}`, name: `n${i}`, vlan: 1 + (i % 4094), vni: 1 + i };
}

function macOf(i: number): string {
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `52:54:00:${h((i >> 16) & 0xff)}:${h((i >> 8) & 0xff)}:${h(i & 0xff)}`;
}

type PortKind = 'mac-and-ip' | 'mac-only' | 'unknown';

function port(i: number, net: FlowNetwork, kind: PortKind): FlowPort {
  const ip = `198.18.${64 + ((i >> 8) & 63)}.${i & 0xff}`;
  return { name: `tap${i}`, ofport: i + 1, network: `${net.tenant}/${net.name}`, macs: kind === 'unknown' ? [] : [macOf(i)], ips: kind === 'mac-and-ip' ? [ip] : [] };
}

/** One host: `perNetwork[k]` ports in network k, `peers` other hosts having every one of them. */
function host(perNetwork: number[], peers: number, kind: PortKind = 'mac-and-ip'): PipelineInput {
  const networks = perNetwork.map((_, k) => network(k));
  let n = 0;
  const ports = perNetwork.flatMap((count, k) => Array.from({ length: count }, () => port(n++, networks[k]!, kind)));
  const refs = networks.map((x) => `${x.tenant}/${x.name}`);
  return {
    networks,
    ports,
    tunnels: Array.from({ length: peers }, (_, j) => ({ ofport: 10_000 + j, peer: `peer${j}` })),
    peers: Array.from({ length: peers }, (_, j) => ({ host: `peer${j}`, networks: refs })),
  };
}

const count = (input: PipelineInput) => desiredFlows(input).length;

function perHostFigures() {
  const perPort = (kind: PortKind) => count(host([2], 0, kind)) - count(host([1], 0, kind));
  const portFlows = { macAndOneIp: perPort('mac-and-ip'), macOnly: perPort('mac-only'), unknownMacAndIp: perPort('unknown') };
  const perNetwork = count(host([1, 1], 0)) - count(host([1], 0)) - portFlows.macAndOneIp;
  const fixed = count(host([1], 0)) - perNetwork - portFlows.macAndOneIp;
  const firstPeer = count(host([1], 1)) - count(host([1], 0));
  const furtherPeer = count(host([1], 2)) - count(host([1], 1));
  const extraIp = count({ ...host([1], 0), ports: [{ ...port(0, network(0), 'mac-and-ip'), ips: ['198.18.64.1', '198.18.64.2'] }] }) - count(host([1], 0));
  return {
    fixedPerHost: fixed,
    perNetwork,
    perNetworkWithRemoteHosts: perNetwork + firstPeer,
    perRemoteHostPerNetwork: furtherPeer,
    perPort: { ...portFlows, perFurtherIp: extraIp },
    baseline: { ovnPerLogicalSwitch: OVN_PER_NETWORK, ovnPerBoundPort: OVN_PER_PORT },
  };
}

/** 1,000 networks of 50 tenants on 100 hosts in a full tunnel mesh; each network has 4 VMs on 4 distinct hosts. */
function cluster(nNetworks = 1000, nHosts = 100, vmsPerNetwork = 4): { networks: FlowNetwork[]; hosts: ClusterHost[] } {
  // Seeded, so every run computes the same cluster.
  const random = rng(6);
  const networks = Array.from({ length: nNetworks }, (_, i) => network(i));
  const names = Array.from({ length: nHosts }, (_, i) => `hv${i + 1}`);
  const ports = new Map<string, FlowPort[]>(names.map((n) => [n, []]));
  let n = 0;
  for (const net of networks) {
    const chosen = new Set<number>();
    while (chosen.size < vmsPerNetwork) chosen.add(Math.floor(random() * nHosts));
    for (const h of chosen) {
      const list = ports.get(names[h]!)!;
      // Tagged as Proxmox does; no explicit binding.
      list.push({ name: `tap${n}`, ofport: list.length + 1, tag: net.vlan, macs: [macOf(n)], ips: [`198.18.${64 + ((n >> 8) & 63)}.${n & 0xff}`] });
      n++;
    }
  }
  const hosts = names.map((name, i) => ({ name, ports: ports.get(name)!, tunnels: names.flatMap((p, j) => (j === i ? [] : [{ ofport: 10_000 + j, peer: p }])) }));
  return { networks, hosts };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function run(): Promise<unknown> {
  const perHost = perHostFigures();
  const { networks, hosts } = cluster();
  const timings: number[] = [];
  let flows = 0;
  let perHostFlows: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const inputs = clusterInputs(networks, hosts);
    perHostFlows = hosts.map((h) => desiredFlows(inputs.get(h.name)!).length);
    timings.push(performance.now() - start);
    flows = perHostFlows.reduce((a, b) => a + b, 0);
  }
  timings.sort((a, b) => a - b);
  const median = timings[Math.floor(timings.length / 2)]!;
  const inputs = clusterInputs(networks, hosts);
  const ovn = hosts.map((h) => {
    const nets = new Set(h.ports.map((p) => p.tag));
    return OVN_PER_NETWORK * nets.size + OVN_PER_PORT * h.ports.length;
  });
  const ovnTotal = ovn.reduce((a, b) => a + b, 0);
  const portsPerHost = hosts.map((h) => h.ports.length);
  return {
    perHost,
    cluster: {
      networks: networks.length,
      hosts: hosts.length,
      vmsPerNetwork: 4,
      portsPerHost: { min: Math.min(...portsPerHost), max: Math.max(...portsPerHost) },
      networksPerHost: round(hosts.reduce((a, h) => a + new Set(h.ports.map((p) => p.tag)).size, 0) / hosts.length),
      computeAllHostsMs: { median: round(median), min: round(timings[0]!), max: round(timings[timings.length - 1]!), rounds },
      computePerHostMs: round(median / hosts.length, 3),
      flowsPerHost: { mean: round(flows / hosts.length, 1), max: Math.max(...perHostFlows) },
      flowsTotal: flows,
      baseline: { ovnEstimateTotal: ovnTotal, ovnEstimatePerHostMean: round(ovnTotal / hosts.length, 1), weftOverOvn: round(flows / ovnTotal, 3) },
      peersPerHost: inputs.get('hv1')!.peers.length,
    },
  };
}
