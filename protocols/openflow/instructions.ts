// OpenFlow 1.3 instructions (ofp_instruction_*).
import { Reader, Writer } from './header.js';
import { decodeActions, encodeActions, formatActions, type Action } from './actions.js';

export const OFPIT = {
  GOTO_TABLE: 1,
  WRITE_METADATA: 2,
  WRITE_ACTIONS: 3,
  APPLY_ACTIONS: 4,
  CLEAR_ACTIONS: 5,
  METER: 6,
  EXPERIMENTER: 0xffff,
} as const;

export type Instruction =
  | { type: 'goto_table'; tableId: number }
  | { type: 'write_metadata'; metadata: bigint; mask: bigint }
  | { type: 'write_actions'; actions: Action[] }
  | { type: 'apply_actions'; actions: Action[] }
  | { type: 'clear_actions' }
  | { type: 'meter'; meterId: number }
  /** Kept byte for byte (body: after type and length). */
  | { type: 'unknown'; instructionType: number; body: Uint8Array };

const ALL_ONES_64 = 0xffffffffffffffffn;

export function encodeInstruction(w: Writer, i: Instruction): void {
  const at = w.length;
  switch (i.type) {
    case 'goto_table':
      w.u16(OFPIT.GOTO_TABLE).u16(8).u8(i.tableId).zeros(3);
      return;
    case 'write_metadata':
      w.u16(OFPIT.WRITE_METADATA).u16(24).zeros(4).u64(i.metadata).u64(i.mask);
      return;
    case 'write_actions':
    case 'apply_actions':
      w.u16(i.type === 'write_actions' ? OFPIT.WRITE_ACTIONS : OFPIT.APPLY_ACTIONS).u16(0).zeros(4);
      encodeActions(w, i.actions);
      w.setU16(at + 2, w.length - at);
      return;
    case 'clear_actions':
      w.u16(OFPIT.CLEAR_ACTIONS).u16(8).zeros(4);
      return;
    case 'meter':
      w.u16(OFPIT.METER).u16(8).u32(i.meterId);
      return;
    case 'unknown':
      if ((i.body.length + 4) % 8 !== 0) throw new RangeError('an instruction is a multiple of 8 bytes');
      w.u16(i.instructionType).u16(i.body.length + 4).bytes(i.body);
      return;
  }
}

export function encodeInstructions(w: Writer, list: readonly Instruction[]): void {
  for (const i of list) encodeInstruction(w, i);
}

export function decodeInstruction(r: Reader): Instruction {
  const start = r.pos;
  const type = r.u16('instruction type');
  const len = r.u16('instruction length');
  if (len < 8 || len % 8 !== 0) r.fail(`instruction length ${len} is not a positive multiple of 8`, start + 2);
  const body = r.sub(len - 4, `instruction ${type} body`);
  const exact = (n: number): void => {
    if (len !== n) body.fail(`instruction ${type} length ${len}, expected ${n}`, start + 2);
  };
  switch (type) {
    case OFPIT.GOTO_TABLE:
      exact(8);
      return { type: 'goto_table', tableId: body.u8('goto_table table') };
    case OFPIT.WRITE_METADATA:
      exact(24);
      body.skip(4);
      return { type: 'write_metadata', metadata: body.u64('metadata'), mask: body.u64('metadata mask') };
    case OFPIT.WRITE_ACTIONS:
    case OFPIT.APPLY_ACTIONS:
      body.skip(4);
      return { type: type === OFPIT.WRITE_ACTIONS ? 'write_actions' : 'apply_actions', actions: decodeActions(body) };
    case OFPIT.CLEAR_ACTIONS:
      exact(8);
      return { type: 'clear_actions' };
    case OFPIT.METER:
      exact(8);
      return { type: 'meter', meterId: body.u32('meter id') };
    default:
      return { type: 'unknown', instructionType: type, body: r.copy(start + 4, start + len) };
  }
}

export function decodeInstructions(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  while (r.remaining > 0) out.push(decodeInstruction(r));
  return out;
}

// ovs-ofctl prints instructions in the order the OF1.3 pipeline runs them.
const ORDER: Record<Instruction['type'], number> = {
  meter: 0,
  apply_actions: 1,
  clear_actions: 2,
  write_actions: 3,
  write_metadata: 4,
  goto_table: 5,
  unknown: 6,
};

/** The `actions=` part of a dump-flows line, without the prefix. */
export function formatInstructions(list: readonly Instruction[]): string {
  // The common flow has one apply_actions: its text is the actions' text.
  if (list.length === 1 && list[0]!.type === 'apply_actions') return formatActions(list[0]!.actions);
  const parts: string[] = [];
  for (const i of [...list].sort((a, b) => ORDER[a.type] - ORDER[b.type])) {
    switch (i.type) {
      case 'apply_actions':
        if (i.actions.length > 0) parts.push(formatActions(i.actions));
        break;
      case 'write_actions':
        parts.push(`write_actions(${formatActions(i.actions)})`);
        break;
      case 'clear_actions':
        parts.push('clear_actions');
        break;
      case 'write_metadata':
        parts.push(i.mask === ALL_ONES_64 ? `write_metadata:0x${i.metadata.toString(16)}` : `write_metadata:0x${i.metadata.toString(16)}/0x${i.mask.toString(16)}`);
        break;
      case 'goto_table':
        parts.push(`goto_table:${i.tableId}`);
        break;
      case 'meter':
        parts.push(`meter:${i.meterId}`);
        break;
      case 'unknown':
        parts.push(`unknown_instruction(type=${i.instructionType})`);
        break;
    }
  }
  return parts.length === 0 ? 'drop' : parts.join(',');
}
