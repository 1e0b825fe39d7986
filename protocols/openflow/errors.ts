// Names of every OpenFlow 1.3 error type and code (ofp_error_type and the
// per-type code enums), for logs and for callers that branch on them.

const TYPES: [string, string, string[]][] = [
  ['HELLO_FAILED', 'OFPHFC', ['INCOMPATIBLE', 'EPERM']],
  ['BAD_REQUEST', 'OFPBRC', ['BAD_VERSION', 'BAD_TYPE', 'BAD_MULTIPART', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'EPERM', 'BAD_LEN', 'BUFFER_EMPTY', 'BUFFER_UNKNOWN', 'BAD_TABLE_ID', 'IS_SLAVE', 'BAD_PORT', 'BAD_PACKET', 'MULTIPART_BUFFER_OVERFLOW']],
  ['BAD_ACTION', 'OFPBAC', ['BAD_TYPE', 'BAD_LEN', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'BAD_OUT_PORT', 'BAD_ARGUMENT', 'EPERM', 'TOO_MANY', 'BAD_QUEUE', 'BAD_OUT_GROUP', 'MATCH_INCONSISTENT', 'UNSUPPORTED_ORDER', 'BAD_TAG', 'BAD_SET_TYPE', 'BAD_SET_LEN', 'BAD_SET_ARGUMENT']],
  ['BAD_INSTRUCTION', 'OFPBIC', ['UNKNOWN_INST', 'UNSUP_INST', 'BAD_TABLE_ID', 'UNSUP_METADATA', 'UNSUP_METADATA_MASK', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'BAD_LEN', 'EPERM']],
  ['BAD_MATCH', 'OFPBMC', ['BAD_TYPE', 'BAD_LEN', 'BAD_TAG', 'BAD_DL_ADDR_MASK', 'BAD_NW_ADDR_MASK', 'BAD_WILDCARDS', 'BAD_FIELD', 'BAD_VALUE', 'BAD_MASK', 'BAD_PREREQ', 'DUP_FIELD', 'EPERM']],
  ['FLOW_MOD_FAILED', 'OFPFMFC', ['UNKNOWN', 'TABLE_FULL', 'BAD_TABLE_ID', 'OVERLAP', 'EPERM', 'BAD_TIMEOUT', 'BAD_COMMAND', 'BAD_FLAGS']],
  ['GROUP_MOD_FAILED', 'OFPGMFC', ['GROUP_EXISTS', 'INVALID_GROUP', 'WEIGHT_UNSUPPORTED', 'OUT_OF_GROUPS', 'OUT_OF_BUCKETS', 'CHAINING_UNSUPPORTED', 'WATCH_UNSUPPORTED', 'LOOP', 'UNKNOWN_GROUP', 'CHAINED_GROUP', 'BAD_TYPE', 'BAD_COMMAND', 'BAD_BUCKET', 'BAD_WATCH', 'EPERM']],
  ['PORT_MOD_FAILED', 'OFPPMFC', ['BAD_PORT', 'BAD_HW_ADDR', 'BAD_CONFIG', 'BAD_ADVERTISE', 'EPERM']],
  ['TABLE_MOD_FAILED', 'OFPTMFC', ['BAD_TABLE', 'BAD_CONFIG', 'EPERM']],
  ['QUEUE_OP_FAILED', 'OFPQOFC', ['BAD_PORT', 'BAD_QUEUE', 'EPERM']],
  ['SWITCH_CONFIG_FAILED', 'OFPSCFC', ['BAD_FLAGS', 'BAD_LEN', 'EPERM']],
  ['ROLE_REQUEST_FAILED', 'OFPRRFC', ['STALE', 'UNSUP', 'BAD_ROLE']],
  ['METER_MOD_FAILED', 'OFPMMFC', ['UNKNOWN', 'METER_EXISTS', 'INVALID_METER', 'UNKNOWN_METER', 'BAD_COMMAND', 'BAD_FLAGS', 'BAD_RATE', 'BAD_BURST', 'BAD_BAND', 'BAD_BAND_VALUE', 'OUT_OF_METERS', 'OUT_OF_BANDS']],
  ['TABLE_FEATURES_FAILED', 'OFPTFFC', ['BAD_TABLE', 'BAD_METADATA', 'BAD_TYPE', 'BAD_LEN', 'BAD_ARGUMENT', 'EPERM']],
];

/** OFPET_* numbers by name (EXPERIMENTER is 0xffff). */
export const OFPET: Record<string, number> = { ...Object.fromEntries(TYPES.map(([n], i) => [n, i])), EXPERIMENTER: 0xffff };

/** Codes by prefixed name, e.g. OFP_ERROR_CODES.OFPBAC_BAD_OUT_GROUP = { type: 2, code: 9 }. */
export const OFP_ERROR_CODES: Record<string, { type: number; code: number }> = Object.fromEntries(
  TYPES.flatMap(([, prefix, codes], type) => codes.map((c, code) => [`${prefix}_${c}`, { type, code }])),
);

/** `OFPET_BAD_ACTION` for 2; a number for a type outside the spec. */
export function errorTypeName(type: number): string {
  if (type === 0xffff) return 'OFPET_EXPERIMENTER';
  const t = TYPES[type];
  return t ? `OFPET_${t[0]}` : `OFPET_${type}`;
}

/** `OFPBAC_BAD_OUT_GROUP` for (2, 9); `OFPET_<type>/<code>` for codes outside the spec. */
export function errorName(type: number, code: number): string {
  const t = TYPES[type];
  const c = t?.[2][code];
  return t && c ? `${t[1]}_${c}` : `${errorTypeName(type)}/${code}`;
}
