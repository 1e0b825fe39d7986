// The advert one weft replica sends its peers every advert interval: who it
// is, and for each network its priority and the highest term it knows.
//
// Wire format, version 1, all integers big-endian; offsets in bytes, n is the
// replica id length:
//
//   offset   size  field
//   0        4     magic "WFAD"
//   4        1     version (1)
//   5        1     flags, reserved: 0
//   6        2     total length of the datagram, MAC included (≤ 65507)
//   8        4     advert interval, ms (1..600000)
//   12       8     boot epoch: the sender's start time, ms (< 2^53)
//   20       8     sequence number, per boot (< 2^53)
//   28       8     timestamp, ms since the Unix epoch (< 2^53)
//   36       1     replica id length n (1..64)
//   37       n     replica id, UTF-8
//   37+n     2     entry count m (0..4096)
//   39+n     ...   m entries:
//                    1   network name length k (1..255)
//                    k   network, UTF-8 (`TENANT/NAME`)
//                    1   priority (0..255; 0: the sender is leaving)
//                    1   flags: bit 0 the sender leads the network at term; others 0
//                    8   term (< 2^53)
//   L-32     32    HMAC-SHA256 under the shared key of bytes [0, L-32)
//
// The whole advert must fit one UDP datagram (65507 bytes). A replica with
// more networks than fit the size it sends (by default 1400 bytes, one
// Ethernet frame, so no IP fragment can be lost alone) sends several adverts
// per interval, each with its own sequence number: see splitEntries.
//
// Authentication: the codec takes the key as a parameter and computes the
// MAC with node:crypto. That keeps it free of state and I/O (same input, same
// output) while the key never leaves the caller. openAdvert checks the frame
// and the MAC before it parses anything else, comparing in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AdvertDecodeError, AdvertEncodeError } from './errors.js';

export const ADVERT_MAGIC = 0x57464144; // "WFAD"
export const ADVERT_VERSION = 1;
export const MAC_LENGTH = 32;
/** The largest UDP payload over IPv4. */
export const MAX_ADVERT_BYTES = 65507;
/** The default size adverts are split to: one Ethernet frame less IP and UDP headers, with room to spare. */
export const DEFAULT_ADVERT_BYTES = 1400;
export const MAX_ENTRIES = 4096;
export const MAX_REPLICA_ID_BYTES = 64;
export const MAX_NETWORK_BYTES = 255;
export const MAX_INTERVAL_MS = 600_000;
export const MIN_KEY_BYTES = 16;

/** Where each fixed field sits. */
export const ADVERT_LAYOUT = {
  magic: { offset: 0, length: 4 },
  version: { offset: 4, length: 1 },
  flags: { offset: 5, length: 1 },
  length: { offset: 6, length: 2 },
  interval: { offset: 8, length: 4 },
  boot: { offset: 12, length: 8 },
  seq: { offset: 20, length: 8 },
  timestamp: { offset: 28, length: 8 },
  replicaIdLength: { offset: 36, length: 1 },
  replicaId: 37,
  /** Fixed bytes around an entry's name: length, priority, flags, term. */
  entryOverhead: 11,
  /** Fixed bytes around the replica id and entries: header, id length, count, MAC. */
  overhead: 37 + 2 + MAC_LENGTH,
} as const;

export const ENTRY_LEADER = 0x01;

export interface AdvertEntry {
  /** `TENANT/NAME`. */
  network: string;
  /** 0..255; 0 says the sender is leaving and a peer should take over now. */
  priority: number;
  /** The highest term of the network the sender knows (its own when it leads). */
  term: number;
  /** The sender leads the network at `term`. */
  leader: boolean;
}

export interface Advert {
  version: number;
  replicaId: string;
  intervalMs: number;
  /** The sender's boot epoch: a restart has a larger one, so its fresh sequence numbers are not replays. */
  boot: number;
  seq: number;
  timestamp: number;
  entries: AdvertEntry[];
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function writeU64(view: DataView, o: number, v: number): void {
  view.setUint32(o, Math.floor(v / 2 ** 32));
  view.setUint32(o + 4, v >>> 0);
}

function checkUint(field: string, v: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new AdvertEncodeError(field, `${v} is not an integer from 0 to ${max}`);
}

function mac(key: Uint8Array, bytes: Uint8Array): Buffer {
  return createHmac('sha256', key).update(bytes).digest();
}

function checkKey(key: Uint8Array): void {
  if (key.length < MIN_KEY_BYTES) throw new AdvertEncodeError('key', `a key has at least ${MIN_KEY_BYTES} bytes`);
}

/** The encoded size of an advert from this replica id with these entries. */
export function advertSize(replicaId: string, entries: readonly AdvertEntry[]): number {
  let size = ADVERT_LAYOUT.overhead + utf8.encode(replicaId).length;
  for (const e of entries) size += ADVERT_LAYOUT.entryOverhead + utf8.encode(e.network).length;
  return size;
}

/** Encodes and signs an advert; throws AdvertEncodeError for a value with no wire form. */
export function encodeAdvert(advert: Advert, key: Uint8Array): Uint8Array {
  checkKey(key);
  if (advert.version !== ADVERT_VERSION) throw new AdvertEncodeError('version', `only version ${ADVERT_VERSION} is known`);
  const id = utf8.encode(advert.replicaId);
  if (id.length < 1 || id.length > MAX_REPLICA_ID_BYTES) throw new AdvertEncodeError('replicaId', `must be 1 to ${MAX_REPLICA_ID_BYTES} bytes`);
  checkUint('intervalMs', advert.intervalMs, MAX_INTERVAL_MS);
  if (advert.intervalMs < 1) throw new AdvertEncodeError('intervalMs', 'must be at least 1');
  checkUint('boot', advert.boot, Number.MAX_SAFE_INTEGER);
  checkUint('seq', advert.seq, Number.MAX_SAFE_INTEGER);
  checkUint('timestamp', advert.timestamp, Number.MAX_SAFE_INTEGER);
  if (advert.entries.length > MAX_ENTRIES) throw new AdvertEncodeError('entries', `at most ${MAX_ENTRIES}`);
  const names = advert.entries.map((e) => utf8.encode(e.network));
  const seen = new Set<string>();
  let length = ADVERT_LAYOUT.overhead + id.length;
  advert.entries.forEach((e, i) => {
    const n = names[i]!;
    if (n.length < 1 || n.length > MAX_NETWORK_BYTES) throw new AdvertEncodeError(`entries[${i}].network`, `must be 1 to ${MAX_NETWORK_BYTES} bytes`);
    if (seen.has(e.network)) throw new AdvertEncodeError(`entries[${i}].network`, `${e.network} appears twice`);
    seen.add(e.network);
    checkUint(`entries[${i}].priority`, e.priority, 255);
    checkUint(`entries[${i}].term`, e.term, Number.MAX_SAFE_INTEGER);
    length += ADVERT_LAYOUT.entryOverhead + n.length;
  });
  if (length > MAX_ADVERT_BYTES) throw new AdvertEncodeError('entries', `the advert would be ${length} bytes, more than a datagram holds (${MAX_ADVERT_BYTES}); split the entries`);

  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  const L = ADVERT_LAYOUT;
  view.setUint32(L.magic.offset, ADVERT_MAGIC);
  out[L.version.offset] = ADVERT_VERSION;
  out[L.flags.offset] = 0;
  view.setUint16(L.length.offset, length);
  view.setUint32(L.interval.offset, advert.intervalMs);
  writeU64(view, L.boot.offset, advert.boot);
  writeU64(view, L.seq.offset, advert.seq);
  writeU64(view, L.timestamp.offset, advert.timestamp);
  out[L.replicaIdLength.offset] = id.length;
  out.set(id, L.replicaId);
  let o = L.replicaId + id.length;
  view.setUint16(o, advert.entries.length);
  o += 2;
  advert.entries.forEach((e, i) => {
    const n = names[i]!;
    out[o] = n.length;
    out.set(n, o + 1);
    o += 1 + n.length;
    out[o] = e.priority;
    out[o + 1] = e.leader ? ENTRY_LEADER : 0;
    writeU64(view, o + 2, e.term);
    o += 10;
  });
  out.set(mac(key, out.subarray(0, o)), o);
  return out;
}

/**
 * Splits entries into groups that each encode within `maxBytes` (at least
 * one entry per group, at most MAX_ENTRIES); the sender sends one advert per
 * group. No entries still make one (empty) group: the advert says the
 * replica is alive.
 */
export function splitEntries(replicaId: string, entries: readonly AdvertEntry[], maxBytes = DEFAULT_ADVERT_BYTES): AdvertEntry[][] {
  const groups: AdvertEntry[][] = [];
  const base = advertSize(replicaId, []);
  let current: AdvertEntry[] = [];
  let size = base;
  for (const e of entries) {
    const add = ADVERT_LAYOUT.entryOverhead + utf8.encode(e.network).length;
    if (current.length > 0 && (size + add > maxBytes || current.length === MAX_ENTRIES)) {
      groups.push(current);
      current = [];
      size = base;
    }
    current.push(e);
    size += add;
  }
  groups.push(current);
  return groups;
}

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(o: number, n: number, what: string, end: number): void {
    if (o + n > end) throw new AdvertDecodeError('malformed', o, `${what} runs past the end (${end} bytes)`);
  }

  u64(o: number, what: string): number {
    const hi = this.view.getUint32(o);
    const lo = this.view.getUint32(o + 4);
    if (hi >= 2 ** 21) throw new AdvertDecodeError('malformed', o, `${what} is larger than 2^53`);
    return hi * 2 ** 32 + lo;
  }

  text(o: number, n: number, what: string): string {
    try {
      return strictUtf8.decode(this.bytes.subarray(o, o + n));
    } catch {
      throw new AdvertDecodeError('malformed', o, `${what} is not UTF-8`);
    }
  }
}

/** Checks what must hold before the MAC can even be located: magic, version, length. */
function checkFrame(r: Reader): number {
  const b = r.bytes;
  const L = ADVERT_LAYOUT;
  if (b.length < L.overhead + 1) throw new AdvertDecodeError('malformed', b.length, `${b.length} bytes is shorter than the smallest advert (${L.overhead + 1})`);
  if (b.length > MAX_ADVERT_BYTES) throw new AdvertDecodeError('malformed', MAX_ADVERT_BYTES, `longer than ${MAX_ADVERT_BYTES} bytes`);
  if (r.view.getUint32(L.magic.offset) !== ADVERT_MAGIC) throw new AdvertDecodeError('malformed', L.magic.offset, 'not an advert (bad magic)');
  if (b[L.version.offset] !== ADVERT_VERSION) throw new AdvertDecodeError('malformed', L.version.offset, `version ${b[L.version.offset]} is not ${ADVERT_VERSION}`);
  const length = r.view.getUint16(L.length.offset);
  if (length !== b.length) throw new AdvertDecodeError('malformed', L.length.offset, `length field says ${length}, the datagram has ${b.length} bytes`);
  return length - MAC_LENGTH;
}

/**
 * Parses an advert without checking its MAC, for diagnostics and tests.
 * Throws AdvertDecodeError (kind `malformed`) and nothing else; never reads
 * past the buffer and allocates only within it. The MAC is returned for
 * verifyAdvert.
 */
export function decodeAdvert(bytes: Uint8Array): { advert: Advert; mac: Uint8Array } {
  const r = new Reader(bytes);
  const end = checkFrame(r);
  const b = bytes;
  const L = ADVERT_LAYOUT;
  if (b[L.flags.offset] !== 0) throw new AdvertDecodeError('malformed', L.flags.offset, 'reserved flags are set');
  const intervalMs = r.view.getUint32(L.interval.offset);
  if (intervalMs < 1 || intervalMs > MAX_INTERVAL_MS) throw new AdvertDecodeError('malformed', L.interval.offset, `interval ${intervalMs} ms is not from 1 to ${MAX_INTERVAL_MS}`);
  const boot = r.u64(L.boot.offset, 'boot epoch');
  const seq = r.u64(L.seq.offset, 'sequence number');
  const timestamp = r.u64(L.timestamp.offset, 'timestamp');
  const idLength = b[L.replicaIdLength.offset]!;
  if (idLength < 1 || idLength > MAX_REPLICA_ID_BYTES) throw new AdvertDecodeError('malformed', L.replicaIdLength.offset, `replica id length ${idLength} is not from 1 to ${MAX_REPLICA_ID_BYTES}`);
  r.need(L.replicaId, idLength, 'replica id', end);
  const replicaId = r.text(L.replicaId, idLength, 'replica id');
  let o = L.replicaId + idLength;
  r.need(o, 2, 'entry count', end);
  const count = r.view.getUint16(o);
  if (count > MAX_ENTRIES) throw new AdvertDecodeError('malformed', o, `${count} entries, more than ${MAX_ENTRIES}`);
  o += 2;
  const entries: AdvertEntry[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    r.need(o, 1, `entry ${i}`, end);
    const k = b[o]!;
    if (k < 1) throw new AdvertDecodeError('malformed', o, `entry ${i} has an empty network name`);
    r.need(o + 1, k + 10, `entry ${i}`, end);
    const network = r.text(o + 1, k, `entry ${i} network`);
    if (seen.has(network)) throw new AdvertDecodeError('malformed', o, `network ${network} appears twice`);
    seen.add(network);
    o += 1 + k;
    const priority = b[o]!;
    const flags = b[o + 1]!;
    if ((flags & ~ENTRY_LEADER) !== 0) throw new AdvertDecodeError('malformed', o + 1, `entry ${i} has reserved flags set`);
    const term = r.u64(o + 2, `entry ${i} term`);
    entries.push({ network, priority, term, leader: (flags & ENTRY_LEADER) !== 0 });
    o += 10;
  }
  if (o !== end) throw new AdvertDecodeError('malformed', o, `${end - o} bytes after the last entry`);
  return {
    advert: { version: ADVERT_VERSION, replicaId, intervalMs, boot, seq, timestamp, entries },
    mac: b.slice(end, end + MAC_LENGTH),
  };
}

/** True when the datagram's MAC is the key's HMAC of the rest; constant time in the MAC. False for anything that is not framed as an advert. */
export function verifyAdvert(bytes: Uint8Array, key: Uint8Array): boolean {
  let end: number;
  try {
    end = checkFrame(new Reader(bytes));
  } catch {
    return false;
  }
  return timingSafeEqual(mac(key, bytes.subarray(0, end)), bytes.subarray(end, end + MAC_LENGTH));
}

/**
 * Checks the frame, then the MAC, and only then parses: unauthenticated
 * bytes are never interpreted beyond the magic, version and length. Throws
 * AdvertDecodeError, `malformed` or `forged`, and nothing else.
 */
export function openAdvert(bytes: Uint8Array, key: Uint8Array): Advert {
  const end = checkFrame(new Reader(bytes));
  if (!timingSafeEqual(mac(key, bytes.subarray(0, end)), bytes.subarray(end, end + MAC_LENGTH))) {
    throw new AdvertDecodeError('forged', end, 'the MAC does not match the shared key');
  }
  return decodeAdvert(bytes).advert;
}
