// Random clusters for the pipeline's properties: hosts in a full tunnel
// mesh, networks of two tenants that reuse the same subnet, and ports bound
// by tag or explicitly, with or without known MACs and addresses.
import fc from 'fast-check';
import { clusterInputs, desiredFlows, SimulatedCluster, networkRefOf, type ClusterHost, type FlowNetwork, type FlowPort } from '../../../flows/index.js';

export interface SimPort {
  host: string;
  ofport: number;
  network: FlowNetwork | undefined;
  /** The MAC the VM really uses, known to weft or not. */
  mac: string;
  /** The address the VM really uses (tenant subnets overlap on purpose). */
  ip: string;
  spec: FlowPort;
}

export interface Topology {
  networks: FlowNetwork[];
  hosts: ClusterHost[];
  ports: SimPort[];
}

export const TUNNEL_BASE = 1000;

export function macOf(i: number): string {
  return `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
}

export function tunnelPort(peerIndex: number): number {
  return TUNNEL_BASE + peerIndex;
}

export function fullMesh(names: string[]): Map<string, { ofport: number; peer: string }[]> {
  return new Map(names.map((n) => [n, names.flatMap((p, j) => (p === n ? [] : [{ ofport: tunnelPort(j), peer: p }]))]));
}

const portArb = fc.record({
  host: fc.nat(),
  network: fc.nat(),
  bindBy: fc.constantFrom('tag', 'binding', 'unbound'),
  macKnown: fc.boolean(),
  ipKnown: fc.boolean(),
});

export const topologyArb: fc.Arbitrary<Topology> = fc
  .record({
    hosts: fc.integer({ min: 1, max: 4 }),
    networks: fc.array(fc.record({ tenant: fc.constantFrom('acme', 'globex'), dhcp: fc.boolean() }), { minLength: 1, maxLength: 4 }),
    ports: fc.array(portArb, { minLength: 1, maxLength: 10 }),
  })
  .map(({ hosts: nHosts, networks: nets, ports: specs }) => {
    const networks: FlowNetwork[] = nets.map((n, i) => ({ tenant: n.tenant, name: `net${i}`, vlan: 11 + i, vni: 5000 + i, dhcp: n.dhcp }));
    const names = Array.from({ length: nHosts }, (_, i) => `hv${i + 1}`);
    const mesh = fullMesh(names);
    const nextOfport = new Map(names.map((n) => [n, 1]));
    const perNetwork = new Map<number, number>();
    const ports: SimPort[] = specs.map((s, i) => {
      const host = names[s.host % nHosts]!;
      const ofport = nextOfport.get(host)!;
      nextOfport.set(host, ofport + 1);
      const network = networks[s.network % networks.length]!;
      const k = (perNetwork.get(network.vni) ?? 0) + 1;
      perNetwork.set(network.vni, k);
      const mac = macOf(i + 1);
      const ip = `192.0.2.${10 + k}`;
      const port: FlowPort = {
        name: `tap${i}`,
        ofport,
        ...(s.bindBy === 'tag' ? { tag: network.vlan } : s.bindBy === 'binding' ? { network: networkRefOf(network), tag: 4000 } : { tag: 4001 }),
        macs: s.macKnown ? [mac] : [],
        ips: s.ipKnown ? [ip] : [],
      };
      return { host, ofport, network: s.bindBy === 'unbound' ? undefined : network, mac, ip, spec: port };
    });
    const hosts: ClusterHost[] = names.map((name) => ({ name, ports: ports.filter((p) => p.host === name).map((p) => p.spec), tunnels: mesh.get(name)! }));
    return { networks, hosts, ports };
  });

export function clusterOf(t: Topology): SimulatedCluster {
  const inputs = clusterInputs(t.networks, t.hosts);
  return new SimulatedCluster(t.hosts.map((h) => ({ name: h.name, flows: desiredFlows(inputs.get(h.name)!), tunnels: h.tunnels })));
}

/** host:ofport, the way the assertions compare where frames end up. */
export function at(p: { host: string; port?: number; ofport?: number }): string {
  return `${p.host}:${p.ofport ?? p.port}`;
}

export function sameNetwork(a: SimPort, b: SimPort): boolean {
  return a.network !== undefined && b.network !== undefined && a.network.vni === b.network.vni;
}
