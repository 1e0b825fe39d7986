// DORAs per second through the DHCP service's one entry point, handle(), in
// this process: no switch, no sockets, the SQLite store in a file with every
// ACKed lease fsync'd before handle() returns the ACK. It measures what weft
// itself costs per DORA (decode, decide, commit, encode), the ceiling the
// lab's perfdhcp figure (`npm run bench -- dhcp`) can reach at most.
//
// The clients are relayed, as perfdhcp's are (`giaddr` set, from port 67).
// `concurrency` DORAs are in flight at all times (closed loop); each new DORA
// is a new MAC. The client side is kept cheap so that the figure is the
// server's: frames are built before the clock starts, the REQUEST's option 50
// is patched in place, replies are read at fixed offsets (and a sample is
// decoded in full, checked, and the store is checked at the end).
//
// WEFT_BENCH_DIR picks the directory (default the OS temp dir; the JSON says
// which file system it measured), WEFT_BENCH_DORAS the measured DORAs (default
// 12,000), WEFT_BENCH_CONCURRENCY the DORAs in flight (default 256).
import { join } from 'node:path';
import { createDhcpService, type DhcpService } from '../../src/dhcp/index.js';
import { Network, keyOf } from '../../src/model/index.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { put, type Store } from '../../src/store/store.js';
import { frame, mac, parseReply, quiet } from '../unit/dhcp-server/client.js';
import { fileSystemOf, loopTurns, quantiles, round, withBenchDir } from './stats.js';

const DORAS = Number(process.env.WEFT_BENCH_DORAS ?? 12_000);
const WARMUP = Math.min(2_000, DORAS);
const CONCURRENCY = Number(process.env.WEFT_BENCH_CONCURRENCY ?? 256);
const RELAY = '198.18.64.1';
const RELAY_MAC = '02:00:5e:ff:00:01';
const SERVER_ID = '198.18.64.1';

/** Ethernet (14) + IPv4 without options (20) + UDP (8). */
const DHCP_AT = 42;
const YIADDR_AT = DHCP_AT + 16;
/** The first option of a reply, after the 240-byte fixed part with its cookie. */
const FIRST_OPTION_AT = DHCP_AT + 240;
const OFFER = 2;
const ACK = 5;

interface Client {
  discover: Buffer;
  request: Buffer;
  /** Offset of option 50's four bytes in `request`. */
  requestedAt: number;
  /** Offset of the UDP checksum in `request` (zeroed after patching: allowed for IPv4). */
  udpChecksumAt: number;
}

function clientOf(n: number, xid: number): Client {
  const m = mac(n);
  const discover = frame('DISCOVER', { mac: m, xid, giaddr: RELAY, ethSrc: RELAY_MAC });
  // A placeholder address the driver overwrites with the offered one.
  const request = frame('REQUEST', { mac: m, xid, giaddr: RELAY, ethSrc: RELAY_MAC, serverId: SERVER_ID, requestedIp: '203.0.113.77' });
  const marker = Buffer.from([50, 4, 203, 0, 113, 77]);
  const at = request.indexOf(marker, FIRST_OPTION_AT);
  if (at < 0) throw new Error('option 50 not found in the REQUEST template');
  return { discover, request, requestedAt: at + 2, udpChecksumAt: 14 + 20 + 6 };
}

function typeOf(reply: Buffer | undefined): number {
  // replyOptions puts the message type first: 53, length 1, type.
  if (!reply || reply[FIRST_OPTION_AT] !== 53) return 0;
  return reply[FIRST_OPTION_AT + 2]!;
}

interface Figures {
  doras: number;
  concurrency: number;
  seconds: number;
  dorasPerSecond: number;
  /** From the DISCOVER into handle() to the ACK out of it. */
  doraLatencyMs: { p50: number; p99: number; max: number };
  /** The REQUEST alone: decide, the durable write, the ACK. */
  ackLatencyMs: { p50: number; p99: number };
  /**
   * CPU time (user and system) of the process per DORA: on a busy machine
   * the rate varies with what else runs, this much less.
   */
  cpuMsPerDora: number;
  /** How long one turn of the event loop took: the flush and its fsync block it. */
  eventLoopTurnMs: { p99: number; max: number };
  failed: number;
}

async function drive(dhcp: DhcpService, net: string, clients: Client[], concurrency: number): Promise<Figures & { acked: Map<string, number> }> {
  const doraMs: number[] = [];
  const ackMs: number[] = [];
  const acked = new Map<string, number>();
  let failed = 0;
  let next = 0;
  const turns = loopTurns();

  const one = async (i: number) => {
    const c = clients[i]!;
    const t0 = performance.now();
    const [offer] = (await dhcp.handle({ network: net, host: 'hv1', port: 'p1', frame: c.discover })) ?? [];
    if (typeOf(offer) !== OFFER) {
      failed++;
      return;
    }
    offer!.copy(c.request, c.requestedAt, YIADDR_AT, YIADDR_AT + 4);
    c.request.writeUInt16BE(0, c.udpChecksumAt);
    const t1 = performance.now();
    const [ack] = (await dhcp.handle({ network: net, host: 'hv1', port: 'p1', frame: c.request })) ?? [];
    const t2 = performance.now();
    if (typeOf(ack) !== ACK) {
      failed++;
      return;
    }
    doraMs.push(t2 - t0);
    ackMs.push(t2 - t1);
    acked.set(ack!.subarray(YIADDR_AT, YIADDR_AT + 4).join('.'), i);
    if (i % 997 === 0) {
      // A sample decoded in full: the fast path above reads what the codec says.
      const r = parseReply(ack!);
      if (r.type !== 'ACK' || r.message.yiaddr !== offer!.subarray(YIADDR_AT, YIADDR_AT + 4).join('.')) throw new Error('bad ACK');
    }
  };
  const worker = async () => {
    while (next < clients.length) await one(next++);
  };
  const start = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const turn = quantiles(turns());
  const dora = quantiles(doraMs);
  const ack = quantiles(ackMs);
  return {
    doras: doraMs.length,
    concurrency,
    seconds: round(seconds),
    dorasPerSecond: Math.round(doraMs.length / seconds),
    doraLatencyMs: { p50: dora(0.5), p99: dora(0.99), max: dora(1) },
    ackLatencyMs: { p50: ack(0.5), p99: ack(0.99) },
    cpuMsPerDora: round((used.user + used.system) / 1000 / Math.max(1, doraMs.length)),
    eventLoopTurnMs: { p99: turn(0.99), max: turn(1) },
    failed,
    acked,
  };
}

function poolNetwork(tenant: string): Network {
  return Network.parse({
    tenant, name: 'pool', vlan: 100, vni: 100,
    subnets: [{ cidr: '198.18.64.0/18', gateway: '198.18.64.1', ranges: [{ start: '198.18.64.10', end: '198.18.127.250' }], leaseTime: 3600 }],
  });
}

async function verify(store: Store, net: string, acked: Map<string, number>, clients: number): Promise<void> {
  const stored = await store.list('lease', { prefix: `${net}/` });
  const bound = new Map(stored.filter((l) => l.value.state === 'bound').map((l) => [l.value.ip, l.value.mac]));
  for (const [ip, i] of acked) {
    if (bound.get(ip) !== mac(i + clients)) throw new Error(`ACKed ${ip} to ${mac(i + clients)} but the store has ${bound.get(ip)}`);
  }
  const macs = new Set(bound.values());
  if (macs.size !== bound.size) throw new Error('a MAC holds two bound leases');
}

export function run(): Promise<unknown> {
  return withBenchDir('weft-bench-dhcp-', async (dir) => {
    const store = await openSqliteStore(join(dir, 'weft.db'));
    const warm = poolNetwork('warm');
    const bench = poolNetwork('bench');
    await store.commit([put('network', keyOf('network', warm), warm), put('network', keyOf('network', bench), bench)]);
    const dhcp = createDhcpService({ store, log: quiet, sweepIntervalMs: 0 });
    try {
      process.stderr.write(`  warm-up: ${WARMUP} DORAs\n`);
      const warmClients = Array.from({ length: WARMUP }, (_, i) => clientOf(1_000_000 + i, i));
      await drive(dhcp, 'warm/pool', warmClients, CONCURRENCY);
      const base = 1;
      const clients = Array.from({ length: DORAS }, (_, i) => clientOf(base + i, i));
      process.stderr.write(`  ${DORAS} DORAs, ${CONCURRENCY} in flight\n`);
      const { acked, ...figures } = await drive(dhcp, 'bench/pool', clients, CONCURRENCY);
      await verify(store, 'bench/pool', acked, base);
      if (acked.size !== figures.doras) throw new Error('an address was ACKed twice');
      return { dir, fileSystem: fileSystemOf(dir), node: process.version, ...figures, stats: dhcp.stats() };
    } finally {
      await dhcp.close();
      await store.close();
    }
  });
}
