// fast-check generators for every value the OpenFlow codec models.
import fc from 'fast-check';
import {
  FIELD_NAMES,
  fieldBits,
  fieldMax,
  type Action,
  type FieldName,
  type Instruction,
  type LearnSpec,
  type Match,
  type Message,
  type OxmField,
  type Subfield,
  type Bucket,
  type PortDesc,
} from '../../../protocols/openflow/index.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const bytesOf = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
/** Lengths that, after a 4-byte TLV header, keep the TLV a multiple of 8. */
const bodyOf8 = fc.integer({ min: 0, max: 3 }).chain((n) => fc.uint8Array({ minLength: 4 + 8 * n, maxLength: 4 + 8 * n }));

const fieldName = fc.constantFrom(...FIELD_NAMES);

const knownOxm = (masked: boolean): fc.Arbitrary<OxmField & { field: FieldName }> =>
  fieldName.chain((field) => {
    const v = fc.bigInt({ min: 0n, max: fieldMax(field) });
    return masked ? fc.oneof(v.map((value) => ({ field, value })), fc.tuple(v, v).map(([value, mask]) => ({ field, value, mask }))) : v.map((value) => ({ field, value }));
  });

const unknownOxm: fc.Arbitrary<OxmField> = fc.oneof(
  fc.record({ oxmClass: fc.constant(0x0003), oxmField: fc.integer({ min: 0, max: 127 }), hasMask: fc.boolean(), payload: bytesOf(16) }),
  fc.record({ oxmClass: fc.constant(0xffff), oxmField: fc.integer({ min: 0, max: 127 }), hasMask: fc.boolean(), payload: fc.uint8Array({ minLength: 4, maxLength: 16 }) }),
).map((o) => ({ field: 'unknown' as const, ...o }));

export const match: fc.Arbitrary<Match> = fc.array(fc.oneof({ weight: 5, arbitrary: knownOxm(true) }, { weight: 1, arbitrary: unknownOxm }), { maxLength: 6 }).map((fields) => ({ fields }));

const subfieldOf = (minBits: number): fc.Arbitrary<Subfield> =>
  fieldName
    .filter((f) => fieldBits(f) >= minBits)
    .chain((field) => fc.integer({ min: 0, max: fieldBits(field) - minBits }).map((ofs) => ({ field, ofs, nbits: minBits })));

const subfieldAny: fc.Arbitrary<Subfield> = fc.integer({ min: 1, max: 64 }).chain((n) => subfieldOf(n));

const learnSpec: fc.Arbitrary<LearnSpec> = fc.integer({ min: 1, max: 64 }).chain((nbits) =>
  fc.oneof(
    fc.record({ kind: fc.constantFrom('match' as const, 'load' as const), src: subfieldOf(nbits).map((subfield) => ({ subfield })), dst: subfieldOf(nbits) }),
    fc.record({ kind: fc.constantFrom('match' as const, 'load' as const), src: fc.bigInt({ min: 0n, max: (1n << BigInt(nbits)) - 1n }).map((immediate) => ({ immediate })), dst: subfieldOf(nbits) }),
    fc.record({ kind: fc.constant('output' as const), src: subfieldOf(nbits) }),
  ),
);

export const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ type: fc.constant('output' as const), port: u32, maxLen: u16 }),
  fc.record({ type: fc.constant('group' as const), groupId: u32 }),
  knownOxm(false).map((field) => ({ type: 'set_field' as const, field })),
  fc.record({ type: fc.constant('push_vlan' as const), ethertype: u16 }),
  fc.constant({ type: 'pop_vlan' as const }),
  fc.record({ type: fc.constant('set_queue' as const), queueId: u32 }),
  fc.constant({ type: 'dec_nw_ttl' as const }),
  fc.oneof(fc.record({ type: fc.constant('resubmit' as const), inPort: u16 }), fc.record({ type: fc.constant('resubmit' as const), inPort: u16, table: u8 })),
  subfieldAny.chain((dst) => fc.bigInt({ min: 0n, max: (1n << BigInt(dst.nbits)) - 1n }).map((value) => ({ type: 'reg_load' as const, dst, value }))),
  fc.integer({ min: 1, max: 64 }).chain((n) => fc.record({ type: fc.constant('reg_move' as const), src: subfieldOf(n), dst: subfieldOf(n) })),
  fc.integer({ min: 0, max: 3 }).chain((n) => fc.uint8Array({ minLength: 6 + 8 * n, maxLength: 6 + 8 * n })).map((data) => ({ type: 'note' as const, data })),
  fc.record({
    type: fc.constant('learn' as const),
    idleTimeout: u16,
    hardTimeout: u16,
    priority: u16,
    cookie: u64,
    flags: u16,
    tableId: u8,
    finIdleTimeout: u16,
    finHardTimeout: u16,
    specs: fc.array(learnSpec, { maxLength: 6 }),
  }),
  fc.record({ type: fc.constant('unknown' as const), actionType: fc.integer({ min: 28, max: 0xfffe }), body: bodyOf8 }),
);

export const actions = fc.array(action, { maxLength: 5 });

export const instruction: fc.Arbitrary<Instruction> = fc.oneof(
  fc.record({ type: fc.constant('goto_table' as const), tableId: u8 }),
  fc.record({ type: fc.constant('write_metadata' as const), metadata: u64, mask: u64 }),
  fc.record({ type: fc.constant('write_actions' as const), actions }),
  fc.record({ type: fc.constant('apply_actions' as const), actions }),
  fc.constant({ type: 'clear_actions' as const }),
  fc.record({ type: fc.constant('meter' as const), meterId: u32 }),
  fc.record({ type: fc.constant('unknown' as const), instructionType: fc.integer({ min: 7, max: 0xfffe }), body: bodyOf8 }),
);

const instructions = fc.array(instruction, { maxLength: 4 });

const bucket: fc.Arbitrary<Bucket> = fc.record({ weight: u16, watchPort: u32, watchGroup: u32, actions });

const portName = fc.stringMatching(/^[a-z0-9-]{0,15}$/);
const port: fc.Arbitrary<PortDesc> = fc.record({
  portNo: u32,
  hwAddr: fc.bigInt({ min: 0n, max: 0xffffffffffffn }),
  name: portName,
  config: u32,
  state: u32,
  curr: u32,
  advertised: u32,
  supported: u32,
  peer: u32,
  currSpeed: u32,
  maxSpeed: u32,
});

const flowStats = fc.record({
  tableId: u8,
  durationSec: u32,
  durationNsec: u32,
  priority: u16,
  idleTimeout: u16,
  hardTimeout: u16,
  flags: u16,
  cookie: u64,
  packetCount: u64,
  byteCount: u64,
  match,
  instructions,
});

const portStats = fc.record({
  portNo: u32,
  rxPackets: u64,
  txPackets: u64,
  rxBytes: u64,
  txBytes: u64,
  rxDropped: u64,
  txDropped: u64,
  rxErrors: u64,
  txErrors: u64,
  rxFrameErr: u64,
  rxOverErr: u64,
  rxCrcErr: u64,
  collisions: u64,
  durationSec: u32,
  durationNsec: u32,
});

const groupStats = fc.record({
  groupId: u32,
  refCount: u32,
  packetCount: u64,
  byteCount: u64,
  durationSec: u32,
  durationNsec: u32,
  buckets: fc.array(fc.record({ packetCount: u64, byteCount: u64 }), { maxLength: 3 }),
});

const flowMod = fc.record({
  type: fc.constant('flow_mod' as const),
  cookie: u64,
  cookieMask: u64,
  tableId: u8,
  command: fc.integer({ min: 0, max: 4 }),
  idleTimeout: u16,
  hardTimeout: u16,
  priority: u16,
  bufferId: u32,
  outPort: u32,
  outGroup: u32,
  flags: fc.integer({ min: 0, max: 31 }),
  match,
  instructions,
});

type Body = Message extends infer M ? (M extends { xid: number } ? Omit<M, 'xid'> : never) : never;

const unknownRawMp = fc.integer({ min: 14, max: 0xfffe }).chain((mpType) => fc.record({ kind: fc.constant('raw' as const), mpType: fc.constant(mpType), body: bytesOf(24) }));

const simpleBody: fc.Arbitrary<Body> = fc.oneof(
  fc.oneof(fc.constant({ type: 'hello' as const }), fc.uniqueArray(fc.integer({ min: 0, max: 95 }), { minLength: 1, maxLength: 5 }).map((v) => ({ type: 'hello' as const, versions: v.sort((a, b) => a - b) }))),
  fc.record({ type: fc.constant('error' as const), errorType: fc.integer({ min: 0, max: 13 }), code: u16, data: bytesOf(64) }),
  fc.record({ type: fc.constant('error' as const), errorType: fc.constant(0xffff), code: u16, experimenter: u32, data: bytesOf(16) }),
  fc.record({ type: fc.constantFrom('echo_request' as const, 'echo_reply' as const), data: bytesOf(32) }),
  fc.record({ type: fc.constant('experimenter' as const), experimenter: u32.filter((e) => e !== 0x4f4e4600), expType: u32, data: bytesOf(32) }),
  fc.constantFrom(
    { type: 'features_request' as const },
    { type: 'get_config_request' as const },
    { type: 'barrier_request' as const },
    { type: 'barrier_reply' as const },
  ),
  fc.record({ type: fc.constant('features_reply' as const), datapathId: u64, nBuffers: u32, nTables: u8, auxiliaryId: u8, capabilities: u32 }),
  fc.record({ type: fc.constantFrom('get_config_reply' as const, 'set_config' as const), flags: u16, missSendLen: u16 }),
  fc.record({ type: fc.constant('packet_in' as const), bufferId: u32, totalLen: u16, reason: u8, tableId: u8, cookie: u64, match, data: bytesOf(64) }),
  fc.record({
    type: fc.constant('flow_removed' as const),
    cookie: u64,
    priority: u16,
    reason: u8,
    tableId: u8,
    durationSec: u32,
    durationNsec: u32,
    idleTimeout: u16,
    hardTimeout: u16,
    packetCount: u64,
    byteCount: u64,
    match,
  }),
  fc.record({ type: fc.constant('port_status' as const), reason: u8, port }),
  fc.record({ type: fc.constant('packet_out' as const), bufferId: u32, inPort: u32, actions, data: bytesOf(64) }),
  flowMod,
  fc.record({ type: fc.constant('group_mod' as const), command: u16, groupType: u8, groupId: u32, buckets: fc.array(bucket, { maxLength: 3 }) }),
  fc.record({
    type: fc.constant('multipart_request' as const),
    flags: u16,
    body: fc.oneof(
      fc.record({ kind: fc.constant('flow' as const), request: fc.record({ tableId: u8, outPort: u32, outGroup: u32, cookie: u64, cookieMask: u64, match }) }),
      fc.record({ kind: fc.constant('port_stats' as const), portNo: u32 }),
      fc.record({ kind: fc.constant('group_stats' as const), groupId: u32 }),
      fc.constantFrom({ kind: 'port_desc' as const }, { kind: 'group_desc' as const }),
      unknownRawMp,
    ),
  }),
  fc.record({
    type: fc.constant('multipart_reply' as const),
    flags: u16,
    body: fc.oneof(
      fc.record({ kind: fc.constant('flow' as const), stats: fc.array(flowStats, { maxLength: 3 }) }),
      fc.record({ kind: fc.constant('port_stats' as const), stats: fc.array(portStats, { maxLength: 3 }) }),
      fc.record({ kind: fc.constant('group_stats' as const), stats: fc.array(groupStats, { maxLength: 3 }) }),
      fc.record({ kind: fc.constant('port_desc' as const), ports: fc.array(port, { maxLength: 3 }) }),
      fc.record({ kind: fc.constant('group_desc' as const), groups: fc.array(fc.record({ groupType: u8, groupId: u32, buckets: fc.array(bucket, { maxLength: 3 }) }), { maxLength: 3 }) }),
      unknownRawMp,
    ),
  }),
  fc.record({ type: fc.constantFrom('role_request' as const, 'role_reply' as const), role: u32, generationId: u64 }),
  fc.record({ type: fc.constant('bundle_control' as const), bundleId: u32, controlType: fc.integer({ min: 0, max: 7 }), flags: fc.integer({ min: 0, max: 3 }), properties: fc.constant(new Uint8Array()) }),
  fc.record({ type: fc.constant('unknown' as const), msgType: fc.integer({ min: 30, max: 255 }), body: bytesOf(32) }),
);

export const message: fc.Arbitrary<Message> = fc
  .tuple(
    u32,
    fc.oneof(
      { weight: 9, arbitrary: simpleBody },
      {
        weight: 1,
        arbitrary: fc.record({
          type: fc.constant('bundle_add' as const),
          bundleId: u32,
          flags: fc.integer({ min: 0, max: 3 }),
          message: fc.tuple(u32, flowMod).map(([xid, m]) => ({ ...m, xid }) as Message),
          properties: fc.constant(new Uint8Array()),
        }),
      },
    ),
  )
  .map(([xid, body]) => (body.type === 'bundle_add' ? { ...body, xid, message: { ...body.message, xid } } : { ...body, xid }) as Message);

export { flowMod as flowModBody };
