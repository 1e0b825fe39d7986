// A DHCP server on a SQLite file that runs DORAs until it is killed, printing
// `MAC IP` for each ACK only after handle() has returned it, as weft sends an
// ACK only then. Arguments: the store file, the first client number.
import { getOption } from '../../protocols/dhcp/index.js';
import { createDhcpService } from '../../src/dhcp/index.js';
import { Network, keyOf } from '../../src/model/index.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { put } from '../../src/store/store.js';
import { frame, mac, parseReply, quiet } from '../unit/dhcp-server/client.js';

const [file, first] = process.argv.slice(2) as [string, string];
const NET = 'crash/pool';
const store = await openSqliteStore(file);
const network = Network.parse({
  tenant: 'crash', name: 'pool', vlan: 100, vni: 100,
  subnets: [{ cidr: '198.18.64.0/18', gateway: '198.18.64.1', ranges: [{ start: '198.18.64.10', end: '198.18.127.250' }] }],
});
await store.commit([put('network', keyOf('network', network), network)]);
const dhcp = createDhcpService({ store, log: quiet, sweepIntervalMs: 0 });
const relay = { giaddr: '198.18.64.1', ethSrc: '02:00:5e:ff:00:01' };
const handle = async (f: Buffer) => (await dhcp.handle({ network: NET, host: 'hv1', port: 'p1', frame: f }))?.map(parseReply)[0];

let next = Number(first);
async function worker(): Promise<void> {
  for (;;) {
    const m = mac(next++);
    const offer = await handle(frame('DISCOVER', { mac: m, ...relay }));
    if (offer?.type !== 'OFFER') continue;
    const ack = await handle(frame('REQUEST', { mac: m, ...relay, serverId: getOption(offer.message, 'serverId')!, requestedIp: offer.message.yiaddr }));
    if (ack?.type === 'ACK') process.stdout.write(`${m} ${ack.message.yiaddr}\n`);
  }
}
process.stdout.write('ready\n');
await Promise.all(Array.from({ length: 64 }, worker));
