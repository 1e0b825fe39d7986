// OpenFlow 1.3 actions (ofp_action_*) and the experimenter actions, with
// ovs-ofctl's text for each.
import { Reader, Writer } from './header.js';
import { decodeNicira, encodeNicira, formatNicira, NX_VENDOR_ID, type NiciraAction } from './nicira.js';
import { decodeOxm, encodeOxm, FIELDS, formatFieldValue, formatPort, OFPP, oxmLength, type KnownOxm } from './oxm.js';

export const OFPAT = {
  OUTPUT: 0,
  COPY_TTL_OUT: 11,
  COPY_TTL_IN: 12,
  SET_MPLS_TTL: 15,
  DEC_MPLS_TTL: 16,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  PUSH_MPLS: 19,
  POP_MPLS: 20,
  SET_QUEUE: 21,
  GROUP: 22,
  SET_NW_TTL: 23,
  DEC_NW_TTL: 24,
  SET_FIELD: 25,
  PUSH_PBB: 26,
  POP_PBB: 27,
  EXPERIMENTER: 0xffff,
} as const;

/** max_len asking the switch to send the whole packet to the controller. */
export const OFPCML_NO_BUFFER = 0xffff;

export type Action =
  | { type: 'output'; port: number; maxLen: number }
  | { type: 'group'; groupId: number }
  | { type: 'set_field'; field: KnownOxm }
  | { type: 'push_vlan'; ethertype: number }
  | { type: 'pop_vlan' }
  | { type: 'set_queue'; queueId: number }
  | { type: 'dec_nw_ttl' }
  | NiciraAction
  /** An action outside this table, kept byte for byte (body: after type and length). */
  | { type: 'unknown'; actionType: number; body: Uint8Array };

/** output:PORT; to the controller the default is the whole packet, as ovs-ofctl does. */
export function output(port: number, maxLen = port === OFPP.CONTROLLER ? OFPCML_NO_BUFFER : 0): Action {
  return { type: 'output', port, maxLen };
}

export function encodeAction(w: Writer, a: Action): void {
  const at = w.length;
  switch (a.type) {
    case 'output':
      w.u16(OFPAT.OUTPUT).u16(16).u32(a.port).u16(a.maxLen).zeros(6);
      return;
    case 'group':
      w.u16(OFPAT.GROUP).u16(8).u32(a.groupId);
      return;
    case 'set_field':
      if (a.field.mask !== undefined) throw new RangeError('OF1.3 set_field cannot carry a mask; use reg_load');
      w.u16(OFPAT.SET_FIELD).u16(0);
      encodeOxm(w, a.field);
      w.pad8(at);
      w.setU16(at + 2, w.length - at);
      return;
    case 'push_vlan':
      w.u16(OFPAT.PUSH_VLAN).u16(8).u16(a.ethertype).zeros(2);
      return;
    case 'pop_vlan':
      w.u16(OFPAT.POP_VLAN).u16(8).zeros(4);
      return;
    case 'set_queue':
      w.u16(OFPAT.SET_QUEUE).u16(8).u32(a.queueId);
      return;
    case 'dec_nw_ttl':
      w.u16(OFPAT.DEC_NW_TTL).u16(8).zeros(4);
      return;
    case 'unknown':
      if ((a.body.length + 4) % 8 !== 0) throw new RangeError('an action is a multiple of 8 bytes');
      w.u16(a.actionType).u16(a.body.length + 4).bytes(a.body);
      return;
    default:
      encodeNicira(w, a);
  }
}

export function encodeActions(w: Writer, actions: readonly Action[]): void {
  for (const a of actions) encodeAction(w, a);
}

export function decodeAction(r: Reader): Action {
  const start = r.pos;
  const type = r.u16('action type');
  const len = r.u16('action length');
  if (len < 8 || len % 8 !== 0) r.fail(`action length ${len} is not a positive multiple of 8`, start + 2);
  const body = r.sub(len - 4, `action ${type} body`);
  const keep = (): Action => ({ type: 'unknown', actionType: type, body: r.copy(start + 4, start + len) });
  switch (type) {
    case OFPAT.OUTPUT: {
      if (len !== 16) body.fail(`output action length ${len}`, start + 2);
      const port = body.u32('output port');
      return { type: 'output', port, maxLen: body.u16('output max_len') };
    }
    case OFPAT.GROUP:
      if (len !== 8) body.fail(`group action length ${len}`, start + 2);
      return { type: 'group', groupId: body.u32('group id') };
    case OFPAT.SET_FIELD: {
      const oxm = decodeOxm(body);
      if (oxm.field === 'unknown') return keep();
      if (oxm.mask !== undefined) body.fail('set_field with a mask', start + 4);
      if (len !== ((4 + oxmLength(oxm) + 7) & ~7)) body.fail(`set_field action length ${len}`, start + 2);
      return { type: 'set_field', field: oxm };
    }
    case OFPAT.PUSH_VLAN:
      if (len !== 8) body.fail(`push_vlan action length ${len}`, start + 2);
      return { type: 'push_vlan', ethertype: body.u16('push_vlan ethertype') };
    case OFPAT.POP_VLAN:
      if (len !== 8) body.fail(`pop_vlan action length ${len}`, start + 2);
      return { type: 'pop_vlan' };
    case OFPAT.SET_QUEUE:
      if (len !== 8) body.fail(`set_queue action length ${len}`, start + 2);
      return { type: 'set_queue', queueId: body.u32('queue id') };
    case OFPAT.DEC_NW_TTL:
      if (len !== 8) body.fail(`dec_nw_ttl action length ${len}`, start + 2);
      return { type: 'dec_nw_ttl' };
    case OFPAT.EXPERIMENTER: {
      if (body.u32('experimenter') !== NX_VENDOR_ID) return keep();
      const nx = decodeNicira(body);
      return nx ?? keep();
    }
    default:
      return keep();
  }
}

/** A list of actions filling all of `r`. */
export function decodeActions(r: Reader): Action[] {
  const out: Action[] = [];
  while (r.remaining > 0) out.push(decodeAction(r));
  return out;
}

/** ovs-ofctl's text for one action. */
export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      if (a.port === OFPP.CONTROLLER) return `CONTROLLER:${a.maxLen}`;
      if (a.port >= OFPP.MAX) return formatPort(a.port);
      return `output:${a.port}`;
    case 'group':
      return `group:${a.groupId}`;
    case 'set_field':
      return `set_field:${formatFieldValue(a.field.field, a.field.value)}->${FIELDS[a.field.field].ovsName}`;
    case 'push_vlan':
      return `push_vlan:0x${a.ethertype.toString(16)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'set_queue':
      return `set_queue:${a.queueId}`;
    case 'dec_nw_ttl':
      return 'dec_ttl';
    case 'unknown':
      return `unknown_action(type=${a.actionType},body=${Array.from(a.body, (b) => b.toString(16).padStart(2, '0')).join('')})`;
    default:
      return formatNicira(a);
  }
}

/** Comma-separated actions, or `drop` for none, as dump-flows prints them. */
export function formatActions(actions: readonly Action[]): string {
  if (actions.length === 0) return 'drop';
  let s = formatAction(actions[0]!);
  for (let i = 1; i < actions.length; i++) s += `,${formatAction(actions[i]!)}`;
  return s;
}
