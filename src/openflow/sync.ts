// Flow sync by cookie. weft owns the flows whose cookie matches its cookie
// under its mask; it reads only those from the switch (a flow-stats request
// filtered by cookie), diffs them against the desired list and applies the
// fewest flow-mods: ADD for new flows (and for a changed cookie, which an
// OpenFlow 1.3 modify cannot change), MODIFY_STRICT for changed
// instructions, DELETE_STRICT for flows no longer wanted. Learned flows and
// an operator's flows carry other cookies and are never read or touched, and
// nothing is ever deleted non-strictly: no flush.
//
// The changes go in one atomic bundle, so a packet sees either the old table
// or the new one. A switch that refuses bundles gets them in order instead,
// adds and modifies first, a barrier, then deletes, so that no packet meets a
// table that lacks both its old and its new flow.
import {
  formatInstructions,
  FIELD_NAMES,
  FIELDS,
  OFPBCT,
  OFPBF,
  OFPFC,
  OFPG,
  OFP_NO_BUFFER,
  OFPP,
  OFPTT_ALL,
  fieldMax,
  type FlowLike,
  type FlowStats,
  type Match,
  type Message,
  type OxmField,
} from '../../protocols/openflow/index.js';
import { OpenFlowError, type OfError, type Outgoing, type Session } from './session.js';

/** A flow as weft wants it on a switch: the shape the pipeline in flows/ produces. */
export type Flow = FlowLike;

/** The flows weft owns: cookie & mask === value & mask. */
export interface CookieSpace {
  value: bigint;
  mask: bigint;
}

/** 'WF' in the cookie's top 16 bits; the pipeline's cookies carry it and learned flows do not. */
export const WEFT_COOKIES: CookieSpace = { value: 0x5746n << 48n, mask: 0xffffn << 48n };

export interface FlowDiff {
  adds: Flow[];
  /** Same identity, different instructions (or timeouts/flags): MODIFY_STRICT. */
  modifies: Flow[];
  /** Same identity, different cookie: an ADD, which replaces the flow in one step. */
  replaces: Flow[];
  deletes: Flow[];
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Hex digits of a value; through a double when it is exact (most fields are 48 bits or less), which is cheaper. */
function hexOf(v: bigint): string {
  return v >= 0n && v <= MAX_SAFE ? Number(v).toString(16) : v.toString(16);
}

// Per field, what its key needs. OVS's name, so the NXM and OXM spellings of one field (tun_id, tunnel_id) are one identity.
const KEY_INFO = new Map(FIELD_NAMES.map((name) => [name, { prefix: `${FIELDS[name].ovsName}=`, max: fieldMax(name) }]));

/** A field in canonical form: an all-ones mask is no mask, and a masked value has its bits outside the mask cleared (as the switch stores it). */
function fieldKey(o: OxmField): string {
  if (o.field === 'unknown') return `?${o.oxmClass}.${o.oxmField}.${Buffer.from(o.payload).toString('hex')}`;
  const info = KEY_INFO.get(o.field)!;
  const mask = o.mask;
  if (mask === undefined || mask === info.max) return info.prefix + hexOf(o.value);
  return `${info.prefix}${hexOf(o.value & mask)}/${hexOf(mask)}`;
}

function computeKey(f: { tableId: number; priority: number; match: Match }): string {
  const fields = f.match.fields;
  let match: string;
  if (fields.length === 1) match = fieldKey(fields[0]!);
  else if (fields.length === 2) {
    // The sorted pair, without an array: most of the pipeline's flows match two or three fields.
    const a = fieldKey(fields[0]!);
    const b = fieldKey(fields[1]!);
    match = a < b ? `${a},${b}` : `${b},${a}`;
  } else match = fields.map(fieldKey).sort().join(',');
  return `${f.tableId}/${f.priority}/${match}`;
}

function computeBody(f: Flow): string {
  return `${formatInstructions(f.instructions)}|${f.idleTimeout}|${f.hardTimeout}|${f.flags}`;
}

// Desired lists are rebuilt from the same flow objects between syncs (and the audit reuses them): key each once.
// Flows read from a switch are new objects every time, so theirs are not kept.
const keys = new WeakMap<object, string>();
const bodies = new WeakMap<object, string>();

/** The identity of a flow in its table: table, priority and match, whatever the order of its fields. */
export function flowKey(f: { tableId: number; priority: number; match: Match }): string {
  let k = keys.get(f);
  if (k === undefined) {
    k = computeKey(f);
    keys.set(f, k);
  }
  return k;
}

/** What a modify changes, in ovs-ofctl's text so that the switch's re-encoding of an action compares equal. */
function body(f: Flow): string {
  let b = bodies.get(f);
  if (b === undefined) {
    b = computeBody(f);
    bodies.set(f, b);
  }
  return b;
}

export function fromStats(s: FlowStats): Flow {
  return { tableId: s.tableId, priority: s.priority, cookie: s.cookie, match: s.match, instructions: s.instructions, idleTimeout: s.idleTimeout, hardTimeout: s.hardTimeout, flags: s.flags };
}

/** Desired minus actual, by identity. When the desired list names one identity twice, the last one wins. */
export function diffFlows(desired: readonly Flow[], actual: readonly Flow[]): FlowDiff {
  const want = new Map<string, Flow>();
  for (const f of desired) want.set(flowKey(f), f);
  const have = new Map<string, Flow>();
  for (const f of actual) have.set(computeKey(f), f);
  const d: FlowDiff = { adds: [], modifies: [], replaces: [], deletes: [] };
  for (const [k, f] of want) {
    const cur = have.get(k);
    if (!cur) d.adds.push(f);
    else if (cur.cookie !== f.cookie) d.replaces.push(f);
    else if (computeBody(cur) !== body(f)) d.modifies.push(f);
  }
  for (const [k, f] of have) if (!want.has(k)) d.deletes.push(f);
  return d;
}

export function diffSize(d: FlowDiff): number {
  return d.adds.length + d.modifies.length + d.replaces.length + d.deletes.length;
}

/** The flow-mods of a diff, in the order that never leaves a packet without a flow: adds and modifies, then deletes. */
export function flowMods(d: FlowDiff, cookies: CookieSpace): { upserts: Outgoing[]; deletes: Outgoing[] } {
  // A literal per flow-mod (not flowMod() and a spread): a bulk install builds ten thousand of them.
  const mod = (f: Flow, command: number, guard: boolean): Outgoing => ({
    type: 'flow_mod',
    cookie: f.cookie,
    // Modify and delete only ever hit a flow of ours, even if an operator's flow shares the match.
    cookieMask: guard ? cookies.mask : 0n,
    tableId: f.tableId,
    command,
    idleTimeout: f.idleTimeout,
    hardTimeout: f.hardTimeout,
    priority: f.priority,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP.ANY,
    outGroup: OFPG.ANY,
    flags: f.flags,
    match: f.match,
    instructions: command === OFPFC.DELETE_STRICT ? [] : f.instructions,
  });
  const upserts: Outgoing[] = [];
  for (const f of d.adds) upserts.push(mod(f, OFPFC.ADD, false));
  for (const f of d.replaces) upserts.push(mod(f, OFPFC.ADD, false));
  for (const f of d.modifies) upserts.push(mod(f, OFPFC.MODIFY_STRICT, true));
  return { upserts, deletes: d.deletes.map((f) => mod(f, OFPFC.DELETE_STRICT, true)) };
}

/** Reads the switch's flows that weft owns. */
export async function readOwnedFlows(session: Session, cookies: CookieSpace): Promise<Flow[]> {
  const parts = await session.multipart({
    kind: 'flow',
    request: { tableId: OFPTT_ALL, outPort: OFPP.ANY, outGroup: OFPG.ANY, cookie: cookies.value, cookieMask: cookies.mask, match: { fields: [] } },
  });
  const out: Flow[] = [];
  // A flow-stats entry is a Flow with counters: used as it is, without a copy per flow.
  for (const p of parts) if (p.kind === 'flow') for (const s of p.stats) out.push(s);
  return out;
}

export type ApplyMode = 'bundle' | 'ordered';

export interface SyncResult {
  diff: { adds: number; modifies: number; deletes: number };
  /** Flow-mods sent to the switch. */
  flowMods: number;
  mode: ApplyMode | 'none';
  /** Flow-mods the switch refused (ordered mode applies the others). */
  errors: string[];
  /** The switch refused the bundle itself: later syncs should go ordered. */
  bundlesUnsupported?: boolean;
}

export class SyncError extends Error {
  override name = 'SyncError';
}

let bundleIds = 1;

/** An error refusing the bundle itself (not one of its flows): the switch does not do bundles. */
function bundlesUnsupported(e: unknown): boolean {
  return e instanceof OpenFlowError && (e.errorType === 1 /* BAD_REQUEST */ && (e.code === 1 || e.code === 3 || e.code === 4));
}

export interface ApplyOptions {
  /** Skip the bundle (the switch is known not to support one). */
  ordered?: boolean;
}

/** Applies a diff; resolves when the switch has confirmed it with a barrier reply. */
export async function applyDiff(session: Session, diff: FlowDiff, cookies: CookieSpace, options: ApplyOptions = {}): Promise<SyncResult> {
  const { upserts, deletes } = flowMods(diff, cookies);
  const summary = { adds: diff.adds.length, modifies: diff.modifies.length + diff.replaces.length, deletes: diff.deletes.length };
  const total = upserts.length + deletes.length;
  if (total === 0) return { diff: summary, flowMods: 0, mode: 'none', errors: [] };
  let unsupported = false;
  if (!options.ordered) {
    try {
      await commitBundle(session, [...upserts, ...deletes]);
      return { diff: summary, flowMods: total, mode: 'bundle', errors: [] };
    } catch (e) {
      if (session.closed || !(e instanceof OpenFlowError)) throw e;
      unsupported = bundlesUnsupported(e);
      // A refused bundle changed nothing (atomic); the ordered path applies what the switch accepts and names what it refuses.
    }
  }
  const errors: string[] = [];
  for (const batch of [upserts, deletes]) {
    if (batch.length === 0) continue;
    const xids = session.sendMany(batch);
    const refused = session.track(xids);
    try {
      await session.barrier();
    } finally {
      session.untrack(xids);
    }
    errors.push(...refused.map(describe));
  }
  return { diff: summary, flowMods: total, mode: 'ordered', errors, ...(unsupported ? { bundlesUnsupported: true } : {}) };
}

function describe(e: OfError): string {
  return new OpenFlowError(e.errorType, e.code, e.data).message;
}

/** Open, add every message, commit: one socket write; resolves on the commit reply and a barrier. */
export async function commitBundle(session: Session, mods: Outgoing[]): Promise<void> {
  const bundleId = bundleIds;
  bundleIds = bundleIds >= 0xffffffff ? 1 : bundleIds + 1;
  const flags = OFPBF.ATOMIC | OFPBF.ORDERED;
  const none = new Uint8Array(0);
  // open, the adds, commit, barrier
  const xids = session.reserveXids(mods.length + 3);
  const [openXid, commitXid, barrierXid] = [xids[0]!, xids[xids.length - 2]!, xids[xids.length - 1]!];
  const addXids = xids.slice(1, -2);
  const all: Outgoing[] = [
    { type: 'bundle_control', bundleId, controlType: OFPBCT.OPEN_REQUEST, flags, properties: none },
    // The encoder gives the bundled message its BUNDLE_ADD's xid, as OpenFlow 1.4 asks (errors about it come back
    // with that xid), so the flow-mod goes in as it is, without a copy to set one.
    ...mods.map((m): Outgoing => ({ type: 'bundle_add', bundleId, flags, message: m as Message, properties: none })),
    { type: 'bundle_control', bundleId, controlType: OFPBCT.COMMIT_REQUEST, flags, properties: none },
    // In the same write: the switch answers in order, so the barrier's reply follows the commit's without a round trip more.
    { type: 'barrier_request' },
  ];
  const openWait = session.expect(openXid, undefined, 'bundle open');
  const commitWait = session.expect(commitXid, undefined, 'bundle commit');
  const barrierWait = session.expect(barrierXid, undefined, 'barrier after the bundle');
  // A failed open also fails the commit; no rejection may go unobserved.
  openWait.catch(() => undefined);
  commitWait.catch(() => undefined);
  barrierWait.catch(() => undefined);
  const addErrors = session.track(addXids);
  try {
    session.sendMany(all, xids);
    const [o, c] = await Promise.all([openWait, commitWait]);
    if (o.type !== 'bundle_control' || o.controlType !== OFPBCT.OPEN_REPLY) throw new SyncError(`bundle open answered by ${o.type}`);
    if (c.type !== 'bundle_control' || c.controlType !== OFPBCT.COMMIT_REPLY) throw new SyncError(`bundle commit answered by ${c.type}`);
    const b = await barrierWait;
    if (b.type !== 'barrier_reply') throw new SyncError(`barrier answered by ${b.type}`);
  } catch (e) {
    // The switch names the flow it refused first, then fails the commit: report the flow.
    const first = addErrors[0];
    throw first ? new OpenFlowError(first.errorType, first.code, first.data) : e;
  } finally {
    session.untrack(addXids);
    session.forget(openXid);
    session.forget(commitXid);
    session.forget(barrierXid);
  }
}
