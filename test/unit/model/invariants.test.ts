// The model's invariants: each issue code is produced by exactly the
// situation it names, at the field that causes it, and the situations the
// design allows (overlap across tenants, an update against itself) are not
// issues.
import fc from 'fast-check';
import t from 'tap';
import { intervalsOverlap, intToIpv4 } from '../../../src/model/address.js';
import { checkAll, checkNetwork, checkReservation, checkSubnet, isConflict, type ModelIssue, type ModelIssueCode } from '../../../src/model/invariants.js';
import { NetworkInput, Subnet, type Network, type SubnetInput } from '../../../src/model/network.js';
import { Reservation } from '../../../src/model/reservation.js';
import { holds } from './holds.js';

function network(tenant: string, name: string, vlan: number, subnets: SubnetInput[] = [], vni?: number): Network {
  return NetworkInput.parse({ tenant, name, vlan, vni, subnets });
}

function reservation(mac: string, ip: string, net = 'blue', tenant = 'acme'): Reservation {
  return Reservation.parse({ tenant, network: net, mac, ip });
}

const blueSubnet: SubnetInput = {
  cidr: '192.0.2.0/24',
  gateway: '192.0.2.1',
  ranges: [
    { start: '192.0.2.100', end: '192.0.2.149' },
    { start: '192.0.2.150', end: '192.0.2.199' },
  ],
};
const blue = network('acme', 'blue', 11, [blueSubnet]);

/** Code and path of each issue, the part of an issue a caller acts on. */
function found(issues: ModelIssue[]): { code: ModelIssueCode; path: (string | number)[] }[] {
  return issues.map(({ code, path }) => ({ code, path }));
}

t.test('a valid network, with its subnet and reservations, has no issues', async (t) => {
  t.same(checkNetwork(blue, []), []);
  t.same(checkSubnet(blue.subnets[0]!), []);
  t.same(checkAll([blue], [reservation('52:54:00:00:00:01', '192.0.2.10'), reservation('52:54:00:00:00:02', '192.0.2.11')]), []);
});

t.test('each issue code is produced by exactly the situation it names, at the field that causes it', async (t) => {
  const cases: { rule: string; issues: () => ModelIssue[]; code: ModelIssueCode; path: (string | number)[] }[] = [
    {
      rule: 'a VLAN tag is unique across all tenants (one tag space per bridge)',
      issues: () => checkNetwork(network('globex', 'red', 11, [], 5011), [blue]),
      code: 'vlan-in-use',
      path: ['vlan'],
    },
    {
      rule: 'a VNI is unique across all tenants (one key space on the tunnels)',
      issues: () => checkNetwork(network('globex', 'red', 12, [], 11), [blue]),
      code: 'vni-in-use',
      path: ['vni'],
    },
    {
      rule: 'subnets of one network do not overlap',
      issues: () => checkNetwork(network('acme', 'blue', 11, [{ cidr: '192.0.2.0/24' }, { cidr: '192.0.2.128/25' }]), []),
      code: 'cidr-overlap',
      path: ['subnets', 1, 'cidr'],
    },
    {
      rule: 'subnets of two networks of one tenant do not overlap',
      issues: () => checkNetwork(network('acme', 'green', 12, [{ cidr: '198.51.100.0/24' }, { cidr: '192.0.2.64/26' }]), [blue]),
      code: 'cidr-overlap',
      path: ['subnets', 1, 'cidr'],
    },
    {
      rule: 'a gateway is inside its subnet',
      issues: () => checkSubnet(Subnet.parse({ cidr: '192.0.2.0/25', gateway: '192.0.2.129' })),
      code: 'gateway-outside-subnet',
      path: ['gateway'],
    },
    {
      rule: 'a gateway is outside the DHCP ranges',
      issues: () => checkSubnet(Subnet.parse({ ...blueSubnet, gateway: '192.0.2.150' })),
      code: 'gateway-in-range',
      path: ['gateway'],
    },
    {
      rule: 'a range ends at or after its start',
      issues: () => checkSubnet(Subnet.parse({ cidr: '192.0.2.0/24', ranges: [{ start: '192.0.2.20', end: '192.0.2.10' }] })),
      code: 'range-reversed',
      path: ['ranges', 0],
    },
    {
      rule: 'a range is inside its subnet',
      issues: () => checkSubnet(Subnet.parse({ cidr: '192.0.2.0/25', ranges: [{ start: '192.0.2.100', end: '192.0.2.200' }] })),
      code: 'range-outside-subnet',
      path: ['ranges', 0],
    },
    {
      rule: 'ranges of a subnet do not overlap',
      issues: () =>
        checkSubnet(
          Subnet.parse({
            cidr: '192.0.2.0/24',
            ranges: [
              { start: '192.0.2.10', end: '192.0.2.19' },
              { start: '192.0.2.30', end: '192.0.2.39' },
              { start: '192.0.2.19', end: '192.0.2.25' },
            ],
          }),
        ),
      code: 'ranges-overlap',
      path: ['ranges', 2],
    },
    {
      rule: 'a reservation is inside a subnet of its network',
      issues: () => checkReservation(reservation('52:54:00:00:00:01', '198.51.100.10'), blue, []),
      code: 'reservation-outside-subnets',
      path: ['ip'],
    },
    {
      rule: 'a reservation is not the gateway',
      issues: () => checkReservation(reservation('52:54:00:00:00:01', '192.0.2.1'), blue, []),
      code: 'reservation-is-gateway',
      path: ['ip'],
    },
    {
      rule: 'an address is reserved for one MAC',
      issues: () => checkReservation(reservation('52:54:00:00:00:02', '192.0.2.10'), blue, [reservation('52:54:00:00:00:01', '192.0.2.10')]),
      code: 'reservation-ip-in-use',
      path: ['ip'],
    },
    {
      rule: 'a MAC has one reservation per network',
      issues: () =>
        checkAll([blue], [reservation('52:54:00:00:00:01', '192.0.2.10'), reservation('52:54:00:00:00:01', '192.0.2.11')]),
      code: 'reservation-mac-in-use',
      path: ['mac'],
    },
    {
      rule: 'a DHCP range leaves out the network and broadcast addresses',
      issues: () => checkSubnet(Subnet.parse({ cidr: '192.0.2.0/24', ranges: [{ start: '192.0.2.100', end: '192.0.2.255' }] })),
      code: 'address-not-usable',
      path: ['ranges', 0],
    },
    {
      rule: 'a gateway is not the network or broadcast address',
      issues: () => checkSubnet(Subnet.parse({ cidr: '192.0.2.0/24', gateway: '192.0.2.0' })),
      code: 'address-not-usable',
      path: ['gateway'],
    },
    {
      rule: 'a reservation is not the network or broadcast address',
      issues: () => checkReservation(reservation('52:54:00:00:00:09', '192.0.2.255'), blue, []),
      code: 'address-not-usable',
      path: ['ip'],
    },
  ];
  for (const c of cases) {
    t.same(found(c.issues()), [{ code: c.code, path: c.path }], c.rule);
  }
  const codes: Record<ModelIssueCode, true> = {
    'vlan-in-use': true,
    'vni-in-use': true,
    'cidr-overlap': true,
    'gateway-outside-subnet': true,
    'gateway-in-range': true,
    'range-reversed': true,
    'range-outside-subnet': true,
    'ranges-overlap': true,
    'reservation-outside-subnets': true,
    'reservation-is-gateway': true,
    'reservation-mac-in-use': true,
    'reservation-ip-in-use': true,
    'address-not-usable': true,
  };
  t.same(new Set(cases.map((c) => c.code)), new Set(Object.keys(codes)), 'every code has its case');
});

t.test('a subnet issue inside a network is reported at the subnet\'s path', async (t) => {
  const n = network('acme', 'blue', 11, [{ cidr: '198.51.100.0/24' }, { ...blueSubnet, gateway: '192.0.2.120' }]);
  t.same(found(checkNetwork(n, [])), [{ code: 'gateway-in-range', path: ['subnets', 1, 'gateway'] }]);
});

t.test('overlapping subnets in different tenants are allowed: that is what isolation is for', async (t) => {
  const red = network('globex', 'red', 12, [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1' }]);
  t.same(checkNetwork(red, [blue]), []);
  t.same(checkAll([blue, red], []), []);
});

t.test('overlap within a tenant is refused whether the blocks are equal, nested either way, or in another network', async (t) => {
  for (const cidr of ['192.0.2.0/24', '192.0.2.0/23', '192.0.2.200/29', '0.0.0.0/0']) {
    const green = network('acme', 'green', 12, [{ cidr }]);
    t.same(found(checkNetwork(green, [blue])), [{ code: 'cidr-overlap', path: ['subnets', 0, 'cidr'] }], `${cidr} against 192.0.2.0/24`);
  }
  const adjacent = network('acme', 'green', 12, [{ cidr: '192.0.3.0/24' }, { cidr: '192.0.1.0/24' }]);
  t.same(checkNetwork(adjacent, [blue]), [], 'adjacent blocks do not overlap');
});

t.test('the VLAN and VNI spaces are shared: a defaulted VNI clashes with another network\'s explicit VNI', async (t) => {
  const explicit = network('acme', 'blue', 11, [], 12);
  t.same(found(checkNetwork(network('globex', 'red', 12), [explicit])), [{ code: 'vni-in-use', path: ['vni'] }]);
  t.same(
    found(checkNetwork(network('globex', 'red', 11), [blue])),
    [
      { code: 'vlan-in-use', path: ['vlan'] },
      { code: 'vni-in-use', path: ['vni'] },
    ],
    'the same tag defaults to the same VNI: both are reported',
  );
});

t.test('a conflict is reported once per other network it clashes with', async (t) => {
  const others = [network('acme', 'blue', 11, [], 100), network('globex', 'blue', 11, [], 101)];
  const issues = checkNetwork(network('initech', 'blue', 11, [], 102), others);
  t.same(found(issues), [
    { code: 'vlan-in-use', path: ['vlan'] },
    { code: 'vlan-in-use', path: ['vlan'] },
  ]);
  t.match(issues[0]!.message, /acme\/blue/, 'the message names the network in the way');
  t.match(issues[1]!.message, /globex\/blue/);
});

t.test('an update of a network is not in conflict with its stored self', async (t) => {
  const updated = network('acme', 'blue', 11, [{ ...blueSubnet, dns: ['192.0.2.53'] }]);
  t.same(checkNetwork(updated, [blue, network('acme', 'green', 12, [{ cidr: '198.51.100.0/24' }])]), []);
  t.same(
    found(checkNetwork(network('acme', 'blue', 12), [blue, network('acme', 'green', 12)])),
    [
      { code: 'vlan-in-use', path: ['vlan'] },
      { code: 'vni-in-use', path: ['vni'] },
    ],
    'but a changed tag is checked against the others',
  );
});

t.test('the gateway may be anywhere in the subnet outside the ranges, including next to them', async (t) => {
  for (const gateway of ['192.0.2.1', '192.0.2.99', '192.0.2.200', '192.0.2.254']) {
    t.same(checkSubnet(Subnet.parse({ ...blueSubnet, gateway })), [], gateway);
  }
  for (const gateway of ['192.0.2.100', '192.0.2.149', '192.0.2.199']) {
    t.same(found(checkSubnet(Subnet.parse({ ...blueSubnet, gateway }))), [{ code: 'gateway-in-range', path: ['gateway'] }], `${gateway} is a range end`);
  }
  t.same(checkSubnet(Subnet.parse({ cidr: '192.0.2.0/24', ranges: blueSubnet.ranges })), [], 'a subnet without a gateway is fine');
});

t.test('ranges may touch but not share an address, and may fill the usable part of the subnet', async (t) => {
  const touching = Subnet.parse({
    cidr: '203.0.113.0/24',
    ranges: [
      { start: '203.0.113.1', end: '203.0.113.127' },
      { start: '203.0.113.128', end: '203.0.113.254' },
    ],
  });
  t.same(checkSubnet(touching), []);
  const single = Subnet.parse({ cidr: '203.0.113.0/24', ranges: [{ start: '203.0.113.7', end: '203.0.113.7' }] });
  t.same(checkSubnet(single), [], 'a one-address range is a range');
  const halfOut = Subnet.parse({ cidr: '203.0.113.0/25', ranges: [{ start: '203.0.112.250', end: '203.0.113.5' }] });
  t.same(found(checkSubnet(halfOut)), [{ code: 'range-outside-subnet', path: ['ranges', 0] }], 'a range starting before the subnet');
});

t.test('an overlap message names the range as the caller numbered it, even after a reversed one', async (t) => {
  const s = Subnet.parse({
    cidr: '192.0.2.0/24',
    ranges: [
      { start: '192.0.2.50', end: '192.0.2.40' },
      { start: '192.0.2.10', end: '192.0.2.19' },
      { start: '192.0.2.15', end: '192.0.2.25' },
    ],
  });
  const issues = checkSubnet(s);
  t.same(found(issues), [
    { code: 'range-reversed', path: ['ranges', 0] },
    { code: 'ranges-overlap', path: ['ranges', 2] },
  ]);
  t.match(issues[1]!.message, /overlaps range 1$/);
});

t.test('reservations', async (t) => {
  t.same(checkReservation(reservation('52:54:00:00:00:01', '192.0.2.120'), blue, []), [], 'may sit inside a DHCP range (the allocator skips them)');
  const two = network('acme', 'blue', 11, [blueSubnet, { cidr: '198.51.100.0/24' }]);
  t.same(checkReservation(reservation('52:54:00:00:00:01', '198.51.100.10'), two, []), [], 'may be in any subnet of the network');
  t.same(
    checkReservation(reservation('52:54:00:00:00:01', '192.0.2.11'), blue, [reservation('52:54:00:00:00:01', '192.0.2.10')]),
    [],
    'a MAC\'s reservation replaced by a new address is not in conflict with the old one',
  );
  t.same(
    checkReservation(reservation('52:54:00:00:00:02', '192.0.2.10'), blue, [reservation('52:54:00:00:00:01', '192.0.2.10', 'green')]),
    [],
    'the same address may be reserved on another network',
  );
  t.same(
    checkReservation(reservation('52:54:00:00:00:02', '192.0.2.10'), blue, [reservation('52:54:00:00:00:01', '192.0.2.10', 'blue', 'globex')]),
    [],
    'the same address may be reserved in another tenant\'s network of the same name',
  );
  t.same(
    checkAll([blue, network('acme', 'green', 12, [{ cidr: '198.51.100.0/24' }])], [
      reservation('52:54:00:00:00:01', '192.0.2.10'),
      reservation('52:54:00:00:00:01', '198.51.100.10', 'green'),
    ]),
    [],
    'one MAC may have a reservation on each of several networks',
  );
  t.same(
    checkAll([blue], [reservation('52-54-00-AB-CD-EF', '192.0.2.10'), reservation('52:54:00:ab:cd:ef', '192.0.2.11')]).map((i) => i.code),
    ['reservation-mac-in-use'],
    'checkAll catches a MAC reserved twice whatever form it was written in',
  );
});

t.test('checkAll reports each clash once, on the later object, and names the object', async (t) => {
  const red = network('globex', 'red', 11, [], 5011);
  const issues = checkAll([blue, red], [reservation('52:54:00:00:00:01', '192.0.2.10'), reservation('52:54:00:00:00:02', '192.0.2.10')]);
  t.same(
    issues.map(({ code, path, object }) => ({ code, path, object })),
    [
      { code: 'vlan-in-use', path: ['vlan'], object: 'network globex/red' },
      { code: 'reservation-ip-in-use', path: ['ip'], object: 'reservation acme/blue/52:54:00:00:00:02' },
    ],
  );
});

t.test('conflicts with other objects are told apart from bad values', async (t) => {
  const conflicts: ModelIssueCode[] = ['vlan-in-use', 'vni-in-use', 'cidr-overlap', 'reservation-mac-in-use', 'reservation-ip-in-use'];
  const values: ModelIssueCode[] = [
    'gateway-outside-subnet',
    'gateway-in-range',
    'range-reversed',
    'range-outside-subnet',
    'ranges-overlap',
    'reservation-outside-subnets',
    'reservation-is-gateway',
  ];
  for (const code of conflicts) t.ok(isConflict({ code, path: [], message: '' }), `${code} is a conflict`);
  for (const code of values) t.notOk(isConflict({ code, path: [], message: '' }), `${code} is a bad value`);
});

// Properties. Random subnets live in 198.18.0.0/15, the benchmarking block.
const BASE = 0xc6120000;

/** A subnet of 198.18.0.0/15 with prefix 15-30, and its first address and size. */
const subnetBlock = fc
  .tuple(fc.integer({ min: 15, max: 30 }), fc.integer({ min: 0, max: 2 ** 17 - 1 }))
  .map(([prefix, offset]) => {
    const size = 2 ** (32 - prefix);
    const first = BASE + offset - (offset % size);
    return { cidr: `${intToIpv4(first)}/${prefix}`, first, size };
  });

/** Ranges inside a block: pairs of offsets, each ordered, some short and some wide. */
function rangesIn(b: { first: number; size: number }) {
  const offset = fc.integer({ min: 0, max: b.size - 1 });
  return fc.array(fc.tuple(offset, offset), { maxLength: 6 }).map((pairs) =>
    pairs.map(([x, y]) => ({ first: b.first + Math.min(x, y), last: b.first + Math.max(x, y) })),
  );
}

t.test('ranges-overlap is reported on exactly the ranges that overlap an earlier one (brute force)', async (t) => {
  holds(
    t,
    'random ranges in a random subnet',
    fc.property(
      subnetBlock.chain((b) => fc.tuple(fc.constant(b), rangesIn(b))),
      ([b, ranges]) => {
        const s = Subnet.parse({ cidr: b.cidr, ranges: ranges.map((r) => ({ start: intToIpv4(r.first), end: intToIpv4(r.last) })) });
        const flagged = checkSubnet(s).flatMap((i) => {
          if (i.code === 'address-not-usable') return [];
          if (i.code !== 'ranges-overlap') throw new Error(`unexpected ${i.code}`);
          return [i.path[1]];
        });
        // Two ranges overlap when the later of their starts lies in both.
        const shareAnAddress = (a: { first: number; last: number }, b: { first: number; last: number }) => {
          const x = Math.max(a.first, b.first);
          return x >= a.first && x <= a.last && x >= b.first && x <= b.last;
        };
        const expected = ranges.flatMap((r, j) => (ranges.slice(0, j).some((o) => shareAnAddress(o, r)) ? [j] : []));
        return JSON.stringify(flagged) === JSON.stringify(expected);
      },
    ),
  );
});

t.test('gateway-in-range is reported exactly when the gateway lies in some range', async (t) => {
  holds(
    t,
    'random gateway and disjoint-or-not ranges in a random subnet',
    fc.property(
      subnetBlock.chain((b) => fc.tuple(fc.constant(b), rangesIn(b), fc.integer({ min: 0, max: b.size - 1 }))),
      ([b, ranges, gwOffset]) => {
        const gw = b.first + gwOffset;
        const s = Subnet.parse({
          cidr: b.cidr,
          gateway: intToIpv4(gw),
          ranges: ranges.map((r) => ({ start: intToIpv4(r.first), end: intToIpv4(r.last) })),
        });
        const inRange = ranges.some((r) => intervalsOverlap(r, { first: gw, last: gw }));
        const gatewayIssues = checkSubnet(s).filter((i) => i.path[0] === 'gateway').map((i) => i.code);
        // The network and broadcast addresses are refused before ranges are looked at.
        if (b.size >= 4 && (gwOffset === 0 || gwOffset === b.size - 1)) return gatewayIssues.join() === 'address-not-usable';
        return gatewayIssues.includes('gateway-in-range') === inRange;
      },
    ),
  );
});

/** Addresses and CIDRs, mostly valid and some garbage, so checks meet what a corrupt store could hold. */
const address = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 2 ** 17 - 1 }).map((o) => intToIpv4(BASE + o)) },
  { weight: 1, arbitrary: fc.constantFrom('', '198.18.0.256', 'x', '::1') },
);
const cidr = fc.oneof(
  { weight: 4, arbitrary: subnetBlock.map((b) => b.cidr) },
  { weight: 1, arbitrary: fc.constantFrom('', '198.18.0.1/24', '198.18.0.0/33', 'nonsense', '0.0.0.0/0') },
);
const randomSubnet = fc.record({
  cidr,
  gateway: fc.option(address, { nil: undefined }),
  dhcp: fc.boolean(),
  ranges: fc.array(fc.record({ start: address, end: address }), { maxLength: 4 }),
  dns: fc.constant<string[]>([]),
  search: fc.constant<string[]>([]),
  routes: fc.constant<Network['subnets'][number]['routes']>([]),
  leaseTime: fc.constant(3600),
});
const randomNetwork = fc.record({
  tenant: fc.constantFrom('acme', 'globex'),
  name: fc.constantFrom('blue', 'green', 'red'),
  vlan: fc.integer({ min: 1, max: 4 }),
  vni: fc.integer({ min: 1, max: 4 }),
  mtu: fc.constant(1450),
  subnets: fc.array(randomSubnet, { maxLength: 3 }),
}) satisfies fc.Arbitrary<Network>;

function fieldAt(value: unknown, path: readonly (string | number)[]): boolean {
  let at: unknown = value;
  for (const step of path) {
    if (typeof at !== 'object' || at === null || !(step in at)) return false;
    at = (at as Record<string | number, unknown>)[step];
  }
  return at !== undefined;
}

t.test('checkNetwork never throws, and every issue it reports points at a field that exists', async (t) => {
  holds(
    t,
    'random networks against random others',
    fc.property(randomNetwork, fc.array(randomNetwork, { maxLength: 5 }), (n, others) =>
      checkNetwork(n, others).every((i) => fieldAt(n, i.path) && typeof i.message === 'string' && i.message.length > 0),
    ),
  );
});

t.test('checkAll never throws, and every issue points at a field of the object it names', async (t) => {
  const randomReservation = fc.record({
    tenant: fc.constantFrom('acme', 'globex'),
    network: fc.constantFrom('blue', 'green', 'red'),
    mac: fc.constantFrom('52:54:00:00:00:01', '52:54:00:00:00:02'),
    ip: address,
  });
  holds(
    t,
    'random networks and reservations',
    fc.property(fc.array(randomNetwork, { maxLength: 4 }), fc.array(randomReservation, { maxLength: 6 }), (networks, reservations) =>
      checkAll(networks, reservations).every((i) => {
        const [kind, key] = i.object.split(' ');
        const objects: { key: string; value: unknown }[] =
          kind === 'network'
            ? networks.map((n) => ({ key: `${n.tenant}/${n.name}`, value: n }))
            : reservations.map((r) => ({ key: `${r.tenant}/${r.network}/${r.mac}`, value: r }));
        return objects.some((o) => o.key === key && fieldAt(o.value, i.path));
      }),
    ),
  );
});
