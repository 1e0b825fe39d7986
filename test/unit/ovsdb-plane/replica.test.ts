// The host replica against a fake ovsdb-server on the other end of a socket
// pair: it asks for monitor_cond_since, falls back to monitor_cond and then to
// monitor when the server does not know them, folds each shape of update, and
// after a reconnect resumes from its last transaction id when the server says
// found=true, keeping the rows it had instead of asking for them again.
import net, { type Socket } from 'node:net';
import t from 'tap';
import { JsonFramer } from '../../../protocols/ovsdb/index.js';
import { HostReplica, type ResumePoint } from '../../../src/ovsdb/replica.js';
import { Session } from '../../../src/ovsdb/session.js';
import { capturedSchemaJson } from '../ovsdb/fixtures.js';

const ROOT = '3b3a2d1c-0000-4000-8000-000000000001';
const BRIDGE = '3b3a2d1c-0000-4000-8000-000000000002';
const TXN = ['0f0e0d0c-0000-4000-8000-00000000000a', '0f0e0d0c-0000-4000-8000-00000000000b', '0f0e0d0c-0000-4000-8000-00000000000c'] as const;

type Request = { id: unknown; method: string; params: unknown[] };
/** What the fake server answers to a method: a result, or the error ovsdb-server gives for a method it lacks. */
type Answer = { result: unknown } | { error: string };

interface FakeServer {
  /** Methods asked, in order. */
  asked: Request[];
  send(v: unknown): void;
}

/** A Session whose peer answers from `answers` (get_schema is always the real vswitch schema). */
async function connect(answers: Record<string, Answer>): Promise<{ session: Session; server: FakeServer; done(): void }> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => listener.once('connection', r));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', () => r()));
  const socket = await accepted;
  socket.on('error', () => undefined);
  const framer = new JsonFramer();
  const server: FakeServer = { asked: [], send: (v) => socket.write(JSON.stringify(v)) };
  socket.on('data', (chunk: Buffer) => {
    for (const v of framer.push(chunk).values) {
      const req = v as Request;
      if (req.id === 'echo' || req.method === undefined) continue;
      server.asked.push(req);
      const answer: Answer = req.method === 'get_schema' ? { result: capturedSchemaJson() } : (answers[req.method] ?? { error: 'unknown method' });
      server.send('result' in answer ? { id: req.id, result: answer.result, error: null } : { id: req.id, result: null, error: answer.error });
    }
  });
  const session = new Session(client, 'tcp:fake', { probeInterval: 0 });
  return {
    session,
    server,
    done: () => {
      session.close();
      socket.destroy();
      listener.close();
    },
  };
}

const rootRow = (systemId: string, encapIp: string) => ({
  external_ids: ['map', [['system-id', systemId], ['weft-encap-ip', encapIp]]],
  bridges: ['uuid', BRIDGE],
  ovs_version: '3.1.0',
});
const bridgeRow = { name: 'br-int', ports: ['set', []], fail_mode: 'secure' };
const initial2 = { Open_vSwitch: { [ROOT]: { initial: rootRow('hv1', '198.18.0.1') } }, Bridge: { [BRIDGE]: { initial: bridgeRow } } };
const initial1 = { Open_vSwitch: { [ROOT]: { new: rootRow('hv1', '198.18.0.1') } }, Bridge: { [BRIDGE]: { new: bridgeRow } } };

async function until(what: string, fn: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('monitor_cond_since is asked first, for the columns weft needs, from the zero txn id', async (t) => {
  const { session, server, done } = await connect({ monitor_cond_since: { result: [false, TXN[0], initial2] } });
  t.teardown(done);
  const replica = new HostReplica(session);
  await replica.start();
  t.same(
    server.asked.map((r) => r.method),
    ['get_schema', 'monitor_cond_since'],
  );
  const [db, id, requests, since] = server.asked[1]!.params as [string, string, Record<string, unknown>, string];
  // A table's request is one object or an array of them (RFC 7047 allows both).
  const columns = (table: string) => ((Array.isArray(requests[table]) ? requests[table][0] : requests[table]) as { columns: string[] }).columns;
  t.equal(db, 'Open_vSwitch');
  t.equal(id, 'weft');
  t.equal(since, '00000000-0000-0000-0000-000000000000');
  t.ok(columns('Interface').includes('options'), 'tunnel options are monitored');
  t.notOk(columns('Interface').includes('statistics'), 'counters are not');
  t.equal(replica.strategy, 'monitor_cond_since');
  t.equal(replica.lastTxnId, TXN[0]);
  t.equal(replica.resumed, false);
  t.same(replica.facts(), { datapathTypes: [], bridges: ['br-int'], systemId: 'hv1', name: 'hv1', encapIp: '198.18.0.1', ovsVersion: '3.1.0' });
});

t.test('a server without monitor_cond_since gets monitor_cond, and update2 notifications fold in', async (t) => {
  const { session, server, done } = await connect({ monitor_cond: { result: initial2 } });
  t.teardown(done);
  const replica = new HostReplica(session);
  const changed: string[][] = [];
  replica.onChange((c) => changed.push(c.map((x) => x.table)));
  await replica.start();
  t.same(
    server.asked.map((r) => r.method),
    ['get_schema', 'monitor_cond_since', 'monitor_cond'],
  );
  t.equal(replica.strategy, 'monitor_cond');
  server.send({ id: null, method: 'update2', params: ['weft', { Open_vSwitch: { [ROOT]: { modify: { external_ids: ['map', [['weft-encap-ip', '198.18.0.9']]] } } } }] });
  await until('the update', () => replica.facts()?.encapIp === '198.18.0.9');
  t.equal(replica.facts()?.name, 'hv1', 'a modify of a map changes only the keys it names');
  t.same(changed.at(-1), ['Open_vSwitch']);
});

t.test('a server without either gets plain monitor, and update notifications fold in', async (t) => {
  const { session, server, done } = await connect({ monitor: { result: initial1 } });
  t.teardown(done);
  const replica = new HostReplica(session);
  await replica.start();
  t.same(
    server.asked.map((r) => r.method),
    ['get_schema', 'monitor_cond_since', 'monitor_cond', 'monitor'],
  );
  t.equal(replica.strategy, 'monitor');
  t.equal(replica.facts()?.name, 'hv1');
  const newRoot = rootRow('hv1', '198.18.0.5');
  server.send({ id: null, method: 'update', params: ['weft', { Open_vSwitch: { [ROOT]: { old: { external_ids: rootRow('hv1', '198.18.0.1').external_ids }, new: newRoot } } }] });
  await until('the update', () => replica.facts()?.encapIp === '198.18.0.5');
  t.pass('the new row replaced the old');
});

t.test('an error other than "unknown method" is not a reason to fall back: start fails', async (t) => {
  const { session, server, done } = await connect({ monitor_cond_since: { error: 'unknown database' } });
  t.teardown(done);
  await t.rejects(new HostReplica(session).start(), /unknown database/);
  t.same(
    server.asked.map((r) => r.method),
    ['get_schema', 'monitor_cond_since'],
  );
});

t.test('after a reconnect, found=true resumes from the last txn id and keeps the rows', async (t) => {
  // First session: the initial state, then an update3 that moves the txn id on.
  let point: ResumePoint | undefined;
  {
    const { session, server, done } = await connect({ monitor_cond_since: { result: [false, TXN[0], initial2] } });
    const replica = new HostReplica(session);
    await replica.start();
    server.send({ id: null, method: 'update3', params: ['weft', TXN[1], { Bridge: { [BRIDGE]: { modify: { fail_mode: 'standalone' } } } }] });
    await until('update3', () => replica.lastTxnId === TXN[1]);
    point = replica.resumePoint();
    done();
  }
  t.ok(point, 'the session left a resume point');
  // Second session: the server still knows TXN[1], so it sends only what changed since.
  const { session, server, done } = await connect({
    monitor_cond_since: { result: [true, TXN[2], { Open_vSwitch: { [ROOT]: { modify: { external_ids: ['map', [['weft-encap-ip', '198.18.0.7']]] } } } }] },
  });
  t.teardown(done);
  const replica = new HostReplica(session, point);
  await replica.start();
  const since = (server.asked[1]!.params as unknown[])[3];
  t.equal(since, TXN[1], 'asked for changes since the last txn id it saw');
  t.equal(replica.resumed, true);
  t.equal(replica.lastTxnId, TXN[2]);
  const facts = replica.facts()!;
  t.equal(facts.name, 'hv1', 'rows from before the reconnect are kept');
  t.equal(facts.encapIp, '198.18.0.7', 'and the change since is applied');
  t.same(facts.bridges, ['br-int']);
  const bridge = replica.replica.tables.get('Bridge')!.rows.get(BRIDGE)!;
  t.same(bridge.fail_mode, ['standalone'], 'including the update3 of the first session');
});

t.test('found=false after a reconnect means a full resync: the old rows are dropped', async (t) => {
  let point: ResumePoint | undefined;
  {
    const { session, done } = await connect({ monitor_cond_since: { result: [false, TXN[0], initial2] } });
    const replica = new HostReplica(session);
    await replica.start();
    point = replica.resumePoint();
    done();
  }
  const fresh = { Open_vSwitch: { [ROOT]: { initial: { external_ids: ['map', [['system-id', 'hv1']]], bridges: ['set', []] } } } };
  const { session, done } = await connect({ monitor_cond_since: { result: [false, TXN[2], fresh] } });
  t.teardown(done);
  const replica = new HostReplica(session, point);
  await replica.start();
  t.equal(replica.resumed, false);
  t.equal(replica.replica.tables.get('Bridge')!.rows.size, 0, 'the bridge the old replica had is gone');
  t.equal(replica.facts()?.encapIp, undefined);
});
