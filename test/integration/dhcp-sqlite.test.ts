// 2,000 clients do their DORA at once through handle(), with frames built by
// protocols/packet, on the SQLite store in a file: every client is ACKed, no
// address twice, and every ACKed lease is in the file after it is closed and
// opened again. The rate is printed as a comment, not asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { getOption } from '../../protocols/dhcp/index.js';
import { createDhcpService } from '../../src/dhcp/index.js';
import { Network, keyOf } from '../../src/model/index.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { put } from '../../src/store/store.js';
import { frame, mac, parseReply, quiet } from '../unit/dhcp-server/client.js';

const CLIENTS = 2_000;
const NET = 'bench/pool';

t.test(`${CLIENTS} concurrent DORAs: unique, durable across close and reopen`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-dhcp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'weft.db');
  const store = await openSqliteStore(file);
  const network = Network.parse({
    tenant: 'bench', name: 'pool', vlan: 100, vni: 100,
    subnets: [{ cidr: '198.18.64.0/18', gateway: '198.18.64.1', ranges: [{ start: '198.18.64.10', end: '198.18.127.250' }] }],
  });
  await store.commit([put('network', keyOf('network', network), network)]);
  const dhcp = createDhcpService({ store, log: quiet, sweepIntervalMs: 0 });

  const handle = async (f: Buffer) => (await dhcp.handle({ network: NET, host: 'hv1', port: 'p1', frame: f }))?.map(parseReply)[0];
  const doraOf = async (i: number) => {
    const m = mac(i);
    const offer = await handle(frame('DISCOVER', { mac: m, xid: i, giaddr: '198.18.64.1', ethSrc: '02:00:5e:ff:00:01' }));
    if (offer?.type !== 'OFFER') return undefined;
    const ack = await handle(frame('REQUEST', {
      mac: m, xid: i, giaddr: '198.18.64.1', ethSrc: '02:00:5e:ff:00:01',
      serverId: getOption(offer.message, 'serverId')!, requestedIp: offer.message.yiaddr,
    }));
    return ack?.type === 'ACK' ? { mac: m, ip: ack.message.yiaddr } : undefined;
  };

  const started = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => doraOf(i + 1)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  t.comment(`${CLIENTS} DORAs in ${seconds.toFixed(3)} s: ${Math.round(CLIENTS / seconds)} DORA/s in process, SQLite file store`);

  const acked = results.filter((r) => r !== undefined);
  t.equal(acked.length, CLIENTS, 'every client ACKed');
  t.equal(new Set(acked.map((r) => r.ip)).size, CLIENTS, 'no address twice');
  t.equal(dhcp.stats().errors, 0);
  await dhcp.close();
  await store.close();

  const reopened = await openSqliteStore(file);
  t.teardown(() => reopened.close());
  const stored = new Map((await reopened.list('lease', { prefix: `${NET}/` })).map((l) => [l.value.ip, l.value]));
  const missing = acked.filter((r) => stored.get(r.ip)?.mac !== r.mac || stored.get(r.ip)?.state !== 'bound');
  t.same(missing, [], 'every ACKed lease is in the store after reopening');
  t.ok((await reopened.check()).ok);
});
