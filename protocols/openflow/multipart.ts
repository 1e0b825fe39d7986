// OFPT_MULTIPART_REQUEST/REPLY bodies: flow, port and group statistics, port
// and group descriptions. Others are kept as raw bodies.
import { Reader, Writer } from './header.js';
import { decodeActions, encodeActions, type Action } from './actions.js';
import { decodeInstructions, encodeInstructions, type Instruction } from './instructions.js';
import { decodeMatch, encodeMatch, type Match } from './oxm.js';

export const OFPMP = {
  DESC: 0,
  FLOW: 1,
  AGGREGATE: 2,
  TABLE: 3,
  PORT_STATS: 4,
  QUEUE: 5,
  GROUP: 6,
  GROUP_DESC: 7,
  GROUP_FEATURES: 8,
  METER: 9,
  METER_CONFIG: 10,
  METER_FEATURES: 11,
  TABLE_FEATURES: 12,
  PORT_DESC: 13,
  EXPERIMENTER: 0xffff,
} as const;

/** OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE: more parts of this request/reply follow. */
export const OFPMPF_MORE = 1;

export const OFPG = { MAX: 0xffffff00, ALL: 0xfffffffc, ANY: 0xffffffff } as const;
export const OFPTT_ALL = 0xff;

/** ofp_port (64 bytes). */
export interface PortDesc {
  portNo: number;
  hwAddr: bigint;
  name: string;
  config: number;
  state: number;
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  currSpeed: number;
  maxSpeed: number;
}

export function encodePort(w: Writer, p: PortDesc): void {
  w.u32(p.portNo).zeros(4).uint(p.hwAddr, 6).zeros(2).str(p.name, 16);
  w.u32(p.config).u32(p.state).u32(p.curr).u32(p.advertised).u32(p.supported).u32(p.peer).u32(p.currSpeed).u32(p.maxSpeed);
}

export function decodePort(r: Reader): PortDesc {
  const portNo = r.u32('port_no');
  r.skip(4);
  const hwAddr = r.uint(6, 'hw_addr');
  r.skip(2);
  return {
    portNo,
    hwAddr,
    name: r.str(16, 'port name'),
    config: r.u32('port config'),
    state: r.u32('port state'),
    curr: r.u32('port curr'),
    advertised: r.u32('port advertised'),
    supported: r.u32('port supported'),
    peer: r.u32('port peer'),
    currSpeed: r.u32('port curr_speed'),
    maxSpeed: r.u32('port max_speed'),
  };
}

export interface Bucket {
  weight: number;
  watchPort: number;
  watchGroup: number;
  actions: Action[];
}

export function encodeBucket(w: Writer, b: Bucket): void {
  const at = w.length;
  w.u16(0).u16(b.weight).u32(b.watchPort).u32(b.watchGroup).zeros(4);
  encodeActions(w, b.actions);
  w.setU16(at, w.length - at);
}

export function decodeBuckets(r: Reader): Bucket[] {
  const out: Bucket[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const len = r.u16('bucket length');
    if (len < 16) r.fail(`bucket length ${len} is shorter than a bucket`, start);
    const b = r.sub(len - 2, 'bucket');
    const weight = b.u16('bucket weight');
    const watchPort = b.u32('bucket watch_port');
    const watchGroup = b.u32('bucket watch_group');
    b.skip(4);
    out.push({ weight, watchPort, watchGroup, actions: decodeActions(b) });
  }
  return out;
}

export interface FlowStatsRequest {
  tableId: number;
  outPort: number;
  outGroup: number;
  cookie: bigint;
  cookieMask: bigint;
  match: Match;
}

export interface FlowStats {
  tableId: number;
  durationSec: number;
  durationNsec: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  cookie: bigint;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
  instructions: Instruction[];
}

export interface PortStats {
  portNo: number;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  rxErrors: bigint;
  txErrors: bigint;
  rxFrameErr: bigint;
  rxOverErr: bigint;
  rxCrcErr: bigint;
  collisions: bigint;
  durationSec: number;
  durationNsec: number;
}

const PORT_COUNTERS = ['rxPackets', 'txPackets', 'rxBytes', 'txBytes', 'rxDropped', 'txDropped', 'rxErrors', 'txErrors', 'rxFrameErr', 'rxOverErr', 'rxCrcErr', 'collisions'] as const;

export interface GroupStats {
  groupId: number;
  refCount: number;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  durationNsec: number;
  buckets: { packetCount: bigint; byteCount: bigint }[];
}

export interface GroupDesc {
  groupType: number;
  groupId: number;
  buckets: Bucket[];
}

export type MultipartRequestBody =
  | { kind: 'flow'; request: FlowStatsRequest }
  | { kind: 'port_stats'; portNo: number }
  | { kind: 'group_stats'; groupId: number }
  | { kind: 'port_desc' }
  | { kind: 'group_desc' }
  | { kind: 'raw'; mpType: number; body: Uint8Array };

export type MultipartReplyBody =
  | { kind: 'flow'; stats: FlowStats[] }
  | { kind: 'port_stats'; stats: PortStats[] }
  | { kind: 'group_stats'; stats: GroupStats[] }
  | { kind: 'port_desc'; ports: PortDesc[] }
  | { kind: 'group_desc'; groups: GroupDesc[] }
  | { kind: 'raw'; mpType: number; body: Uint8Array };

const KIND_TYPE = { flow: OFPMP.FLOW, port_stats: OFPMP.PORT_STATS, group_stats: OFPMP.GROUP, port_desc: OFPMP.PORT_DESC, group_desc: OFPMP.GROUP_DESC } as const;

function mpType(b: MultipartRequestBody | MultipartReplyBody): number {
  return b.kind === 'raw' ? b.mpType : KIND_TYPE[b.kind];
}

export function encodeMultipartRequest(w: Writer, flags: number, b: MultipartRequestBody): void {
  w.u16(mpType(b)).u16(flags).zeros(4);
  switch (b.kind) {
    case 'flow': {
      const q = b.request;
      w.u8(q.tableId).zeros(3).u32(q.outPort).u32(q.outGroup).zeros(4).u64(q.cookie).u64(q.cookieMask);
      encodeMatch(w, q.match);
      return;
    }
    case 'port_stats':
      w.u32(b.portNo).zeros(4);
      return;
    case 'group_stats':
      w.u32(b.groupId).zeros(4);
      return;
    case 'port_desc':
    case 'group_desc':
      return;
    case 'raw':
      w.bytes(b.body);
      return;
  }
}

export function decodeMultipartRequest(r: Reader): { flags: number; body: MultipartRequestBody } {
  const type = r.u16('multipart type');
  const flags = r.u16('multipart flags');
  r.skip(4);
  switch (type) {
    case OFPMP.FLOW: {
      const tableId = r.u8('table_id');
      r.skip(3);
      const outPort = r.u32('out_port');
      const outGroup = r.u32('out_group');
      r.skip(4);
      const cookie = r.u64('cookie');
      const cookieMask = r.u64('cookie_mask');
      return { flags, body: { kind: 'flow', request: { tableId, outPort, outGroup, cookie, cookieMask, match: decodeMatch(r) } } };
    }
    case OFPMP.PORT_STATS: {
      const portNo = r.u32('port_no');
      r.skip(4);
      return { flags, body: { kind: 'port_stats', portNo } };
    }
    case OFPMP.GROUP: {
      const groupId = r.u32('group_id');
      r.skip(4);
      return { flags, body: { kind: 'group_stats', groupId } };
    }
    case OFPMP.PORT_DESC:
      return { flags, body: { kind: 'port_desc' } };
    case OFPMP.GROUP_DESC:
      return { flags, body: { kind: 'group_desc' } };
    default:
      return { flags, body: { kind: 'raw', mpType: type, body: r.rest() } };
  }
}

export function encodeMultipartReply(w: Writer, flags: number, b: MultipartReplyBody): void {
  w.u16(mpType(b)).u16(flags).zeros(4);
  switch (b.kind) {
    case 'flow':
      for (const s of b.stats) {
        const at = w.length;
        w.u16(0).u8(s.tableId).zeros(1).u32(s.durationSec).u32(s.durationNsec).u16(s.priority).u16(s.idleTimeout).u16(s.hardTimeout).u16(s.flags).zeros(4);
        w.u64(s.cookie).u64(s.packetCount).u64(s.byteCount);
        encodeMatch(w, s.match);
        encodeInstructions(w, s.instructions);
        w.setU16(at, w.length - at);
      }
      return;
    case 'port_stats':
      for (const s of b.stats) {
        w.u32(s.portNo).zeros(4);
        for (const k of PORT_COUNTERS) w.u64(s[k]);
        w.u32(s.durationSec).u32(s.durationNsec);
      }
      return;
    case 'group_stats':
      for (const s of b.stats) {
        w.u16(40 + 16 * s.buckets.length).zeros(2).u32(s.groupId).u32(s.refCount).zeros(4).u64(s.packetCount).u64(s.byteCount).u32(s.durationSec).u32(s.durationNsec);
        for (const c of s.buckets) w.u64(c.packetCount).u64(c.byteCount);
      }
      return;
    case 'port_desc':
      for (const p of b.ports) encodePort(w, p);
      return;
    case 'group_desc':
      for (const g of b.groups) {
        const at = w.length;
        w.u16(0).u8(g.groupType).zeros(1).u32(g.groupId);
        for (const k of g.buckets) encodeBucket(w, k);
        w.setU16(at, w.length - at);
      }
      return;
    case 'raw':
      w.bytes(b.body);
      return;
  }
}

/** Entries that carry their own length: a sub-reader over each. */
function entries<T>(r: Reader, min: number, what: string, read: (e: Reader) => T): T[] {
  const out: T[] = [];
  while (r.remaining > 0) {
    const len = r.u16(`${what} length`);
    if (len < min) r.fail(`${what} length ${len} is shorter than ${min}`, r.pos - 2);
    r.pos -= 2;
    const e = r.sub(len, what);
    e.skip(2);
    out.push(read(e));
  }
  return out;
}

export function decodeMultipartReply(r: Reader): { flags: number; body: MultipartReplyBody } {
  const type = r.u16('multipart type');
  const flags = r.u16('multipart flags');
  r.skip(4);
  switch (type) {
    case OFPMP.FLOW: {
      const stats = entries(r, 56, 'flow stats', (e): FlowStats => {
        const tableId = e.u8('table_id');
        e.skip(1);
        return {
          tableId,
          durationSec: e.u32('duration_sec'),
          durationNsec: e.u32('duration_nsec'),
          priority: e.u16('priority'),
          idleTimeout: e.u16('idle_timeout'),
          hardTimeout: e.u16('hard_timeout'),
          flags: e.u16('flags'),
          cookie: (e.skip(4), e.u64('cookie')),
          packetCount: e.u64('packet_count'),
          byteCount: e.u64('byte_count'),
          match: decodeMatch(e),
          instructions: decodeInstructions(e),
        };
      });
      return { flags, body: { kind: 'flow', stats } };
    }
    case OFPMP.PORT_STATS: {
      const stats: PortStats[] = [];
      while (r.remaining > 0) {
        const portNo = r.u32('port_no');
        r.skip(4);
        const c = Object.fromEntries(PORT_COUNTERS.map((k) => [k, r.u64(k)])) as Record<(typeof PORT_COUNTERS)[number], bigint>;
        stats.push({ portNo, ...c, durationSec: r.u32('duration_sec'), durationNsec: r.u32('duration_nsec') });
      }
      return { flags, body: { kind: 'port_stats', stats } };
    }
    case OFPMP.GROUP: {
      const stats = entries(r, 40, 'group stats', (e) => {
        e.skip(2);
        const s = {
          groupId: e.u32('group_id'),
          refCount: e.u32('ref_count'),
          packetCount: (e.skip(4), e.u64('packet_count')),
          byteCount: e.u64('byte_count'),
          durationSec: e.u32('duration_sec'),
          durationNsec: e.u32('duration_nsec'),
          buckets: [] as { packetCount: bigint; byteCount: bigint }[],
        };
        if (e.remaining % 16 !== 0) e.fail('bucket counters are not a multiple of 16 bytes');
        while (e.remaining > 0) s.buckets.push({ packetCount: e.u64('bucket packet_count'), byteCount: e.u64('bucket byte_count') });
        return s;
      });
      return { flags, body: { kind: 'group_stats', stats } };
    }
    case OFPMP.PORT_DESC: {
      const ports: PortDesc[] = [];
      while (r.remaining > 0) ports.push(decodePort(r));
      return { flags, body: { kind: 'port_desc', ports } };
    }
    case OFPMP.GROUP_DESC: {
      const groups = entries(r, 8, 'group desc', (e) => {
        const groupType = e.u8('group type');
        e.skip(1);
        const groupId = e.u32('group_id');
        return { groupType, groupId, buckets: decodeBuckets(e) };
      });
      return { flags, body: { kind: 'group_desc', groups } };
    }
    default:
      return { flags, body: { kind: 'raw', mpType: type, body: r.rest() } };
  }
}
