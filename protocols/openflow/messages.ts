// OpenFlow 1.3 messages: one encode/decode pair over the whole union.
import { decodeHeader, encodeHeader, finishLength, OFP_HEADER_LEN, OFP_VERSION, OFPT, OpenFlowDecodeError, Reader, Writer } from './header.js';
import { decodeActions, encodeActions, type Action } from './actions.js';
import { decodeInstructions, encodeInstructions, type Instruction } from './instructions.js';
import { decodeMatch, encodeMatch, type Match } from './oxm.js';
import {
  decodeBuckets,
  decodeMultipartReply,
  decodeMultipartRequest,
  decodePort,
  encodeBucket,
  encodeMultipartReply,
  encodeMultipartRequest,
  type Bucket,
  type MultipartReplyBody,
  type MultipartRequestBody,
  type PortDesc,
} from './multipart.js';
import {
  decodeBundleAdd,
  decodeBundleControl,
  encodeBundleControl,
  ONF_EXPERIMENTER_ID,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
} from './bundle.js';
import { encodePort } from './multipart.js';

export const OFPFC = { ADD: 0, MODIFY: 1, MODIFY_STRICT: 2, DELETE: 3, DELETE_STRICT: 4 } as const;
export const OFPFF = { SEND_FLOW_REM: 1, CHECK_OVERLAP: 2, RESET_COUNTS: 4, NO_PKT_COUNTS: 8, NO_BYT_COUNTS: 16 } as const;
export const OFPGC = { ADD: 0, MODIFY: 1, DELETE: 2 } as const;
export const OFPGT = { ALL: 0, SELECT: 1, INDIRECT: 2, FF: 3 } as const;
export const OFPCR_ROLE = { NOCHANGE: 0, EQUAL: 1, MASTER: 2, SLAVE: 3 } as const;
export const OFPR = { NO_MATCH: 0, ACTION: 1, INVALID_TTL: 2 } as const;
export const OFPRR = { IDLE_TIMEOUT: 0, HARD_TIMEOUT: 1, DELETE: 2, GROUP_DELETE: 3 } as const;
export const OFPPR = { ADD: 0, DELETE: 1, MODIFY: 2 } as const;
export const OFPC_FRAG = { NORMAL: 0, DROP: 1, REASM: 2 } as const;
/** buffer_id meaning "no buffered packet". */
export const OFP_NO_BUFFER = 0xffffffff;
export const OFPHET_VERSIONBITMAP = 1;

export interface FlowMod {
  cookie: bigint;
  cookieMask: bigint;
  tableId: number;
  command: number;
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  bufferId: number;
  outPort: number;
  outGroup: number;
  flags: number;
  match: Match;
  instructions: Instruction[];
}

export type MessageBody =
  | { type: 'hello'; versions?: number[] }
  | { type: 'error'; errorType: number; code: number; experimenter?: number; data: Uint8Array }
  | { type: 'echo_request'; data: Uint8Array }
  | { type: 'echo_reply'; data: Uint8Array }
  | { type: 'experimenter'; experimenter: number; expType: number; data: Uint8Array }
  | { type: 'features_request' }
  | { type: 'features_reply'; datapathId: bigint; nBuffers: number; nTables: number; auxiliaryId: number; capabilities: number }
  | { type: 'get_config_request' }
  | { type: 'get_config_reply'; flags: number; missSendLen: number }
  | { type: 'set_config'; flags: number; missSendLen: number }
  | { type: 'packet_in'; bufferId: number; totalLen: number; reason: number; tableId: number; cookie: bigint; match: Match; data: Uint8Array }
  | { type: 'flow_removed'; cookie: bigint; priority: number; reason: number; tableId: number; durationSec: number; durationNsec: number; idleTimeout: number; hardTimeout: number; packetCount: bigint; byteCount: bigint; match: Match }
  | { type: 'port_status'; reason: number; port: PortDesc }
  | { type: 'packet_out'; bufferId: number; inPort: number; actions: Action[]; data: Uint8Array }
  | ({ type: 'flow_mod' } & FlowMod)
  | { type: 'group_mod'; command: number; groupType: number; groupId: number; buckets: Bucket[] }
  | { type: 'multipart_request'; flags: number; body: MultipartRequestBody }
  | { type: 'multipart_reply'; flags: number; body: MultipartReplyBody }
  | { type: 'barrier_request' }
  | { type: 'barrier_reply' }
  | { type: 'role_request'; role: number; generationId: bigint }
  | { type: 'role_reply'; role: number; generationId: bigint }
  | { type: 'bundle_control'; bundleId: number; controlType: number; flags: number; properties: Uint8Array }
  /** On encoding, `message` takes the outer xid, as the switch requires. */
  | { type: 'bundle_add'; bundleId: number; flags: number; message: Message; properties: Uint8Array }
  /** A message type this codec does not model, with its body as is. */
  | { type: 'unknown'; msgType: number; body: Uint8Array };

export type Message = MessageBody & { xid: number };

const TYPE_NUMBER: Record<Exclude<MessageBody['type'], 'unknown' | 'bundle_control' | 'bundle_add'>, number> = {
  hello: OFPT.HELLO,
  error: OFPT.ERROR,
  echo_request: OFPT.ECHO_REQUEST,
  echo_reply: OFPT.ECHO_REPLY,
  experimenter: OFPT.EXPERIMENTER,
  features_request: OFPT.FEATURES_REQUEST,
  features_reply: OFPT.FEATURES_REPLY,
  get_config_request: OFPT.GET_CONFIG_REQUEST,
  get_config_reply: OFPT.GET_CONFIG_REPLY,
  set_config: OFPT.SET_CONFIG,
  packet_in: OFPT.PACKET_IN,
  flow_removed: OFPT.FLOW_REMOVED,
  port_status: OFPT.PORT_STATUS,
  packet_out: OFPT.PACKET_OUT,
  flow_mod: OFPT.FLOW_MOD,
  group_mod: OFPT.GROUP_MOD,
  multipart_request: OFPT.MULTIPART_REQUEST,
  multipart_reply: OFPT.MULTIPART_REPLY,
  barrier_request: OFPT.BARRIER_REQUEST,
  barrier_reply: OFPT.BARRIER_REPLY,
  role_request: OFPT.ROLE_REQUEST,
  role_reply: OFPT.ROLE_REPLY,
};

function typeNumber(m: MessageBody): number {
  if (m.type === 'unknown') return m.msgType;
  if (m.type === 'bundle_control' || m.type === 'bundle_add') return OFPT.EXPERIMENTER;
  return TYPE_NUMBER[m.type];
}

/** A FLOW_MOD with OVS's defaults: ADD, table 0, priority 32768, no buffer, any port/group. */
export function flowMod(opts: Partial<FlowMod>): FlowMod {
  return {
    cookie: 0n,
    cookieMask: 0n,
    tableId: 0,
    command: OFPFC.ADD,
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 0x8000,
    bufferId: OFP_NO_BUFFER,
    outPort: 0xffffffff,
    outGroup: 0xffffffff,
    flags: 0,
    match: { fields: [] },
    instructions: [],
    ...opts,
  };
}

/** Encodes one message, header included. Throws RangeError for values that do not fit. */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer(m.type === 'packet_in' || m.type === 'packet_out' || m.type === 'echo_request' || m.type === 'echo_reply' ? 128 + m.data.length : 256);
  writeMessage(w, m, m.xid);
  return w.finish();
}

/**
 * Appends one message, header included, with the given xid, so that a batch
 * (a bundle of thousands of flow-mods) is encoded into one buffer. Throws
 * RangeError for values that do not fit, leaving the writer with a partial
 * message: encode the whole batch before sending any of it.
 */
export function writeMessage(w: Writer, m: MessageBody, xid: number): void {
  const at = encodeHeader(w, typeNumber(m), xid);
  switch (m.type) {
    case 'hello':
      if (m.versions !== undefined) {
        const words = Math.max(1, Math.ceil((Math.max(...m.versions, 0) + 1) / 32));
        const bits = new Array<number>(words).fill(0);
        for (const v of m.versions) {
          if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`version ${v}`);
          bits[v >> 5] = (bits[v >> 5]! | (1 << (v & 31))) >>> 0;
        }
        w.u16(OFPHET_VERSIONBITMAP).u16(4 + 4 * words);
        for (const b of bits) w.u32(b);
        w.pad8(at);
      }
      break;
    case 'error':
      w.u16(m.errorType);
      if (m.errorType === 0xffff) w.u16(m.code).u32(m.experimenter ?? 0);
      else w.u16(m.code);
      w.bytes(m.data);
      break;
    case 'echo_request':
    case 'echo_reply':
      w.bytes(m.data);
      break;
    case 'experimenter':
      w.u32(m.experimenter).u32(m.expType).bytes(m.data);
      break;
    case 'features_request':
    case 'get_config_request':
    case 'barrier_request':
    case 'barrier_reply':
      break;
    case 'features_reply':
      w.u64(m.datapathId).u32(m.nBuffers).u8(m.nTables).u8(m.auxiliaryId).zeros(2).u32(m.capabilities).u32(0);
      break;
    case 'get_config_reply':
    case 'set_config':
      w.u16(m.flags).u16(m.missSendLen);
      break;
    case 'packet_in':
      w.u32(m.bufferId).u16(m.totalLen).u8(m.reason).u8(m.tableId).u64(m.cookie);
      encodeMatch(w, m.match);
      w.zeros(2).bytes(m.data);
      break;
    case 'flow_removed':
      w.u64(m.cookie).u16(m.priority).u8(m.reason).u8(m.tableId).u32(m.durationSec).u32(m.durationNsec);
      w.u16(m.idleTimeout).u16(m.hardTimeout).u64(m.packetCount).u64(m.byteCount);
      encodeMatch(w, m.match);
      break;
    case 'port_status':
      w.u8(m.reason).zeros(7);
      encodePort(w, m.port);
      break;
    case 'packet_out': {
      w.u32(m.bufferId).u32(m.inPort).u16(0).zeros(6);
      const start = w.length;
      encodeActions(w, m.actions);
      w.setU16(at + 16, w.length - start);
      w.bytes(m.data);
      break;
    }
    case 'flow_mod':
      w.u64(m.cookie).u64(m.cookieMask).u8(m.tableId).u8(m.command).u16(m.idleTimeout).u16(m.hardTimeout).u16(m.priority);
      w.u32(m.bufferId).u32(m.outPort).u32(m.outGroup).u16(m.flags).zeros(2);
      encodeMatch(w, m.match);
      encodeInstructions(w, m.instructions);
      break;
    case 'group_mod':
      w.u16(m.command).u8(m.groupType).zeros(1).u32(m.groupId);
      for (const b of m.buckets) encodeBucket(w, b);
      break;
    case 'multipart_request':
      encodeMultipartRequest(w, m.flags, m.body);
      break;
    case 'multipart_reply':
      encodeMultipartReply(w, m.flags, m.body);
      break;
    case 'role_request':
    case 'role_reply':
      w.u32(m.role).zeros(4).u64(m.generationId);
      break;
    case 'bundle_control':
      encodeBundleControl(w, m);
      break;
    case 'bundle_add':
      w.u32(ONF_EXPERIMENTER_ID).u32(ONFT_BUNDLE_ADD_MESSAGE).u32(m.bundleId).zeros(2).u16(m.flags);
      // The bundle extension requires the inner xid to equal the outer one.
      writeMessage(w, m.message, xid);
      if (m.properties.length > 0) w.pad8(at).bytes(m.properties);
      break;
    case 'unknown':
      w.bytes(m.body);
      break;
  }
  finishLength(w, at, m.type);
}

/**
 * Decodes the one message at the start of `buf` (which may hold more after
 * it). Throws only OpenFlowDecodeError, with offsets counted from `buf[0]`.
 */
export function decodeMessage(buf: Uint8Array): Message {
  try {
    return decodeAt(new Reader(buf));
  } catch (e) {
    if (e instanceof OpenFlowDecodeError) throw e;
    throw new OpenFlowDecodeError(0, `internal decoder fault: ${String(e)}`);
  }
}

function decodeAt(outer: Reader): Message {
  const start = outer.pos;
  const h = decodeHeader(outer);
  if (h.version !== OFP_VERSION && h.type !== OFPT.HELLO) outer.fail(`version ${h.version} is not OpenFlow 1.3`, start);
  outer.pos = start;
  const r = outer.sub(h.length, 'message');
  r.skip(OFP_HEADER_LEN);
  const xid = h.xid;
  switch (h.type) {
    case OFPT.HELLO: {
      let versions: number[] | undefined;
      while (r.remaining >= 4) {
        const eat = r.pos;
        const type = r.u16('hello element type');
        const len = r.u16('hello element length');
        if (len < 4) r.fail(`hello element length ${len}`, eat + 2);
        const e = r.sub(len - 4, 'hello element');
        r.skip(Math.min(r.remaining, (8 - (len % 8)) % 8));
        if (type !== OFPHET_VERSIONBITMAP) continue;
        versions = [];
        for (let word = 0; e.remaining >= 4; word++) {
          const bits = e.u32('version bitmap');
          for (let b = 0; b < 32; b++) if ((bits >>> b) & 1) versions.push(word * 32 + b);
        }
      }
      return versions === undefined ? { type: 'hello', xid } : { type: 'hello', xid, versions };
    }
    case OFPT.ERROR: {
      const errorType = r.u16('error type');
      const code = r.u16('error code');
      if (errorType === 0xffff) return { type: 'error', xid, errorType, code, experimenter: r.u32('error experimenter'), data: r.rest() };
      return { type: 'error', xid, errorType, code, data: r.rest() };
    }
    case OFPT.ECHO_REQUEST:
      return { type: 'echo_request', xid, data: r.rest() };
    case OFPT.ECHO_REPLY:
      return { type: 'echo_reply', xid, data: r.rest() };
    case OFPT.EXPERIMENTER: {
      const experimenter = r.u32('experimenter');
      const expType = r.u32('experimenter type');
      if (experimenter === ONF_EXPERIMENTER_ID && expType === ONFT_BUNDLE_CONTROL) return { type: 'bundle_control', xid, ...decodeBundleControl(r) };
      if (experimenter === ONF_EXPERIMENTER_ID && expType === ONFT_BUNDLE_ADD_MESSAGE) {
        const b = decodeBundleAdd(r);
        const inner = decodeAt(b.message);
        if (inner.type === 'bundle_add') b.message.fail('a bundle_add inside a bundle_add', b.message.pos);
        return { type: 'bundle_add', xid, bundleId: b.bundleId, flags: b.flags, message: inner, properties: b.properties };
      }
      return { type: 'experimenter', xid, experimenter, expType, data: r.rest() };
    }
    case OFPT.FEATURES_REQUEST:
      return { type: 'features_request', xid };
    case OFPT.FEATURES_REPLY: {
      const datapathId = r.u64('datapath_id');
      const nBuffers = r.u32('n_buffers');
      const nTables = r.u8('n_tables');
      const auxiliaryId = r.u8('auxiliary_id');
      r.skip(2);
      const capabilities = r.u32('capabilities');
      r.skip(4, 'reserved');
      return { type: 'features_reply', xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities };
    }
    case OFPT.GET_CONFIG_REQUEST:
      return { type: 'get_config_request', xid };
    case OFPT.GET_CONFIG_REPLY:
    case OFPT.SET_CONFIG: {
      const flags = r.u16('config flags');
      const missSendLen = r.u16('miss_send_len');
      return { type: h.type === OFPT.SET_CONFIG ? 'set_config' : 'get_config_reply', xid, flags, missSendLen };
    }
    case OFPT.PACKET_IN: {
      const bufferId = r.u32('buffer_id');
      const totalLen = r.u16('total_len');
      const reason = r.u8('reason');
      const tableId = r.u8('table_id');
      const cookie = r.u64('cookie');
      const match = decodeMatch(r);
      r.skip(2);
      return { type: 'packet_in', xid, bufferId, totalLen, reason, tableId, cookie, match, data: r.rest() };
    }
    case OFPT.FLOW_REMOVED: {
      const cookie = r.u64('cookie');
      const priority = r.u16('priority');
      const reason = r.u8('reason');
      const tableId = r.u8('table_id');
      const durationSec = r.u32('duration_sec');
      const durationNsec = r.u32('duration_nsec');
      const idleTimeout = r.u16('idle_timeout');
      const hardTimeout = r.u16('hard_timeout');
      const packetCount = r.u64('packet_count');
      const byteCount = r.u64('byte_count');
      const match = decodeMatch(r);
      return { type: 'flow_removed', xid, cookie, priority, reason, tableId, durationSec, durationNsec, idleTimeout, hardTimeout, packetCount, byteCount, match };
    }
    case OFPT.PORT_STATUS: {
      const reason = r.u8('reason');
      r.skip(7);
      return { type: 'port_status', xid, reason, port: decodePort(r) };
    }
    case OFPT.PACKET_OUT: {
      const bufferId = r.u32('buffer_id');
      const inPort = r.u32('in_port');
      const actionsLen = r.u16('actions_len');
      r.skip(6);
      const actions = decodeActions(r.sub(actionsLen, 'packet_out actions'));
      return { type: 'packet_out', xid, bufferId, inPort, actions, data: r.rest() };
    }
    case OFPT.FLOW_MOD: {
      const cookie = r.u64('cookie');
      const cookieMask = r.u64('cookie_mask');
      const tableId = r.u8('table_id');
      const command = r.u8('command');
      const idleTimeout = r.u16('idle_timeout');
      const hardTimeout = r.u16('hard_timeout');
      const priority = r.u16('priority');
      const bufferId = r.u32('buffer_id');
      const outPort = r.u32('out_port');
      const outGroup = r.u32('out_group');
      const flags = r.u16('flags');
      r.skip(2);
      const match = decodeMatch(r);
      const instructions = decodeInstructions(r);
      return { type: 'flow_mod', xid, cookie, cookieMask, tableId, command, idleTimeout, hardTimeout, priority, bufferId, outPort, outGroup, flags, match, instructions };
    }
    case OFPT.GROUP_MOD: {
      const command = r.u16('command');
      const groupType = r.u8('group type');
      r.skip(1);
      const groupId = r.u32('group_id');
      return { type: 'group_mod', xid, command, groupType, groupId, buckets: decodeBuckets(r) };
    }
    case OFPT.MULTIPART_REQUEST:
      return { type: 'multipart_request', xid, ...decodeMultipartRequest(r) };
    case OFPT.MULTIPART_REPLY:
      return { type: 'multipart_reply', xid, ...decodeMultipartReply(r) };
    case OFPT.BARRIER_REQUEST:
      return { type: 'barrier_request', xid };
    case OFPT.BARRIER_REPLY:
      return { type: 'barrier_reply', xid };
    case OFPT.ROLE_REQUEST:
    case OFPT.ROLE_REPLY: {
      const role = r.u32('role');
      r.skip(4);
      return { type: h.type === OFPT.ROLE_REQUEST ? 'role_request' : 'role_reply', xid, role, generationId: r.u64('generation_id') };
    }
    default:
      return { type: 'unknown', xid, msgType: h.type, body: r.rest() };
  }
}
