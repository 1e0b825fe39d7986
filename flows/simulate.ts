// A packet walk over flow tables, several hosts at once: what a frame
// entering one port does in each host's pipeline (priorities, masked
// matches, goto_table, write_metadata, apply/write actions, output,
// set_field, register load/move, resubmit, learn, controller), carried
// between hosts by tunnels. Learned flows land in the host's table, so a
// sequence of walks behaves like a sequence of frames through real switches.
// It is the oracle of the pipeline's property tests and of `weft trace`.
import { fieldBits, formatFlow, ipv4, mac, OFPP, type Action, type FieldName, type Instruction, type KnownOxm, type LearnAction, type Subfield } from '../protocols/openflow/index.js';
import type { Flow, FlowTunnel } from './pipeline.js';

/**
 * A frame's header fields and the pipeline fields, by canonical name: the
 * OXM basic names, which the NXM aliases (nxm_eth_dst, tun_id...) map to.
 */
export type Frame = Readonly<Record<string, bigint>>;

const ALIAS: Partial<Record<FieldName, string>> = {
  tun_id: 'tunnel_id',
  nx_arp_sha: 'arp_sha',
  nx_arp_tha: 'arp_tha',
  nxm_in_port: 'in_port',
  nxm_eth_dst: 'eth_dst',
  nxm_eth_src: 'eth_src',
  nxm_eth_type: 'eth_type',
  nxm_ip_proto: 'ip_proto',
  nxm_ip_src: 'ipv4_src',
  nxm_ip_dst: 'ipv4_dst',
  nxm_tcp_src: 'tcp_src',
  nxm_tcp_dst: 'tcp_dst',
  nxm_udp_src: 'udp_src',
  nxm_udp_dst: 'udp_dst',
  nxm_arp_op: 'arp_op',
  nxm_arp_spa: 'arp_spa',
  nxm_arp_tpa: 'arp_tpa',
};

export function canonicalField(field: FieldName): string {
  return ALIAS[field] ?? field;
}

/** Fields that exist only inside a switch and do not travel with the frame. */
const PIPELINE_FIELDS = ['in_port', 'metadata', ...Array.from({ length: 16 }, (_, i) => `reg${i}`)];

export interface FrameSpec {
  src: string;
  dst: string;
  ethType?: number;
}

/** An untagged Ethernet frame (ethertype 0x88b5, local experimental, by default). */
export function ethFrame(spec: FrameSpec): Frame {
  return { eth_src: mac(spec.src), eth_dst: mac(spec.dst), eth_type: BigInt(spec.ethType ?? 0x88b5), vlan_vid: 0n };
}

/** The same frame with an 802.1Q header of VLAN `vid`. */
export function tagged(frame: Frame, vid: number): Frame {
  return { ...frame, vlan_vid: BigInt(0x1000 | vid) };
}

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

export function arpRequest(srcMac: string, spa: string, tpa: string): Frame {
  return { ...ethFrame({ src: srcMac, dst: BROADCAST, ethType: 0x0806 }), arp_op: 1n, arp_spa: ipv4(spa), arp_tpa: ipv4(tpa), arp_sha: mac(srcMac), arp_tha: 0n };
}

export function ipv4Frame(srcMac: string, dstMac: string, srcIp: string, dstIp: string, l4: { proto?: number; srcPort?: number; dstPort?: number } = {}): Frame {
  const proto = l4.proto ?? 17;
  const f: Record<string, bigint> = { ...ethFrame({ src: srcMac, dst: dstMac, ethType: 0x0800 }), ipv4_src: ipv4(srcIp), ipv4_dst: ipv4(dstIp), ip_proto: BigInt(proto) };
  if (proto === 17) Object.assign(f, { udp_src: BigInt(l4.srcPort ?? 0), udp_dst: BigInt(l4.dstPort ?? 0) });
  if (proto === 6) Object.assign(f, { tcp_src: BigInt(l4.srcPort ?? 0), tcp_dst: BigInt(l4.dstPort ?? 0) });
  return f;
}

/** A DHCPDISCOVER as a client without an address sends it. */
export function dhcpDiscover(clientMac: string): Frame {
  return ipv4Frame(clientMac, BROADCAST, '0.0.0.0', '255.255.255.255', { proto: 17, srcPort: 68, dstPort: 67 });
}

/** A host's switch: its flows (learned ones are added as frames pass) and its tunnels. */
export interface SimHost {
  name: string;
  flows: readonly Flow[];
  tunnels: readonly FlowTunnel[];
}

export interface Delivery {
  host: string;
  port: number;
  frame: Frame;
}

export interface ControllerDelivery {
  host: string;
  inPort: number;
  tableId: number;
  cookie: bigint;
  metadata: bigint;
  frame: Frame;
}

export type TraceStep =
  | { kind: 'ingress'; host: string; inPort: number }
  | { kind: 'match'; host: string; tableId: number; flow: Flow }
  | { kind: 'miss'; host: string; tableId: number }
  | { kind: 'learn'; host: string; flow: Flow }
  | { kind: 'output'; host: string; port: number; to: 'port' | 'tunnel' | 'controller' }
  | { kind: 'drop'; host: string; reason: string };

export interface Walk {
  delivered: Delivery[];
  controller: ControllerDelivery[];
  trace: TraceStep[];
  /** The frame entered some (host, port) twice, or the walk hit its bound. */
  loop: boolean;
}

export function formatTrace(trace: readonly TraceStep[]): string[] {
  return trace.map((s) => {
    switch (s.kind) {
      case 'ingress':
        return `${s.host}: in_port=${s.inPort}`;
      case 'match':
        return `${s.host}:   ${formatFlow(s.flow)}`;
      case 'miss':
        return `${s.host}:   table=${s.tableId} miss: drop`;
      case 'learn':
        return `${s.host}:   learned ${formatFlow(s.flow)}`;
      case 'output':
        return `${s.host}:   -> ${s.to} ${s.port}`;
      case 'drop':
        return `${s.host}:   drop: ${s.reason}`;
    }
  });
}

const MAX_STEPS = 100_000;
const MAX_RESUBMIT_DEPTH = 64;
const OFPP_IN_PORT16 = 0xfff8;

function matches(fields: readonly KnownOxm[], pkt: Record<string, bigint>): boolean {
  for (const o of fields) {
    const key = canonicalField(o.field);
    const v = pkt[key];
    const m = o.mask;
    if (v === undefined) {
      if (m === 0n) continue;
      return false;
    }
    if (m === undefined ? v !== o.value : (v & m) !== (o.value & m)) return false;
  }
  return true;
}

function readBits(pkt: Record<string, bigint>, s: Subfield): bigint {
  return ((pkt[canonicalField(s.field)] ?? 0n) >> BigInt(s.ofs)) & ((1n << BigInt(s.nbits)) - 1n);
}

function writeBits(pkt: Record<string, bigint>, s: Subfield, value: bigint): void {
  const key = canonicalField(s.field);
  const mask = ((1n << BigInt(s.nbits)) - 1n) << BigInt(s.ofs);
  pkt[key] = ((pkt[key] ?? 0n) & ~mask) | ((value << BigInt(s.ofs)) & mask);
}

function matchKey(tableId: number, priority: number, fields: readonly KnownOxm[]): string {
  return `${tableId}/${priority}/${fields
    .map((o) => `${canonicalField(o.field)}=${o.mask === undefined ? o.value : o.value & o.mask}/${o.mask ?? '*'}`)
    .sort()
    .join(',')}`;
}

/** The flow a learn action adds for the packet in hand, as OVS builds it. */
export function learnedFlow(a: LearnAction, pkt: Record<string, bigint>): Flow {
  const byField = new Map<FieldName, KnownOxm>();
  const actions: Action[] = [];
  for (const s of a.specs) {
    if (s.kind === 'output') {
      actions.push({ type: 'output', port: Number(readBits(pkt, s.src)), maxLen: 0 });
      continue;
    }
    const from = s.src;
    const src = (nbits: number): bigint => ('immediate' in from ? from.immediate : readBits(pkt, from.subfield)) & ((1n << BigInt(nbits)) - 1n);
    if (s.kind === 'match') {
      const prev = byField.get(s.dst.field) ?? { field: s.dst.field, value: 0n, mask: 0n };
      const bits = ((1n << BigInt(s.dst.nbits)) - 1n) << BigInt(s.dst.ofs);
      byField.set(s.dst.field, { field: s.dst.field, value: (prev.value & ~bits) | (src(s.dst.nbits) << BigInt(s.dst.ofs)), mask: (prev.mask ?? 0n) | bits });
    } else {
      actions.push({ type: 'reg_load', dst: s.dst, value: src(s.dst.nbits) });
    }
  }
  const fields = [...byField.values()].map((o) => {
    const width = BigInt(fieldBits(o.field));
    return o.mask === (1n << width) - 1n ? { field: o.field, value: o.value } : o;
  });
  return {
    cookie: a.cookie,
    tableId: a.tableId,
    priority: a.priority,
    idleTimeout: a.idleTimeout,
    hardTimeout: a.hardTimeout,
    flags: 0,
    match: { fields },
    instructions: [{ type: 'apply_actions', actions }],
  };
}

interface Arrival {
  host: string;
  inPort: number;
  frame: Record<string, bigint>;
}

interface Table {
  flows: Flow[];
  keys: Map<string, Flow>;
}

class SimSwitch {
  readonly tables = new Map<number, Table>();
  readonly tunnels: Map<number, string>;
  constructor(
    readonly name: string,
    flows: readonly Flow[],
    tunnels: readonly FlowTunnel[],
  ) {
    this.tunnels = new Map(tunnels.map((t) => [t.ofport, t.peer]));
    for (const f of flows) this.add(f);
  }

  /** Adds a flow, replacing one with the same table, priority and match as a FLOW_MOD add does. */
  add(f: Flow): void {
    let t = this.tables.get(f.tableId);
    if (!t) {
      t = { flows: [], keys: new Map() };
      this.tables.set(f.tableId, t);
    }
    const key = matchKey(f.tableId, f.priority, f.match.fields as KnownOxm[]);
    const old = t.keys.get(key);
    if (old) t.flows.splice(t.flows.indexOf(old), 1);
    t.keys.set(key, f);
    // Stable insertion by descending priority.
    let i = t.flows.findIndex((g) => g.priority < f.priority);
    if (i < 0) i = t.flows.length;
    t.flows.splice(i, 0, f);
  }

  lookup(tableId: number, pkt: Record<string, bigint>): Flow | undefined {
    const t = this.tables.get(tableId);
    if (!t) return undefined;
    for (const f of t.flows) if (matches(f.match.fields as KnownOxm[], pkt)) return f;
    return undefined;
  }

  all(): Flow[] {
    return [...this.tables.values()].flatMap((t) => t.flows);
  }
}

/** Hosts' switches joined by their tunnels. */
export class SimulatedCluster {
  private readonly switches = new Map<string, SimSwitch>();

  constructor(hosts: readonly SimHost[]) {
    for (const h of hosts) this.switches.set(h.name, new SimSwitch(h.name, h.flows, h.tunnels));
  }

  /** A host's current flows, learned ones included. */
  flows(host: string): Flow[] {
    return this.switch(host).all();
  }

  private switch(host: string): SimSwitch {
    const sw = this.switches.get(host);
    if (!sw) throw new RangeError(`no host ${host} in the simulated cluster`);
    return sw;
  }

  /** Sends `frame` in at `host`'s port `inPort` and follows every copy to where it ends. */
  send(host: string, inPort: number, frame: Frame): Walk {
    const walk: Walk = { delivered: [], controller: [], trace: [], loop: false };
    const seen = new Set<string>();
    const queue: Arrival[] = [{ host, inPort, frame: { tunnel_id: 0n, vlan_vid: 0n, ...frame } }];
    let steps = 0;
    while (queue.length > 0) {
      const a = queue.shift()!;
      const at = `${a.host}/${a.inPort}`;
      if (seen.has(at)) {
        walk.loop = true;
        walk.trace.push({ kind: 'drop', host: a.host, reason: `loop: in_port ${a.inPort} again` });
        continue;
      }
      seen.add(at);
      walk.trace.push({ kind: 'ingress', host: a.host, inPort: a.inPort });
      const sw = this.switch(a.host);
      const pkt: Record<string, bigint> = { ...a.frame, in_port: BigInt(a.inPort), metadata: 0n };
      for (let i = 0; i < 16; i++) pkt[`reg${i}`] = 0n;
      const ctx = {
        sw,
        walk,
        emit: (port: number, p: Record<string, bigint>) => this.emit(sw, port, p, walk, queue),
        budget: () => {
          if (++steps > MAX_STEPS) {
            walk.loop = true;
            return false;
          }
          return true;
        },
      };
      runPipeline(ctx, pkt);
    }
    return walk;
  }

  private emit(sw: SimSwitch, port: number, pkt: Record<string, bigint>, walk: Walk, queue: Arrival[]): void {
    const frame: Record<string, bigint> = { ...pkt };
    for (const f of PIPELINE_FIELDS) delete frame[f];
    const peer = sw.tunnels.get(port);
    if (peer === undefined) {
      walk.trace.push({ kind: 'output', host: sw.name, port, to: 'port' });
      walk.delivered.push({ host: sw.name, port, frame });
      return;
    }
    walk.trace.push({ kind: 'output', host: sw.name, port, to: 'tunnel' });
    const remote = this.switches.get(peer);
    const back = remote && [...remote.tunnels].find(([, p]) => p === sw.name)?.[0];
    if (!remote || back === undefined) {
      walk.trace.push({ kind: 'drop', host: sw.name, reason: `tunnel ${port} to ${peer} has no far end` });
      return;
    }
    queue.push({ host: peer, inPort: back, frame });
  }
}

interface Ctx {
  sw: SimSwitch;
  walk: Walk;
  emit: (port: number, pkt: Record<string, bigint>) => void;
  budget: () => boolean;
}

function runPipeline(ctx: Ctx, pkt: Record<string, bigint>): void {
  const actionSet: Action[] = [];
  let tableId: number | undefined = 0;
  let lastTable = 0;
  let lastCookie = 0n;
  while (tableId !== undefined) {
    if (!ctx.budget()) return;
    const f = ctx.sw.lookup(tableId, pkt);
    if (!f) {
      ctx.walk.trace.push({ kind: 'miss', host: ctx.sw.name, tableId });
      return;
    }
    ctx.walk.trace.push({ kind: 'match', host: ctx.sw.name, tableId, flow: f });
    const current: number = tableId;
    lastTable = current;
    lastCookie = f.cookie;
    tableId = undefined;
    for (const ins of order(f.instructions)) {
      switch (ins.type) {
        case 'apply_actions':
          runActions(ctx, pkt, ins.actions, current, f.cookie, 0);
          break;
        case 'clear_actions':
          actionSet.length = 0;
          break;
        case 'write_actions':
          actionSet.push(...ins.actions);
          break;
        case 'write_metadata':
          pkt.metadata = ((pkt.metadata ?? 0n) & ~ins.mask) | (ins.metadata & ins.mask);
          break;
        case 'goto_table':
          if (ins.tableId <= current) {
            ctx.walk.trace.push({ kind: 'drop', host: ctx.sw.name, reason: `goto_table:${ins.tableId} does not go forward from ${current}` });
            return;
          }
          tableId = ins.tableId;
          break;
        default:
          ctx.walk.trace.push({ kind: 'drop', host: ctx.sw.name, reason: `instruction ${ins.type} is not simulated` });
          return;
      }
    }
  }
  if (actionSet.length > 0) runActions(ctx, pkt, actionSet, lastTable, lastCookie, 0);
}

const ORDER: Record<Instruction['type'], number> = { meter: 0, apply_actions: 1, clear_actions: 2, write_actions: 3, write_metadata: 4, goto_table: 5, unknown: 6 };
function order(list: readonly Instruction[]): Instruction[] {
  return [...list].sort((a, b) => ORDER[a.type] - ORDER[b.type]);
}

function runActions(ctx: Ctx, pkt: Record<string, bigint>, actions: readonly Action[], tableId: number, cookie: bigint, depth: number): void {
  for (const a of actions) {
    if (!ctx.budget()) return;
    switch (a.type) {
      case 'output': {
        const inPort = Number(pkt.in_port);
        if (a.port === OFPP.CONTROLLER) {
          ctx.walk.trace.push({ kind: 'output', host: ctx.sw.name, port: a.port, to: 'controller' });
          const frame: Record<string, bigint> = { ...pkt };
          for (const f of PIPELINE_FIELDS) delete frame[f];
          ctx.walk.controller.push({ host: ctx.sw.name, inPort, tableId, cookie, metadata: pkt.metadata ?? 0n, frame });
        } else if (a.port === OFPP.IN_PORT) {
          ctx.emit(inPort, pkt);
        } else if (a.port === inPort) {
          // OpenFlow never sends a packet back out its ingress port unless asked with IN_PORT.
          ctx.walk.trace.push({ kind: 'drop', host: ctx.sw.name, reason: `output:${a.port} is the ingress port` });
        } else if (a.port >= OFPP.MAX) {
          ctx.walk.trace.push({ kind: 'drop', host: ctx.sw.name, reason: `output to reserved port 0x${a.port.toString(16)} is not simulated` });
        } else {
          ctx.emit(a.port, pkt);
        }
        break;
      }
      case 'set_field':
        pkt[canonicalField(a.field.field)] = a.field.value;
        break;
      case 'reg_load':
        writeBits(pkt, a.dst, a.value);
        break;
      case 'reg_move':
        writeBits(pkt, a.dst, readBits(pkt, a.src));
        break;
      case 'note':
        break;
      case 'learn': {
        const f = learnedFlow(a, pkt);
        ctx.sw.add(f);
        ctx.walk.trace.push({ kind: 'learn', host: ctx.sw.name, flow: f });
        break;
      }
      case 'resubmit': {
        if (depth >= MAX_RESUBMIT_DEPTH) {
          ctx.walk.trace.push({ kind: 'drop', host: ctx.sw.name, reason: 'resubmit depth exceeded' });
          ctx.walk.loop = true;
          return;
        }
        const saved = pkt.in_port;
        if (a.inPort !== OFPP_IN_PORT16) pkt.in_port = BigInt(a.inPort);
        const t = a.table === undefined || a.table === 255 ? tableId : a.table;
        const f = ctx.sw.lookup(t, pkt);
        if (f) {
          ctx.walk.trace.push({ kind: 'match', host: ctx.sw.name, tableId: t, flow: f });
          for (const ins of order(f.instructions)) if (ins.type === 'apply_actions') runActions(ctx, pkt, ins.actions, t, f.cookie, depth + 1);
        } else ctx.walk.trace.push({ kind: 'miss', host: ctx.sw.name, tableId: t });
        pkt.in_port = saved!;
        break;
      }
      default:
        ctx.walk.trace.push({ kind: 'drop', host: ctx.sw.name, reason: `action ${a.type} is not simulated` });
    }
  }
}
