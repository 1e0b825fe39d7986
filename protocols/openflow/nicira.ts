// Nicira (vendor 0x00002320) experimenter actions that OVS supports and the
// weft pipeline uses: resubmit, reg_load, reg_move, note and learn.
import { Reader, Writer } from './header.js';
import { FIELDS, type FieldInfo, type FieldName, fieldBits, fieldByClass, oxmHeader, formatFieldValue } from './oxm.js';

export const NX_VENDOR_ID = 0x00002320;

export const NXAST = {
  RESUBMIT: 1,
  REG_MOVE: 6,
  REG_LOAD: 7,
  NOTE: 8,
  RESUBMIT_TABLE: 14,
  LEARN: 16,
} as const;

/** Bits [ofs, ofs + nbits) of a field, as ovs-fields(7) writes FIELD[ofs..ofs+nbits-1]. */
export interface Subfield {
  field: FieldName;
  ofs: number;
  nbits: number;
}

/** The whole of a field, or bits of it. */
export function subfield(field: FieldName, ofs = 0, nbits = fieldBits(field) - ofs): Subfield {
  return { field, ofs, nbits };
}

export interface ResubmitAction {
  type: 'resubmit';
  /** OFPP_IN_PORT (0xfff8) to keep the packet's in_port. */
  inPort: number;
  /** Absent: NXAST_RESUBMIT (same table). 255 also means the current table. */
  table?: number;
}
export interface RegLoadAction {
  type: 'reg_load';
  dst: Subfield;
  value: bigint;
}
export interface RegMoveAction {
  type: 'reg_move';
  src: Subfield;
  dst: Subfield;
}
export interface NoteAction {
  type: 'note';
  /** The note bytes, including any zero padding the wire format added. */
  data: Uint8Array;
}

export type LearnSource = { subfield: Subfield } | { immediate: bigint };
export type LearnSpec =
  | { kind: 'match'; src: LearnSource; dst: Subfield }
  | { kind: 'load'; src: LearnSource; dst: Subfield }
  | { kind: 'output'; src: Subfield };

export const NX_LEARN_F = { SEND_FLOW_REM: 1, DELETE_LEARNED: 2, WRITE_RESULT: 4 } as const;

export interface LearnAction {
  type: 'learn';
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  cookie: bigint;
  flags: number;
  tableId: number;
  finIdleTimeout: number;
  finHardTimeout: number;
  specs: LearnSpec[];
}

export type NiciraAction = ResubmitAction | RegLoadAction | RegMoveAction | NoteAction | LearnAction;

/** A learn action with OVS's defaults (table 1 as in ovs-actions(7), permanent, priority 32768). */
export function learn(opts: Partial<Omit<LearnAction, 'type'>> & { specs: LearnSpec[] }): LearnAction {
  return {
    type: 'learn',
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 0x8000,
    cookie: 0n,
    flags: 0,
    tableId: 1,
    finIdleTimeout: 0,
    finHardTimeout: 0,
    ...opts,
  };
}

function checkSubfield(s: Subfield): void {
  const width = fieldBits(s.field);
  if (!Number.isInteger(s.ofs) || !Number.isInteger(s.nbits) || s.ofs < 0 || s.nbits < 1 || s.ofs + s.nbits > width) {
    throw new RangeError(`${FIELDS[s.field].header}[${s.ofs}..${s.ofs + s.nbits - 1}] is outside the ${width}-bit field`);
  }
}

/** Undefined for a header outside the field table, which the caller keeps raw. */
function fieldOfHeader(r: Reader, h: number, at: number): FieldName | undefined {
  const name = fieldByClass(h >>> 16, (h >>> 9) & 0x7f);
  if (name === undefined || (h & 0x100) !== 0) return undefined;
  if ((h & 0xff) !== FIELDS[name].bytes) r.fail(`${FIELDS[name].header}: header length ${h & 0xff}`, at);
  return name;
}

function readSubfield(r: Reader, h: number, ofs: number, nbits: number, at: number): Subfield | undefined {
  const field = fieldOfHeader(r, h, at);
  if (field === undefined) return undefined;
  if (ofs + nbits > fieldBits(field)) r.fail(`${FIELDS[field].header}[${ofs}..${ofs + nbits - 1}] is outside the field`, at);
  return { field, ofs, nbits };
}

/** The action body after type/len/vendor/subtype, or undefined to keep it raw. */
export function encodeNicira(w: Writer, a: NiciraAction): void {
  const at = w.length;
  w.u16(0xffff).u16(0).u32(NX_VENDOR_ID);
  switch (a.type) {
    case 'resubmit':
      if (a.table === undefined) w.u16(NXAST.RESUBMIT).u16(a.inPort).zeros(4);
      else w.u16(NXAST.RESUBMIT_TABLE).u16(a.inPort).u8(a.table).zeros(3);
      break;
    case 'reg_load': {
      checkSubfield(a.dst);
      if (a.value < 0n || a.value >= 1n << BigInt(a.dst.nbits)) throw new RangeError(`reg_load value ${a.value} does not fit ${a.dst.nbits} bits`);
      w.u16(NXAST.REG_LOAD).u16((a.dst.ofs << 6) | (a.dst.nbits - 1)).u32(oxmHeader(a.dst.field)).u64(a.value);
      break;
    }
    case 'reg_move':
      checkSubfield(a.src);
      checkSubfield(a.dst);
      if (a.src.nbits !== a.dst.nbits) throw new RangeError('reg_move source and destination differ in width');
      w.u16(NXAST.REG_MOVE).u16(a.src.nbits).u16(a.src.ofs).u16(a.dst.ofs).u32(oxmHeader(a.src.field)).u32(oxmHeader(a.dst.field));
      break;
    case 'note':
      w.u16(NXAST.NOTE).bytes(a.data);
      if (w.length - at < 16) w.zeros(16 - (w.length - at));
      w.pad8(at);
      break;
    case 'learn':
      encodeLearn(w, a);
      w.pad8(at);
      break;
  }
  w.setU16(at + 2, w.length - at);
}

function encodeLearn(w: Writer, a: LearnAction): void {
  w.u16(NXAST.LEARN).u16(a.idleTimeout).u16(a.hardTimeout).u16(a.priority).u64(a.cookie).u16(a.flags).u8(a.tableId).u8(0);
  w.u16(a.finIdleTimeout).u16(a.finHardTimeout);
  for (const s of a.specs) {
    const src = s.kind === 'output' ? { subfield: s.src } : s.src;
    const nbits = s.kind === 'output' ? s.src.nbits : s.dst.nbits;
    if (nbits < 1 || nbits > 0x3ff) throw new RangeError(`learn spec of ${nbits} bits`);
    const dstKind = s.kind === 'match' ? 0 : s.kind === 'load' ? 1 : 2;
    w.u16(('immediate' in src ? 1 << 13 : 0) | (dstKind << 11) | nbits);
    if ('immediate' in src) {
      if (src.immediate < 0n || src.immediate >= 1n << BigInt(nbits)) throw new RangeError(`learn immediate ${src.immediate} does not fit ${nbits} bits`);
      w.uint(src.immediate, Math.ceil(nbits / 16) * 2);
    } else {
      checkSubfield(src.subfield);
      if (src.subfield.nbits !== nbits) throw new RangeError('learn spec source and destination differ in width');
      w.u32(oxmHeader(src.subfield.field)).u16(src.subfield.ofs);
    }
    if (s.kind !== 'output') {
      checkSubfield(s.dst);
      w.u32(oxmHeader(s.dst.field)).u16(s.dst.ofs);
    }
  }
}

/**
 * Decodes a Nicira action whose type/len/vendor have been read; `r` spans
 * the rest of the action. Undefined: a subtype or field we do not model.
 */
export function decodeNicira(r: Reader): NiciraAction | undefined {
  const subtype = r.u16('nicira subtype');
  switch (subtype) {
    case NXAST.RESUBMIT: {
      const inPort = r.u16('resubmit in_port');
      return { type: 'resubmit', inPort };
    }
    case NXAST.RESUBMIT_TABLE: {
      const inPort = r.u16('resubmit in_port');
      return { type: 'resubmit', inPort, table: r.u8('resubmit table') };
    }
    case NXAST.REG_LOAD: {
      const ofsNbits = r.u16('reg_load ofs_nbits');
      const at = r.pos;
      const h = r.u32('reg_load dst');
      const value = r.u64('reg_load value');
      const dst = readSubfield(r, h, ofsNbits >> 6, (ofsNbits & 0x3f) + 1, at);
      if (dst === undefined) return undefined;
      if (value >= 1n << BigInt(dst.nbits)) r.fail(`reg_load value does not fit ${dst.nbits} bits`, at + 4);
      return { type: 'reg_load', dst, value };
    }
    case NXAST.REG_MOVE: {
      const nbits = r.u16('reg_move n_bits');
      const srcOfs = r.u16('reg_move src_ofs');
      const dstOfs = r.u16('reg_move dst_ofs');
      const at = r.pos;
      const sh = r.u32('reg_move src');
      const dh = r.u32('reg_move dst');
      if (nbits === 0) r.fail('reg_move of 0 bits', at - 6);
      const src = readSubfield(r, sh, srcOfs, nbits, at);
      const dst = readSubfield(r, dh, dstOfs, nbits, at + 4);
      if (src === undefined || dst === undefined) return undefined;
      return { type: 'reg_move', src, dst };
    }
    case NXAST.NOTE:
      return { type: 'note', data: r.rest() };
    case NXAST.LEARN:
      return decodeLearn(r);
    default:
      return undefined;
  }
}

function decodeLearn(r: Reader): LearnAction | undefined {
  const a: LearnAction = {
    type: 'learn',
    idleTimeout: r.u16('learn idle_timeout'),
    hardTimeout: r.u16('learn hard_timeout'),
    priority: r.u16('learn priority'),
    cookie: r.u64('learn cookie'),
    flags: r.u16('learn flags'),
    tableId: r.u8('learn table_id'),
    finIdleTimeout: (r.skip(1), r.u16('learn fin_idle_timeout')),
    finHardTimeout: r.u16('learn fin_hard_timeout'),
    specs: [],
  };
  while (r.remaining >= 2) {
    const at = r.pos;
    const h = r.u16('learn spec header');
    if (h === 0) break;
    const nbits = h & 0x3ff;
    const immediate = (h & (1 << 13)) !== 0;
    const dstKind = (h >> 11) & 3;
    if ((h & 0xc000) !== 0 || dstKind === 3 || nbits === 0) r.fail(`learn spec header 0x${h.toString(16)} is invalid`, at);
    let src: LearnSource;
    if (immediate) {
      const n = Math.ceil(nbits / 16) * 2;
      const v = r.uint(n, 'learn immediate');
      if (v >= 1n << BigInt(nbits)) r.fail(`learn immediate does not fit ${nbits} bits`, at + 2);
      src = { immediate: v };
    } else {
      const fat = r.pos;
      const sh = r.u32('learn src field');
      const sf = readSubfield(r, sh, r.u16('learn src ofs'), nbits, fat);
      if (sf === undefined) return undefined;
      src = { subfield: sf };
    }
    if (dstKind === 2) {
      if (!('subfield' in src)) r.fail('learn output spec with an immediate source', at);
      a.specs.push({ kind: 'output', src: src.subfield });
      continue;
    }
    const dat = r.pos;
    const dh = r.u32('learn dst field');
    const dst = readSubfield(r, dh, r.u16('learn dst ofs'), nbits, dat);
    if (dst === undefined) return undefined;
    a.specs.push({ kind: dstKind === 0 ? 'match' : 'load', src, dst });
  }
  return a;
}

function formatSubfield(s: Subfield): string {
  const info: FieldInfo = FIELDS[s.field];
  if (s.ofs === 0 && s.nbits === info.bytes * 8) return `${info.header}[]`;
  if (s.nbits === 1) return `${info.header}[${s.ofs}]`;
  return `${info.header}[${s.ofs}..${s.ofs + s.nbits - 1}]`;
}

function isWhole(s: Subfield): boolean {
  return s.ofs === 0 && s.nbits === fieldBits(s.field);
}

const OFPP_IN_PORT16 = 0xfff8;

/** ovs-ofctl's text for a Nicira action. */
export function formatNicira(a: NiciraAction): string {
  switch (a.type) {
    case 'resubmit': {
      const port = a.inPort === OFPP_IN_PORT16 ? '' : String(a.inPort);
      if (a.table === undefined || a.table === 255) return a.inPort === OFPP_IN_PORT16 ? 'resubmit(,)' : `resubmit:${port}`;
      return `resubmit(${port},${a.table})`;
    }
    case 'reg_load':
      return `load:0x${a.value.toString(16)}->${formatSubfield(a.dst)}`;
    case 'reg_move':
      return `move:${formatSubfield(a.src)}->${formatSubfield(a.dst)}`;
    case 'note':
      return `note:${Array.from(a.data, (b) => b.toString(16).padStart(2, '0')).join('.')}`;
    case 'learn':
      return formatLearn(a);
  }
}

function formatLearn(a: LearnAction): string {
  const parts = [`table=${a.tableId}`];
  if (a.idleTimeout !== 0) parts.push(`idle_timeout=${a.idleTimeout}`);
  if (a.hardTimeout !== 0) parts.push(`hard_timeout=${a.hardTimeout}`);
  if (a.finIdleTimeout !== 0) parts.push(`fin_idle_timeout=${a.finIdleTimeout}`);
  if (a.finHardTimeout !== 0) parts.push(`fin_hard_timeout=${a.finHardTimeout}`);
  if (a.priority !== 0x8000) parts.push(`priority=${a.priority}`);
  if (a.flags & NX_LEARN_F.SEND_FLOW_REM) parts.push('send_flow_rem');
  if (a.flags & NX_LEARN_F.DELETE_LEARNED) parts.push('delete_learned');
  if (a.cookie !== 0n) parts.push(`cookie=0x${a.cookie.toString(16)}`);
  for (const s of a.specs) {
    if (s.kind === 'output') {
      parts.push(`output:${formatSubfield(s.src)}`);
    } else if (s.kind === 'match') {
      if ('immediate' in s.src) {
        parts.push(isWhole(s.dst) ? `${FIELDS[s.dst.field].ovsName}=${formatFieldValue(s.dst.field, s.src.immediate)}` : `${formatSubfield(s.dst)}=0x${s.src.immediate.toString(16)}`);
      } else {
        const same = s.src.subfield.field === s.dst.field && s.src.subfield.ofs === s.dst.ofs;
        parts.push(same ? formatSubfield(s.dst) : `${formatSubfield(s.dst)}=${formatSubfield(s.src.subfield)}`);
      }
    } else {
      const src = 'immediate' in s.src ? `0x${s.src.immediate.toString(16)}` : formatSubfield(s.src.subfield);
      parts.push(`load:${src}->${formatSubfield(s.dst)}`);
    }
  }
  return `learn(${parts.join(',')})`;
}
