// Random histories against a real ovsdb-server: whatever the operator built
// and whatever was broken by hand, one reconcile converges the host, the next
// sends nothing, and every row of the operator's is exactly as it was.
import t from 'tap';
import fc from 'fast-check';
import { Ovs } from '../harness/ovs.js';
import { OVS, requirement } from '../harness/require.js';
import type { Replica, Row } from '../../protocols/ovsdb/index.js';
import { reconcile, isOwned, PEER_KEY, type ReconcileInput } from '../../src/ovsdb/reconcile.js';
import { Host } from '../../src/model/host.js';
import { readReplica, schema, transact } from './ovsdb-reconcile-db.js';

const PEERS = ['hv2', 'hv3', 'hv4', 'hv5'];
const TARGETS = ['tcp:198.19.1.254:6653', 'tcp:198.19.2.254:6653', 'tcp:198.19.3.254:6653'];
const DAMAGE = ['del-tunnel', 'fail-standalone', 'tunnel-options', 'drop-controller', 'add-vm-port', 'drop-protocol'] as const;
type Damage = (typeof DAMAGE)[number];

interface Step {
  peers: { name: string; ip: string }[];
  wanted: string[];
  encap: 'vxlan' | 'geneve' | 'gre';
  localIp: boolean;
  damage: Damage[];
}
interface History {
  userBridge: boolean;
  operatorBrInt: boolean;
  operatorController: boolean;
  steps: Step[];
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  peers: fc.uniqueArray(fc.record({ name: fc.constantFrom(...PEERS), ip: fc.constantFrom('198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.5') }), {
    selector: (p) => p.name,
    maxLength: 4,
  }),
  wanted: fc.subarray(TARGETS),
  encap: fc.constantFrom('vxlan' as const, 'geneve' as const, 'gre' as const),
  localIp: fc.boolean(),
  damage: fc.subarray([...DAMAGE]),
});
const historyArb: fc.Arbitrary<History> = fc.record({
  userBridge: fc.boolean(),
  operatorBrInt: fc.boolean(),
  operatorController: fc.boolean(),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 3 }),
});

const canon = (v: unknown): unknown =>
  v instanceof Map ? [...v].map(([k, x]) => [k, canon(x)]).sort() : Array.isArray(v) ? [...v].sort() : v;
const rowText = (r: Readonly<Row>) => JSON.stringify(Object.entries(r).map(([k, v]) => [k, canon(v)]));

/** Every operator row, in full, except the integration bridge's row, whose configuration weft manages. */
function operatorRows(replica: Replica, brInt: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [table, t] of replica.tables) {
    if (table === 'Open_vSwitch') continue;
    for (const [uuid, row] of t.rows) {
      if (isOwned(row) || (table === 'Bridge' && row.name === brInt)) continue;
      out.set(`${table}/${uuid}`, rowText(row));
    }
  }
  return out;
}

const rowsOf = (replica: Replica, table: string) => [...replica.tables.get(table)!.rows];
const brIntRow = (replica: Replica) => rowsOf(replica, 'Bridge').find(([, r]) => r.name === 'br-int');

async function damage(ovs: Ovs, replica: Replica, kind: Damage, n: number): Promise<void> {
  const br = brIntRow(replica);
  if (!br) return;
  const ports = new Set(br[1].ports as string[]);
  const tunnel = rowsOf(replica, 'Port').find(([u, r]) => ports.has(u) && isOwned(r) && r.name !== 'br-int');
  const owned = (br[1].controller as string[]).filter((u) => isOwned(replica.tables.get('Controller')!.rows.get(u)));
  switch (kind) {
    case 'del-tunnel':
      if (tunnel) await ovs.vsctl('--if-exists', 'del-port', 'br-int', String(tunnel[1].name));
      return;
    case 'fail-standalone':
      await ovs.vsctl('set', 'bridge', 'br-int', 'fail_mode=standalone');
      return;
    case 'tunnel-options':
      if (tunnel) await ovs.vsctl('--if-exists', 'set', 'interface', String(tunnel[1].name), 'options:remote_ip=198.18.0.99');
      return;
    case 'drop-controller':
      if (owned[0]) await ovs.vsctl('--if-exists', 'remove', 'bridge', 'br-int', 'controller', owned[0]);
      return;
    case 'add-vm-port':
      await ovs.vsctl('add-port', 'br-int', `vm${n}`, '--', 'set', 'port', `vm${n}`, 'tag=22');
      return;
    case 'drop-protocol':
      await ovs.vsctl('set', 'bridge', 'br-int', 'protocols=OpenFlow10');
      return;
  }
}

t.test('random histories converge, stay converged, and spare the operator', requirement(OVS), async (t) => {
  const ovs = await Ovs.start({ vswitchd: false });
  t.teardown(() => ovs.stop());
  const root = (await ovs.vsctl('get', 'open_vswitch', '.', '_uuid')).trim();
  let vm = 0;

  await fc.assert(
    fc.asyncProperty(historyArb, async (h) => {
      const reset = await transact(ovs, [{ op: 'update', table: 'Open_vSwitch', where: [['_uuid', '==', ['uuid', root]]], row: { bridges: ['set', []] } }]);
      if (!reset.ok) throw new Error('reset failed');
      if (h.userBridge) await ovs.vsctl('add-br', 'br-user', '--', 'add-port', 'br-user', 'eth9', '--', 'set-controller', 'br-user', 'tcp:198.19.8.8:6653');
      if (h.operatorBrInt) await ovs.vsctl('add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'fail_mode=standalone', '--', 'add-port', 'br-int', 'vm-op');
      if (h.operatorBrInt && h.operatorController) {
        await ovs.vsctl('--id=@c', 'create', 'controller', 'target="tcp:198.19.7.7:6653"', '--', 'add', 'bridge', 'br-int', 'controller', '@c');
      }
      for (const step of h.steps) {
        const seen = step.damage.length > 0 ? await readReplica(ovs) : undefined;
        for (const d of step.damage) await damage(ovs, seen!, d, vm++);
        const model: Omit<ReconcileInput, 'replica'> = {
          host: Host.parse({ name: 'hv1', state: 'admitted', encapIp: '198.18.0.1', encap: step.encap }),
          peers: step.peers.map((p) => Host.parse({ name: p.name, state: 'admitted', encapIp: p.ip })),
          controllers: step.wanted,
          schema,
          localIp: step.localIp,
        };
        const before = await readReplica(ovs);
        const plan = reconcile({ ...model, replica: before });
        if (plan.operations.length > 0) {
          const outcome = await transact(ovs, plan.operations);
          if (!outcome.ok) throw new Error(`transaction failed at ${outcome.index}: ${JSON.stringify(outcome.error)}`);
        }
        const after = await readReplica(ovs);
        const again = reconcile({ ...model, replica: after });
        if (again.operations.length > 0) throw new Error(`not idempotent: ${again.changes.join('; ')}`);
        const lost = [...operatorRows(before, 'br-int')].filter(([k, v]) => operatorRows(after, 'br-int').get(k) !== v);
        if (lost.length > 0) throw new Error(`operator rows changed: ${lost.map(([k]) => k).join(', ')}`);

        const br = brIntRow(after)![1];
        const beforeBr = brIntRow(before)?.[1];
        const ports = new Set(br.ports as string[]);
        for (const u of (beforeBr?.ports as string[] | undefined) ?? []) {
          if (!isOwned(before.tables.get('Port')!.rows.get(u)) && !ports.has(u)) throw new Error(`operator port ${u} left br-int`);
        }
        const peers = rowsOf(after, 'Port')
          .filter(([u, r]) => ports.has(u) && isOwned(r) && r.name !== 'br-int')
          .map(([, r]) => (r.external_ids as Map<string, string>).get(PEER_KEY))
          .sort();
        if (JSON.stringify(peers) !== JSON.stringify(step.peers.map((p) => p.name).sort())) throw new Error(`tunnels to ${peers} for peers ${step.peers.map((p) => p.name)}`);
        const targets = (br.controller as string[]).map((u) => after.tables.get('Controller')!.rows.get(u)!);
        const mine = targets.filter(isOwned).map((c) => c.target).sort();
        if (step.wanted.length > 0 && JSON.stringify(mine) !== JSON.stringify([...step.wanted].sort())) throw new Error(`controllers ${mine} for ${step.wanted}`);
        if (beforeBr && (beforeBr.controller as string[]).length > 0 && targets.length === 0) throw new Error('the bridge lost its last controller');
        if (br.fail_mode instanceof Array && br.fail_mode[0] !== 'secure') throw new Error('fail_mode not secure');
      }
    }),
    { numRuns: 25 },
  );
  t.pass('25 random histories');
});
