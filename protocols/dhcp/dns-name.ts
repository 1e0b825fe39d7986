import { DhcpDecodeError, DhcpEncodeError } from './errors.js';

// RFC 1035 names: labels of 1..63 bytes, at most 255 bytes on the wire.
const MAX_NAME = 255;
const MAX_LABEL = 63;
// A name of 255 bytes has at most 127 labels, so a legitimate name needs at
// most that many pointers; more means a loop or a deliberate chain.
const MAX_JUMPS = 127;

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/**
 * Splits a name written as dotted labels ("a.example.com", trailing dot
 * optional) into label bytes, checking the RFC 1035 limits.
 */
function labelsOf(name: string, field: string): Uint8Array[] {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') return [];
  const labels = trimmed.split('.').map((label) => {
    if (label.length < 1 || label.length > MAX_LABEL) throw new DhcpEncodeError(field, `label ${JSON.stringify(label)} is not 1..63 bytes`);
    const bytes = new Uint8Array(label.length);
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (c > 0xff) throw new DhcpEncodeError(field, `label ${JSON.stringify(label)} has a character above U+00FF`);
      bytes[i] = c;
    }
    return bytes;
  });
  const wire = labels.reduce((n, l) => n + 1 + l.length, 1);
  if (wire > MAX_NAME) throw new DhcpEncodeError(field, `name of ${wire} bytes exceeds 255`);
  return labels;
}

/**
 * Reads one name at `start`, following compression pointers (RFC 1035
 * 4.1.4) anywhere inside `data`, with the number of jumps bounded so that a
 * pointer loop or a long chain ends in an error, in time linear in `data`. Returns the name without a trailing dot and
 * where the next name starts.
 */
function readName(data: Uint8Array, start: number, base: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = start;
  let next = -1;
  let jumps = 0;
  let wire = 1;
  for (;;) {
    if (pos >= data.length) throw new DhcpDecodeError(base, `name at ${start} runs past the end of the option`);
    const len = data[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { name: labels.join('.'), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= data.length) throw new DhcpDecodeError(base, `compression pointer at ${pos} is cut short`);
      const target = ((len & 0x3f) << 8) | data[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (++jumps > MAX_JUMPS) throw new DhcpDecodeError(base, `compression pointers loop at ${pos}`);
      if (target >= data.length) throw new DhcpDecodeError(base, `compression pointer at ${pos} points past the option`);
      pos = target;
      continue;
    }
    if (len > MAX_LABEL) throw new DhcpDecodeError(base, `label type 0x${len.toString(16)} at ${pos} is not supported`);
    if (pos + 1 + len > data.length) throw new DhcpDecodeError(base, `label at ${pos} runs past the end of the option`);
    wire += 1 + len;
    if (wire > MAX_NAME) throw new DhcpDecodeError(base, `name at ${start} is longer than 255 bytes`);
    const label = latin1(data.subarray(pos + 1, pos + 1 + len));
    if (label.includes('.')) throw new DhcpDecodeError(base, `label at ${pos} contains a dot`);
    labels.push(label);
    pos += 1 + len;
  }
}

/** Decodes a list of compressed names (option 119, RFC 3397). */
export function decodeNameList(data: Uint8Array, base: number): string[] {
  const names: string[] = [];
  let pos = 0;
  while (pos < data.length) {
    const { name, next } = readName(data, pos, base);
    names.push(name);
    pos = next;
  }
  return names;
}

/** Encodes names with compression: a suffix already written becomes a pointer. */
export function encodeNameList(names: readonly string[], field: string): Uint8Array {
  const out: number[] = [];
  const seen = new Map<string, number>();
  for (const name of names) {
    const labels = labelsOf(name, field);
    let i = 0;
    for (; i < labels.length; i++) {
      const suffix = labels.slice(i).map(latin1).join('.');
      const at = seen.get(suffix);
      if (at !== undefined) {
        out.push(0xc0 | (at >> 8), at & 255);
        break;
      }
      if (out.length < 0x4000) seen.set(suffix, out.length);
      out.push(labels[i]!.length, ...labels[i]!);
    }
    if (i === labels.length) out.push(0);
  }
  return Uint8Array.from(out);
}

/**
 * Decodes an uncompressed wire-format name (option 81, RFC 4702). A name
 * that ends with the root label comes back with a trailing dot; one without
 * it is a partial name and comes back without.
 */
export function decodeWireName(data: Uint8Array, base: number): string {
  const labels: string[] = [];
  let pos = 0;
  while (pos < data.length) {
    const len = data[pos]!;
    if (len === 0) {
      if (pos + 1 !== data.length) throw new DhcpDecodeError(base, `bytes after the root label at ${pos}`);
      return labels.join('.') + '.';
    }
    if (len > MAX_LABEL) throw new DhcpDecodeError(base, `label length ${len} at ${pos} is not 1..63`);
    if (pos + 1 + len > data.length) throw new DhcpDecodeError(base, `label at ${pos} runs past the end of the option`);
    const label = latin1(data.subarray(pos + 1, pos + 1 + len));
    if (label.includes('.')) throw new DhcpDecodeError(base, `label at ${pos} contains a dot`);
    labels.push(label);
    pos += 1 + len;
  }
  return labels.join('.');
}

export function encodeWireName(name: string, field: string): Uint8Array {
  const labels = labelsOf(name, field);
  const out: number[] = [];
  for (const l of labels) out.push(l.length, ...l);
  if (name.endsWith('.')) out.push(0);
  return Uint8Array.from(out);
}

export { latin1 };
