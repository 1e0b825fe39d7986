// The pipeline's promises, checked by walking frames through every host's
// switch of random clusters (two tenants with the same subnet, ports bound
// by tag or explicitly, MACs and addresses known or not).
import fc from 'fast-check';
import t from 'tap';
import { arpRequest, BROADCAST, dhcpDiscover, ethFrame, ipv4Frame, METADATA_NETWORK_MASK, type Walk } from '../../../flows/index.js';
import { holds } from '../model/holds.js';
import { at, clusterOf, fullMesh, macOf, sameNetwork, topologyArb, TUNNEL_BASE, type SimPort, type Topology } from './topology.js';

const RUNS = 300;

function bound(t: Topology): SimPort[] {
  return t.ports.filter((p) => p.network !== undefined);
}

/** Split horizon: no host sends a frame that came in from a tunnel out through a tunnel. */
function tunnelToTunnel(w: Walk): boolean {
  let fromTunnel = false;
  for (const s of w.trace) {
    if (s.kind === 'ingress') fromTunnel = s.inPort >= TUNNEL_BASE;
    else if (s.kind === 'output' && s.to === 'tunnel' && fromTunnel) return true;
  }
  return false;
}

function noTunnelOutput(w: Walk): boolean {
  return !w.trace.some((s) => s.kind === 'output' && s.to === 'tunnel');
}

/** A topology and one of its bound ports. */
const withPort = topologyArb.filter((t) => bound(t).length > 0).chain((t) => fc.record({ t: fc.constant(t), i: fc.nat({ max: bound(t).length - 1 }) }));

t.test('a broadcast from any port reaches exactly the other ports of its network, on every host, once each', async (t) => {
  holds(
    t,
    'broadcast reach',
    fc.property(withPort, fc.constantFrom('eth', 'arp'), ({ t: topo, i }, kind) => {
      const src = bound(topo)[i]!;
      const frame = kind === 'eth' ? ethFrame({ src: src.mac, dst: BROADCAST }) : arpRequest(src.mac, src.ip, '192.0.2.254');
      const w = clusterOf(topo).send(src.host, src.ofport, frame);
      const expected = bound(topo)
        .filter((p) => p !== src && sameNetwork(p, src))
        .map(at)
        .sort();
      return !w.loop && w.controller.length === 0 && JSON.stringify(w.delivered.map(at).sort()) === JSON.stringify(expected);
    }),
    RUNS,
  );
});

t.test('a frame of one network never reaches a port of another, nor goes from tunnel to tunnel, whatever was learned before', async (t) => {
  holds(
    t,
    'isolation',
    fc.property(
      topologyArb.filter((t) => bound(t).length > 0),
      fc.array(fc.record({ from: fc.nat(), to: fc.nat(), kind: fc.constantFrom('unicast', 'broadcast', 'ip', 'foreign', 'moved') }), { minLength: 1, maxLength: 12 }),
      (topo, sends) => {
        const cluster = clusterOf(topo);
        const ports = topo.ports;
        for (const s of sends) {
          const src = ports[s.from % ports.length]!;
          const dst = ports[s.to % ports.length]!;
          const frame =
            s.kind === 'broadcast'
              ? ethFrame({ src: src.mac, dst: BROADCAST })
              : s.kind === 'ip'
                ? ipv4Frame(src.mac, dst.mac, src.ip, dst.ip, { proto: 6, srcPort: 40000, dstPort: 22 })
                : s.kind === 'foreign'
                  ? ethFrame({ src: src.mac, dst: macOf(9999) })
                  : s.kind === 'moved'
                    ? // Another VM's MAC: a migration when weft does not know the MAC, a spoof when it does.
                      ethFrame({ src: dst.mac, dst: BROADCAST })
                    : ethFrame({ src: src.mac, dst: dst.mac });
          const w = cluster.send(src.host, src.ofport, frame);
          if (w.loop || tunnelToTunnel(w)) return false;
          for (const d of w.delivered) {
            const to = ports.find((p) => p.host === d.host && p.ofport === d.port);
            if (!to || !sameNetwork(src, to) || to === src) return false;
          }
          if (src.network === undefined && (w.delivered.length > 0 || w.controller.length > 0)) return false;
        }
        return true;
      },
    ),
    RUNS,
  );
});

t.test('after A to B and B to A, unicast from A to B reaches B only, on one host or across a tunnel', async (t) => {
  const pair = topologyArb
    .filter((t) => bound(t).some((a) => bound(t).some((b) => a !== b && sameNetwork(a, b))))
    .chain((topo) => {
      const pairs = bound(topo).flatMap((a) => bound(topo).filter((b) => a !== b && sameNetwork(a, b)).map((b) => [a, b] as const));
      return fc.record({ topo: fc.constant(topo), pair: fc.constantFrom(...pairs) });
    });
  holds(
    t,
    'learned unicast',
    fc.property(pair, ({ topo, pair: [a, b] }) => {
      const cluster = clusterOf(topo);
      cluster.send(a.host, a.ofport, ethFrame({ src: a.mac, dst: b.mac }));
      cluster.send(b.host, b.ofport, ethFrame({ src: b.mac, dst: a.mac }));
      const w = cluster.send(a.host, a.ofport, ethFrame({ src: a.mac, dst: b.mac }));
      return !w.loop && w.delivered.map(at).join() === at(b);
    }),
    RUNS,
  );
});

t.test('a port whose MAC is known cannot send with another source MAC', async (t) => {
  holds(
    t,
    'spoofed source dropped',
    fc.property(
      withPort.filter(({ t: topo, i }) => (bound(topo)[i]!.spec.macs ?? []).length > 0),
      fc.constantFrom('broadcast', 'arp', 'dhcp'),
      ({ t: topo, i }, kind) => {
        const src = bound(topo)[i]!;
        const spoofed = '52:54:00:ff:ff:01';
        const frame = kind === 'broadcast' ? ethFrame({ src: spoofed, dst: BROADCAST }) : kind === 'arp' ? arpRequest(spoofed, src.ip, '192.0.2.254') : dhcpDiscover(spoofed);
        const w = clusterOf(topo).send(src.host, src.ofport, frame);
        return !w.loop && w.delivered.length === 0 && w.controller.length === 0;
      },
    ),
    RUNS,
  );
});

t.test("a port whose addresses are known cannot claim another's", async (t) => {
  holds(
    t,
    'spoofed address dropped',
    fc.property(
      withPort.filter(({ t: topo, i }) => (bound(topo)[i]!.spec.ips ?? []).length > 0),
      fc.constantFrom('arp', 'ip'),
      ({ t: topo, i }, kind) => {
        const src = bound(topo)[i]!;
        const other = '198.51.100.7';
        const frame = kind === 'arp' ? arpRequest(src.mac, other, '192.0.2.254') : ipv4Frame(src.mac, BROADCAST, other, '192.0.2.255');
        const w = clusterOf(topo).send(src.host, src.ofport, frame);
        return !w.loop && w.delivered.length === 0 && w.controller.length === 0;
      },
    ),
    RUNS,
  );
});

t.test("DHCP from a client or a relay agent goes to the controller on its host with its network in metadata, never into a tunnel", async (t) => {
  holds(
    t,
    'DHCP to the controller',
    fc.property(withPort, fc.constantFrom('client', 'relay'), ({ t: topo, i }, kind) => {
      const src = bound(topo)[i]!;
      // A relay (RFC 2131 4.1: giaddr set, server port to server port) sends from its own address.
      const frame = kind === 'client' ? dhcpDiscover(src.mac) : ipv4Frame(src.mac, BROADCAST, src.ip, '255.255.255.255', { proto: 17, srcPort: 67, dstPort: 67 });
      const w = clusterOf(topo).send(src.host, src.ofport, frame);
      if (w.loop) return false;
      if (src.network!.dhcp === false) {
        // Left to the tenant's own server: flooded like any broadcast.
        return w.controller.length === 0 && w.delivered.every((d) => bound(topo).some((p) => at(p) === at(d) && sameNetwork(p, src)));
      }
      const [c, ...more] = w.controller;
      return more.length === 0 && c !== undefined && c.host === src.host && c.inPort === src.ofport && (c.metadata & METADATA_NETWORK_MASK) === BigInt(src.network!.vni) && w.delivered.length === 0 && noTunnelOutput(w);
    }),
    RUNS,
  );
});

t.test('DHCP server packets from a VM (a rogue server) reach no one, unless the network runs its own DHCP', async (t) => {
  holds(
    t,
    'rogue DHCP server dropped',
    fc.property(withPort, ({ t: topo, i }) => {
      const src = bound(topo)[i]!;
      const offer = ipv4Frame(src.mac, BROADCAST, src.ip, '255.255.255.255', { proto: 17, srcPort: 67, dstPort: 68 });
      const w = clusterOf(topo).send(src.host, src.ofport, offer);
      if (w.loop || w.controller.length > 0) return false;
      if (src.network!.dhcp === false) return w.delivered.every((d) => bound(topo).some((p) => at(p) === at(d) && sameNetwork(p, src)));
      return w.delivered.length === 0 && noTunnelOutput(w);
    }),
    RUNS,
  );
});

t.test('frames from an unbound port go nowhere', async (t) => {
  holds(
    t,
    'unbound dropped',
    fc.property(
      topologyArb.filter((t) => t.ports.some((p) => p.network === undefined)),
      (topo) => {
        const cluster = clusterOf(topo);
        return topo.ports
          .filter((p) => p.network === undefined)
          .every((p) => {
            const w = cluster.send(p.host, p.ofport, ethFrame({ src: p.mac, dst: BROADCAST }));
            const d = cluster.send(p.host, p.ofport, dhcpDiscover(p.mac));
            return w.delivered.length === 0 && d.delivered.length === 0 && d.controller.length === 0;
          });
      },
    ),
    RUNS,
  );
});

t.test('a frame from a tunnel never leaves through another, even when what a host learned is stale', async (t) => {
  // X sits on hv2, then migrates to hv1 and talks only to Y on hv2: hv2
  // learns X behind hv1's tunnel while hv3 still believes X is on hv2.
  const net = { tenant: 'acme', name: 'blue', vlan: 11, vni: 11 };
  const mesh = fullMesh(['hv1', 'hv2', 'hv3']);
  const topo: Topology = {
    networks: [net],
    hosts: ['hv1', 'hv2', 'hv3'].map((name) => ({ name, ports: [1, 2].map((ofport) => ({ name: `tap${ofport}`, ofport, tag: 11 })), tunnels: mesh.get(name)! })),
    ports: [],
  };
  const cluster = clusterOf(topo);
  const [x, y, z] = [macOf(1), macOf(2), macOf(3)];
  cluster.send('hv2', 1, ethFrame({ src: x, dst: BROADCAST }));
  cluster.send('hv2', 2, ethFrame({ src: y, dst: BROADCAST }));
  cluster.send('hv1', 1, ethFrame({ src: x, dst: y }));
  const w = cluster.send('hv3', 1, ethFrame({ src: z, dst: x }));
  t.notOk(tunnelToTunnel(w), 'hv2 does not relay hv3’s frame to hv1');
  t.notOk(w.loop);
  t.same(w.delivered.map(at), ['hv2:1'], 'the stale entry hv2 learned from its own port wins, until it ages out or X speaks');
});
