// Helpers for the OpenFlow plane against a real ovs-vswitchd: a bridge that
// dials weft's listener, flows in weft's cookie space, and the switch's own
// view of its table through ovs-ofctl.
import pino from 'pino';
import { formatFlow, output, stripFlowStats, type Action, type FlowLike, type Instruction } from '../../protocols/openflow/index.js';
import { createOpenflowPlane, type OpenflowPlane, type OpenflowPlaneOptions } from '../../src/openflow/plane.js';
import { WEFT_COOKIES, type Flow } from '../../src/openflow/sync.js';
import type { Ovs } from '../harness/ovs.js';
import { sleep } from '../harness/proc.js';

export const silent = pino({ level: 'silent' });

const applyActions = (actions: Action[]): Instruction => ({ type: 'apply_actions', actions });

/** A flow of weft's: in_port=PORT in table TABLE, priority PRIO, out to OUT. */
export function flow(table: number, prio: number, inPort: number, out: number, cookieLow = 1n): Flow {
  return {
    cookie: WEFT_COOKIES.value | cookieLow,
    tableId: table,
    priority: prio,
    idleTimeout: 0,
    hardTimeout: 0,
    flags: 0,
    match: { fields: [{ field: 'in_port', value: BigInt(inPort) }] },
    instructions: [applyActions([output(out)])],
  };
}

/** `n` distinct flows (in_port × eth_dst), the kind of table the pipeline writes. */
export function manyFlows(n: number, variant = 0): Flow[] {
  return Array.from({ length: n }, (_, i) => ({
    cookie: WEFT_COOKIES.value | 2n,
    tableId: 40,
    priority: 100,
    idleTimeout: 0,
    hardTimeout: 0,
    flags: 0,
    match: {
      fields: [
        { field: 'metadata' as const, value: BigInt(1 + (i % 64)) },
        { field: 'eth_dst' as const, value: 0x020000000000n + BigInt(i) },
      ],
    },
    instructions: [applyActions([output(1 + ((i + variant) % 8))])],
  }));
}

/** A plane listening on a free loopback port, with the desired flows a test sets. */
export async function startPlane(desired: Map<bigint, Flow[]> | (() => Flow[] | undefined), extra: Partial<OpenflowPlaneOptions> = {}): Promise<{ plane: OpenflowPlane; port: number }> {
  const plane = createOpenflowPlane({
    targets: [{ scheme: 'ptcp', port: 0, host: '127.0.0.1' }],
    log: silent,
    desiredFor: (dpid) => (typeof desired === 'function' ? desired() : desired.get(dpid)),
    auditInterval: 0,
    ...extra,
  });
  await plane.start();
  const port = Number(plane.listeners()[0]!.address.split(':')[1]);
  return { plane, port };
}

/** The bridge's flows as ovs-ofctl prints them, without counters, sorted; only weft's cookies unless `all`. */
export async function dump(ovs: Ovs, bridge: string, all = false): Promise<string[]> {
  const filter = all ? [] : [`cookie=0x${WEFT_COOKIES.value.toString(16)}/0x${WEFT_COOKIES.mask.toString(16)}`];
  const text = await ovs.ofctl('dump-flows', bridge, ...filter);
  return text
    .split('\n')
    .map((l) => stripFlowStats(l))
    .filter((l) => l.length > 0 && !l.startsWith('OFPST_FLOW') && !l.startsWith('NXST_FLOW'))
    .sort();
}

export function rendered(flows: readonly FlowLike[]): string[] {
  return flows.map((f) => formatFlow(f)).sort();
}

export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The datapath id ovs-vswitchd gives a bridge. */
export async function dpidOf(ovs: Ovs, bridge: string): Promise<bigint> {
  const v = (await ovs.vsctl('get', 'bridge', bridge, 'datapath_id')).trim().replace(/"/g, '');
  return BigInt(`0x${v}`);
}
