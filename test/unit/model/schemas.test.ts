// The schemas: what a valid name, MAC, tag and network is, the defaults a
// caller may leave out, and errors that name the field.
import t from 'tap';
import { Cidr, Ipv4, Mac, Name, NetworkRef } from '../../../src/model/fields.js';
import { Host } from '../../../src/model/host.js';
import { keyOf } from '../../../src/model/index.js';
import { Lease } from '../../../src/model/lease.js';
import { DEFAULT_LEASE_TIME, DEFAULT_TUNNELLED_MTU, Network, NetworkInput, Subnet, Vlan, Vni } from '../../../src/model/network.js';
import { Port } from '../../../src/model/port.js';
import { Reservation } from '../../../src/model/reservation.js';
import { Tenant } from '../../../src/model/tenant.js';

t.test('a name is 1-63 of a-z, 0-9 and "-", starting with a letter or digit', async (t) => {
  for (const ok of ['a', '0', 'acme', 'blue-42', '9lives', 'a-', 'a'.repeat(63)]) {
    t.ok(Name.safeParse(ok).success, `${JSON.stringify(ok.length > 20 ? `${ok.length} chars` : ok)} is a name`);
  }
  const refused: [string, string][] = [
    ['', 'empty'],
    ['a'.repeat(64), '64 characters'],
    ['Acme', 'upper case'],
    ['-acme', 'a leading dash'],
    ['acme_1', 'an underscore'],
    ['acme.1', 'a dot'],
    ['ac me', 'a space'],
    ['acme/1', 'a slash'],
    ['café', 'a non-ASCII letter'],
    ['acme\n', 'a trailing newline'],
  ];
  for (const [name, why] of refused) t.notOk(Name.safeParse(name).success, `${why} is refused`);
});

t.test('a network reference is TENANT/NETWORK, both names', async (t) => {
  t.ok(NetworkRef.safeParse('acme/blue').success);
  for (const ref of ['acme', 'acme/', '/blue', 'Acme/blue', 'acme/blue/x', `acme/${'b'.repeat(64)}`]) {
    t.notOk(NetworkRef.safeParse(ref).success, `${JSON.stringify(ref)} is refused`);
  }
});

t.test('a MAC is stored lower-case with colons whatever the case and separator it arrives with', async (t) => {
  const cases: [string, string][] = [
    ['52:54:00:12:34:56', '52:54:00:12:34:56'],
    ['52:54:00:AB:CD:EF', '52:54:00:ab:cd:ef'],
    ['52-54-00-ab-cd-ef', '52:54:00:ab:cd:ef'],
    ['52-54-00-AB-CD-EF', '52:54:00:ab:cd:ef'],
  ];
  for (const [input, stored] of cases) t.equal(Mac.parse(input), stored, `${input} is stored as ${stored}`);
  const refused = [
    '52:54:00:12:34',
    '52:54:00:12:34:56:78',
    '525400123456',
    '5254.0012.3456',
    '52:54:00:12:34:5g',
    '52:54:0:12:34:56',
    '52:54-00:12:34:56', // one separator throughout, not a mix
    ' 52:54:00:12:34:56',
  ];
  for (const mac of refused) t.notOk(Mac.safeParse(mac).success, `${JSON.stringify(mac)} is refused`);
});

t.test('addresses and CIDRs are refused with a message that says what was expected', async (t) => {
  t.ok(Ipv4.safeParse('192.0.2.1').success);
  t.match(Ipv4.safeParse('192.0.2.256').error?.issues[0]?.message, /IPv4 address/);
  t.ok(Cidr.safeParse('192.0.2.0/24').success);
  t.match(Cidr.safeParse('192.0.2.0/33').error?.issues[0]?.message, /IPv4 CIDR/);
  t.match(Cidr.safeParse('192.0.2.1/24').error?.issues[0]?.message, /host bits set; did you mean 192\.0\.2\.0\/24\?/);
});

t.test('a VLAN tag is 1-4094', async (t) => {
  for (const v of [1, 2, 4093, 4094]) t.ok(Vlan.safeParse(v).success, `${v} is a tag`);
  for (const v of [0, 4095, 4096, -1, 1.5, Number.NaN]) t.notOk(Vlan.safeParse(v).success, `${v} is refused`);
  t.notOk(Vlan.safeParse('100').success, 'a string is refused');
});

t.test('a VNI is 1-16777215 (24 bits, 0 reserved)', async (t) => {
  for (const v of [1, 4094, 16_777_214, 16_777_215]) t.ok(Vni.safeParse(v).success, `${v} is a VNI`);
  for (const v of [0, 16_777_216, -1, 2.5]) t.notOk(Vni.safeParse(v).success, `${v} is refused`);
});

t.test('a network given without a VNI takes its VLAN tag as VNI', async (t) => {
  const n = NetworkInput.parse({ tenant: 'acme', name: 'blue', vlan: 11 });
  t.equal(n.vni, 11);
  t.ok(Network.safeParse(n).success, 'the result is a network');
  t.equal(NetworkInput.parse({ tenant: 'acme', name: 'blue', vlan: 11, vni: 5011 }).vni, 5011, 'an explicit VNI is kept');
  t.notOk(NetworkInput.safeParse({ tenant: 'acme', name: 'blue', vlan: 11, vni: 0 }).success, 'an explicit VNI is still checked');
  t.notOk(Network.safeParse({ tenant: 'acme', name: 'blue', vlan: 11 }).success, 'a stored network always has a VNI');
});

t.test('defaults: MTU 1450 for a tunnelled network, no subnets; DHCP on, lease time 3600 s, empty lists per subnet', async (t) => {
  const n = NetworkInput.parse({ tenant: 'acme', name: 'blue', vlan: 11 });
  t.equal(n.mtu, 1450);
  t.equal(DEFAULT_TUNNELLED_MTU, 1450);
  t.same(n.subnets, []);
  const s = Subnet.parse({ cidr: '192.0.2.0/24' });
  t.same(s, { cidr: '192.0.2.0/24', dhcp: true, ranges: [], dns: [], search: [], routes: [], leaseTime: 3600 });
  t.equal(DEFAULT_LEASE_TIME, 3600);
  t.equal(Subnet.parse({ cidr: '192.0.2.0/24', dhcp: false, leaseTime: 60 }).leaseTime, 60, 'a given value wins');
  t.equal(Subnet.parse({ cidr: '192.0.2.0/24', dhcp: false }).dhcp, false);
});

t.test('defaults are fresh for every parse, never shared between objects', async (t) => {
  const a = Subnet.parse({ cidr: '192.0.2.0/24' });
  a.ranges.push({ start: '192.0.2.10', end: '192.0.2.20' });
  t.same(Subnet.parse({ cidr: '192.0.2.0/24' }).ranges, []);
});

t.test('MTU is 576-9000 and lease time 60 s to one year', async (t) => {
  const base = { tenant: 'acme', name: 'blue', vlan: 11, vni: 11 };
  for (const mtu of [576, 1500, 9000]) t.ok(Network.safeParse({ ...base, mtu }).success, `MTU ${mtu}`);
  for (const mtu of [575, 9001]) t.notOk(Network.safeParse({ ...base, mtu }).success, `MTU ${mtu} is refused`);
  for (const leaseTime of [59, 31_536_001]) {
    t.notOk(Subnet.safeParse({ cidr: '192.0.2.0/24', leaseTime }).success, `lease time ${leaseTime} is refused`);
  }
});

t.test('an error names the path of the bad field', async (t) => {
  const paths = (r: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) => r.error?.issues.map((i) => i.path) ?? [];
  t.same(paths(Tenant.safeParse({ name: 'Acme' })), [['name']]);
  t.same(paths(NetworkInput.safeParse({ tenant: 'acme', name: 'blue', vlan: 4095 })), [['vlan']]);
  t.same(
    paths(
      NetworkInput.safeParse({
        tenant: 'acme',
        name: 'blue',
        vlan: 11,
        subnets: [{ cidr: '192.0.2.0/24' }, { cidr: '198.51.100.1/24', gateway: '198.51.100.300', ranges: [{ start: '198.51.100.10', end: 'x' }] }],
      }),
    ),
    [
      ['subnets', 1, 'cidr'],
      ['subnets', 1, 'gateway'],
      ['subnets', 1, 'ranges', 0, 'end'],
    ],
    'every bad field of a nested subnet, at once',
  );
  t.same(paths(Reservation.safeParse({ tenant: 'acme', network: 'blue', mac: '52:54:00:12:34', ip: '192.0.2.5' })), [['mac']]);
  t.same(paths(Port.safeParse({ host: 'hv1', name: 'tap100i0', ips: ['192.0.2.5', '192.0.2'] })), [['ips', 1]]);
});

t.test('a reservation, a port and a lease store their MAC normalised', async (t) => {
  t.equal(Reservation.parse({ tenant: 'acme', network: 'blue', mac: '52-54-00-AB-CD-EF', ip: '192.0.2.5' }).mac, '52:54:00:ab:cd:ef');
  t.equal(Port.parse({ host: 'hv1', name: 'tap100i0', mac: '52-54-00-AB-CD-EF' }).mac, '52:54:00:ab:cd:ef');
  const lease = Lease.parse({ tenant: 'acme', network: 'blue', ip: '192.0.2.5', mac: '52:54:00:AB:CD:EF', state: 'bound', start: 0, expiresAt: 3_600_000 });
  t.equal(lease.mac, '52:54:00:ab:cd:ef');
});

t.test('a host starts pending on br-int with VXLAN', async (t) => {
  t.same(Host.parse({ name: '4f6c1c2e-7d7a-4a43-9f0e-1f2a3b4c5d6e' }), {
    name: '4f6c1c2e-7d7a-4a43-9f0e-1f2a3b4c5d6e',
    state: 'pending',
    encap: 'vxlan',
    bridge: 'br-int',
  });
  t.equal(Host.parse({ name: 'pve1', bridge: 'vmbr2' }).bridge, 'vmbr2', 'Proxmox bridges keep their name');
  t.notOk(Host.safeParse({ name: 'pve1', bridge: 'a-bridge-name-of-16' }).success, 'a bridge name is at most 15 characters (IFNAMSIZ)');
});

t.test('keys: a tenant\'s objects share the prefix "tenant/", and a lease is keyed by its address', async (t) => {
  const network = Network.parse({ tenant: 'acme', name: 'blue', vlan: 11, vni: 11 });
  const reservation = Reservation.parse({ tenant: 'acme', network: 'blue', mac: '52-54-00-AB-CD-EF', ip: '192.0.2.5' });
  const lease = Lease.parse({ tenant: 'acme', network: 'blue', ip: '192.0.2.5', mac: '52:54:00:ab:cd:ef', state: 'bound', start: 0, expiresAt: 1 });
  t.equal(keyOf('tenant', { name: 'acme' }), 'acme');
  t.equal(keyOf('network', network), 'acme/blue');
  t.equal(keyOf('reservation', reservation), 'acme/blue/52:54:00:ab:cd:ef');
  t.equal(keyOf('lease', lease), 'acme/blue/192.0.2.5');
  t.equal(keyOf('port', Port.parse({ host: 'hv1', name: 'tap100i0' })), 'hv1/tap100i0');
  t.equal(keyOf('host', Host.parse({ name: 'hv1' })), 'hv1');
});
