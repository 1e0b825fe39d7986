import { hexColon, ipv4FromBytes, parseHexColon, writeIPv4 } from '../packet/address.js';
import { readU16, readU32, writeU16, writeU32 } from '../packet/layout.js';
import { latin1 } from './dns-name.js';
import { DhcpDecodeError, DhcpEncodeError } from './errors.js';
import {
  END, OPTION_OVERLOAD, PAD, decodeOption, encodeOption, optionCode,
  type DhcpOption, type DhcpOptionValues, type TypedOptionName,
} from './options.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const MAGIC_COOKIE = 0x63825363;
export const BROADCAST_FLAG = 0x8000;
/** RFC 2131 section 2: every client accepts a 576-byte IP datagram. */
export const DEFAULT_MAX_MESSAGE_SIZE = 576;
/** RFC 1542 section 3.2.1: some relays drop BOOTP messages shorter than this. */
export const BOOTP_MIN_LENGTH = 300;
/** The IPv4 and UDP headers that option 57's size includes. */
const IP_UDP_HEADERS = 28;

/** Byte layout of the fixed part of the message (RFC 2131 figure 1). */
export const DHCP_LAYOUT = {
  op: 0, htype: 1, hlen: 2, hops: 3, xid: 4, secs: 8, flags: 10,
  ciaddr: 12, yiaddr: 16, siaddr: 20, giaddr: 24, chaddr: 28,
  sname: 44, file: 108, cookie: 236, options: 240,
  chaddrLength: 16, snameLength: 64, fileLength: 128,
} as const;
const L = DHCP_LAYOUT;

export interface DhcpMessage {
  op: number;
  htype: number;
  hops: number;
  xid: number;
  secs: number;
  /** The broadcast bit of `flags`. */
  broadcast: boolean;
  /** The other 15 bits of `flags`, which must be zero but are kept as received. */
  reservedFlags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The first `hlen` bytes of chaddr as hex pairs ("02:00:5e:00:02:01"); `hlen` is its length. */
  chaddr: string;
  /** Empty when the field is not used or carries options (overload). */
  sname: string;
  file: string;
  /**
   * Options in the order of their first appearance, each instance of a code
   * concatenated (RFC 3396) across the options, file and sname fields. Pad,
   * end and overload are framing and do not appear here.
   */
  options: DhcpOption[];
}

export function getOption<N extends TypedOptionName>(message: DhcpMessage, name: N): DhcpOptionValues[N] | undefined {
  for (const o of message.options) if (o.name === name) return o.value as DhcpOptionValues[N];
  return undefined;
}

/** Decodes the UDP payload of a DHCP message. */
export function decodeDhcpMessage(bytes: Uint8Array): DhcpMessage {
  if (bytes.length < L.options) throw new DhcpDecodeError(bytes.length, `message of ${bytes.length} bytes is shorter than 240`);
  const op = bytes[L.op]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError(L.op, `op ${op} is neither BOOTREQUEST nor BOOTREPLY`);
  const hlen = bytes[L.hlen]!;
  if (hlen > L.chaddrLength) throw new DhcpDecodeError(L.hlen, `hlen ${hlen} exceeds 16`);
  if (readU32(bytes, L.cookie) !== MAGIC_COOKIE) throw new DhcpDecodeError(L.cookie, 'no DHCP magic cookie');

  const found = new Map<number, { at: number; chunks: Uint8Array[] }>();
  let overload = 0;
  const scan = (start: number, end: number, area: string): void => {
    for (let i = start; i < end; ) {
      const code = bytes[i]!;
      if (code === PAD) { i++; continue; }
      if (code === END) return;
      if (i + 1 >= end) throw new DhcpDecodeError(i, `option ${code} in ${area} has no length`);
      const len = bytes[i + 1]!;
      if (i + 2 + len > end) throw new DhcpDecodeError(i + 1, `option ${code} of length ${len} runs past the end of ${area}`);
      const data = bytes.subarray(i + 2, i + 2 + len);
      if (code === OPTION_OVERLOAD) {
        if (area !== 'options' || overload !== 0) throw new DhcpDecodeError(i, `option overload repeated or in ${area}`);
        if (len !== 1 || data[0]! < 1 || data[0]! > 3) throw new DhcpDecodeError(i + 1, 'option overload is not 1, 2 or 3');
        overload = data[0]!;
      } else {
        const entry = found.get(code);
        if (entry) entry.chunks.push(data);
        else found.set(code, { at: i, chunks: [data] });
      }
      i += 2 + len;
    }
  };
  // A message without an end option is accepted: the UDP length bounds it.
  scan(L.options, bytes.length, 'options');
  if (overload & 1) scan(L.file, L.file + L.fileLength, 'file');
  if (overload & 2) scan(L.sname, L.sname + L.snameLength, 'sname');

  const options: DhcpOption[] = [];
  for (const [code, { at, chunks }] of found) {
    const data = chunks.length === 1 ? chunks[0]! : concat(chunks);
    options.push(decodeOption(code, data, at));
  }
  const flags = readU16(bytes, L.flags);
  return {
    op,
    htype: bytes[L.htype]!,
    hops: bytes[L.hops]!,
    xid: readU32(bytes, L.xid),
    secs: readU16(bytes, L.secs),
    broadcast: (flags & BROADCAST_FLAG) !== 0,
    reservedFlags: flags & ~BROADCAST_FLAG,
    ciaddr: ipv4FromBytes(bytes, L.ciaddr),
    yiaddr: ipv4FromBytes(bytes, L.yiaddr),
    siaddr: ipv4FromBytes(bytes, L.siaddr),
    giaddr: ipv4FromBytes(bytes, L.giaddr),
    chaddr: hexColon(bytes.subarray(L.chaddr, L.chaddr + hlen)),
    sname: overload & 2 ? '' : cString(bytes.subarray(L.sname, L.sname + L.snameLength)),
    file: overload & 1 ? '' : cString(bytes.subarray(L.file, L.file + L.fileLength)),
    options,
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

function cString(field: Uint8Array): string {
  const nul = field.indexOf(0);
  return latin1(nul < 0 ? field : field.subarray(0, nul));
}

export interface EncodeOptions {
  /**
   * The client's maximum DHCP message size (option 57), counting the IP and
   * UDP headers as RFC 2131 does; values below 576 count as 576.
   */
  maxMessageSize?: number;
}

/** The size on the wire of an option's data split into instances of at most 255 bytes. */
function wireSize(data: Uint8Array): number {
  return data.length === 0 ? 2 : data.length + 2 * Math.ceil(data.length / 255);
}

/**
 * Encodes the message as a UDP payload of at least 300 bytes (BOOTP minimum)
 * and at most the client's maximum message size. Options longer than 255
 * bytes become several instances (RFC 3396); when the options field is too
 * small and sname and file are empty, options continue in file, then sname
 * (option overload). A message that still does not fit is a DhcpEncodeError.
 */
export function encodeDhcpMessage(message: DhcpMessage, opts: EncodeOptions = {}): Uint8Array {
  const limit = Math.max(DEFAULT_MAX_MESSAGE_SIZE, Math.min(opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, 0xffff)) - IP_UDP_HEADERS;
  const encoded = message.options.map((o) => ({ code: optionCode(o), data: encodeOption(o) }));
  const inline = L.options + encoded.reduce((n, o) => n + wireSize(o.data), 0) + 1;
  const canOverload = message.sname === '' && message.file === '';
  if (inline > limit && !canOverload) {
    throw new DhcpEncodeError('options', `${inline} bytes exceed the limit of ${limit} and sname or file is in use`);
  }
  const out = new Uint8Array(Math.max(BOOTP_MIN_LENGTH, Math.min(inline, limit)));
  writeHeader(message, out);
  if (inline <= limit) {
    let at: number = L.options;
    for (const { code, data } of encoded) at = writeInstances(out, at, code, data);
    out[at] = END;
    return out;
  }
  // Each area keeps one byte for its end option.
  const areas: { start: number; end: number; at: number }[] = [
    { start: L.options + 3, end: limit - 1, at: L.options + 3 },
    { start: L.file, end: L.file + L.fileLength - 1, at: L.file },
    { start: L.sname, end: L.sname + L.snameLength - 1, at: L.sname },
  ];
  let ai = 0;
  for (const { code, data } of encoded) {
    let rest = data;
    for (;;) {
      const area = areas[ai];
      if (!area) throw new DhcpEncodeError('options', `options do not fit in ${limit} bytes even with overload`);
      const space = area.end - area.at;
      if (wireSize(rest) <= space) {
        area.at = writeInstances(out, area.at, code, rest);
        break;
      }
      // Only an option that is split anyway (over 255 bytes) is split across fields.
      if (rest.length > 255 && space >= 3) {
        const n = Math.min(255, space - 2);
        area.at = writeInstances(out, area.at, code, rest.subarray(0, n));
        rest = rest.subarray(n);
      }
      ai++;
    }
  }
  const [main, file, sname] = areas as [typeof areas[0], typeof areas[0], typeof areas[0]];
  out[L.options] = OPTION_OVERLOAD;
  out[L.options + 1] = 1;
  out[L.options + 2] = (file.at > file.start ? 1 : 0) | (sname.at > sname.start ? 2 : 0);
  for (const area of areas) if (area === main || area.at > area.start) out[area.at] = END;
  return out.subarray(0, Math.max(BOOTP_MIN_LENGTH, main.at + 1));
}

function writeInstances(out: Uint8Array, at: number, code: number, data: Uint8Array): number {
  if (data.length === 0) {
    out[at] = code;
    out[at + 1] = 0;
    return at + 2;
  }
  for (let i = 0; i < data.length; i += 255) {
    const chunk = data.subarray(i, i + 255);
    out[at] = code;
    out[at + 1] = chunk.length;
    out.set(chunk, at + 2);
    at += 2 + chunk.length;
  }
  return at;
}

function writeHeader(m: DhcpMessage, out: Uint8Array): void {
  const bad = (field: string, reason: string): never => {
    throw new DhcpEncodeError(field, reason);
  };
  const uints: [keyof DhcpMessage, number, number][] = [['op', 8, L.op], ['htype', 8, L.htype], ['hops', 8, L.hops], ['secs', 16, L.secs]];
  for (const [field, bits, at] of uints) {
    const v = m[field] as number;
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) bad(field, `${v} does not fit in ${bits} bits`);
    if (bits === 8) out[at] = v;
    else writeU16(out, at, v);
  }
  if (!Number.isInteger(m.xid) || m.xid < 0 || m.xid > 0xffffffff) bad('xid', `${m.xid} does not fit in 32 bits`);
  writeU32(out, L.xid, m.xid);
  if (!Number.isInteger(m.reservedFlags) || m.reservedFlags < 0 || m.reservedFlags > 0x7fff) bad('reservedFlags', `${m.reservedFlags} is not 0..0x7fff`);
  writeU16(out, L.flags, (m.broadcast ? BROADCAST_FLAG : 0) | m.reservedFlags);
  for (const field of ['ciaddr', 'yiaddr', 'siaddr', 'giaddr'] as const) {
    try {
      writeIPv4(m[field], out, L[field], 'dhcp', field);
    } catch {
      bad(field, `not an IPv4 address: ${JSON.stringify(m[field])}`);
    }
  }
  const chaddr = parseHexColon(m.chaddr);
  if (!chaddr || chaddr.length > L.chaddrLength) bad('chaddr', `${JSON.stringify(m.chaddr)} is not up to 16 hex pairs`);
  out[L.hlen] = chaddr!.length;
  out.set(chaddr!, L.chaddr);
  writeCString(out, L.sname, L.snameLength, m.sname, 'sname');
  writeCString(out, L.file, L.fileLength, m.file, 'file');
  writeU32(out, L.cookie, MAGIC_COOKIE);
}

function writeCString(out: Uint8Array, at: number, size: number, value: string, field: string): void {
  if (value.length > size) throw new DhcpEncodeError(field, `longer than ${size} bytes`);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c > 0xff) throw new DhcpEncodeError(field, 'text must be bytes U+0001..U+00FF');
    out[at + i] = c;
  }
}
