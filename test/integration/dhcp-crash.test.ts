// weft's DHCP server killed with SIGKILL in the middle of DORAs, three times
// on the same SQLite file: after each kill, every ACK the server had returned
// is in the file, bound to its client, no address is bound to two clients and
// no client holds two bindings. Offers are held in memory only, so a kill
// loses them, and that is all it loses: nothing was promised by them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openSqliteStore } from '../../src/store/sqlite.js';

const child = fileURLToPath(new URL('./dhcp-crash-child.js', import.meta.url));

/** Runs the child until it has printed `acks` ACKs, then kills it; the ACKs it printed. */
async function runAndKill(file: string, first: number, acks: number): Promise<Map<string, string>> {
  const p = spawn(process.execPath, [child, file, String(first)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked = new Map<string, string>();
  const exited = new Promise((resolve) => p.once('exit', resolve));
  for await (const line of createInterface({ input: p.stdout! })) {
    if (line === 'ready') continue;
    const [m, ip] = line.split(' ') as [string, string];
    acked.set(ip, m);
    if (acked.size === acks) p.kill('SIGKILL');
  }
  await exited;
  return acked;
}

t.test('SIGKILL in the middle of DORAs: every returned ACK is durable, no address or client twice', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-dhcp-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'weft.db');
  const all = new Map<string, string>();
  for (let round = 0; round < 3; round++) {
    const acked = await runAndKill(file, 1 + round * 100_000, 300);
    t.ok(acked.size >= 300, `round ${round}: killed after ${acked.size} ACKs`);
    t.same([...acked.keys()].filter((ip) => all.has(ip)), [], 'no address ACKed again that a client of an earlier round holds');
    for (const [ip, m] of acked) all.set(ip, m);
    const store = await openSqliteStore(file);
    const leases = (await store.list('lease', { prefix: 'crash/pool/' })).map((l) => l.value);
    const bound = leases.filter((l) => l.state === 'bound');
    const lost = [...all].filter(([ip, m]) => !bound.some((l) => l.ip === ip && l.mac === m));
    t.same(lost, [], `round ${round}: every ACK returned before the kill is in the store, bound to its client`);
    t.equal(new Set(bound.map((l) => l.mac)).size, bound.length, 'no client holds two bindings');
    t.notOk(leases.some((l) => l.state === 'offered'), 'no offer was stored');
    t.ok((await store.check()).ok);
    await store.close();
  }
});
