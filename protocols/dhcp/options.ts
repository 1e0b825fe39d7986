import { ipv4FromBytes, ipv4ToNumber, ipv4FromNumber, writeIPv4 } from '../packet/address.js';
import { decodeNameList, decodeWireName, encodeNameList, encodeWireName, latin1 } from './dns-name.js';
import { DhcpDecodeError, DhcpEncodeError } from './errors.js';

export const DHCP_MESSAGE_TYPE = {
  DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8,
} as const;

/** Client FQDN (option 81, RFC 4702). */
export interface ClientFqdn {
  /** S, O, E and N bits as on the wire (E = 0x04: the name is in DNS wire format). */
  flags: number;
  rcode1: number;
  rcode2: number;
  /** Dotted labels; with E set, a trailing dot marks a fully qualified name. */
  name: string;
}

export const FQDN_FLAG = { S: 0x01, O: 0x02, E: 0x04, N: 0x08 } as const;

export interface SubOption {
  code: number;
  data: Uint8Array;
}

export interface ClasslessRoute {
  /** CIDR, host bits zero: "198.51.100.0/24", "0.0.0.0/0". */
  destination: string;
  router: string;
}

/** The typed options, by name, with the type of their value. */
export interface DhcpOptionValues {
  subnetMask: string;
  router: string[];
  dnsServers: string[];
  hostname: string;
  domainName: string;
  interfaceMtu: number;
  broadcastAddress: string;
  requestedIp: string;
  leaseTime: number;
  messageType: number;
  serverId: string;
  parameterRequestList: number[];
  maxMessageSize: number;
  renewalTime: number;
  rebindingTime: number;
  clientId: { type: number; id: Uint8Array };
  clientFqdn: ClientFqdn;
  relayAgentInfo: SubOption[];
  domainSearch: string[];
  classlessRoutes: ClasslessRoute[];
}

export type TypedOptionName = keyof DhcpOptionValues;

/** An option whose code weft does not type, kept as its (concatenated) bytes. */
export interface RawOption {
  name: 'raw';
  code: number;
  data: Uint8Array;
}

export type DhcpOption = { [N in TypedOptionName]: { name: N; value: DhcpOptionValues[N] } }[TypedOptionName] | RawOption;

/** Codes that frame the option area and never appear as options. */
export const PAD = 0;
export const OPTION_OVERLOAD = 52;
export const END = 255;

interface Codec<T> {
  code: number;
  decode(data: Uint8Array, at: number): T;
  encode(value: T, field: string): Uint8Array;
}

const fail = (at: number, reason: string): never => {
  throw new DhcpDecodeError(at, reason);
};

function fixed(data: Uint8Array, at: number, length: number): void {
  if (data.length !== length) fail(at, `length ${data.length}, expected ${length}`);
}

function uint(bits: 8 | 16 | 32): Omit<Codec<number>, 'code'> {
  const bytes = bits / 8;
  return {
    decode(data, at) {
      fixed(data, at, bytes);
      let v = 0;
      for (const b of data) v = v * 256 + b;
      return v;
    },
    encode(value, field) {
      if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) throw new DhcpEncodeError(field, `${value} does not fit in ${bits} bits`);
      const out = new Uint8Array(bytes);
      for (let i = bytes - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
      return out;
    },
  };
}

function ipBytes(ip: string, field: string): Uint8Array {
  const out = new Uint8Array(4);
  try {
    writeIPv4(ip, out, 0, 'dhcp', field);
  } catch {
    throw new DhcpEncodeError(field, `not an IPv4 address: ${JSON.stringify(ip)}`);
  }
  return out;
}

const address: Omit<Codec<string>, 'code'> = {
  decode(data, at) {
    fixed(data, at, 4);
    return ipv4FromBytes(data);
  },
  encode: ipBytes,
};

const addresses: Omit<Codec<string[]>, 'code'> = {
  decode(data, at) {
    if (data.length === 0 || data.length % 4 !== 0) fail(at, `length ${data.length} is not a positive multiple of 4`);
    const out: string[] = [];
    for (let i = 0; i < data.length; i += 4) out.push(ipv4FromBytes(data, i));
    return out;
  },
  encode(value, field) {
    if (value.length === 0) throw new DhcpEncodeError(field, 'needs at least one address');
    const out = new Uint8Array(value.length * 4);
    value.forEach((ip, i) => out.set(ipBytes(ip, field), i * 4));
    return out;
  },
};

function textBytes(text: string, field: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new DhcpEncodeError(field, 'text must be bytes U+0000..U+00FF');
    out[i] = c;
  }
  return out;
}

// Some clients count a trailing NUL into the length; it is not part of the text.
const text: Omit<Codec<string>, 'code'> = {
  decode(data) {
    let end = data.length;
    while (end > 0 && data[end - 1] === 0) end--;
    return latin1(data.subarray(0, end));
  },
  encode: textBytes,
};

const codeList: Omit<Codec<number[]>, 'code'> = {
  decode: (data) => [...data],
  encode(value, field) {
    for (const c of value) if (!Number.isInteger(c) || c < 0 || c > 255) throw new DhcpEncodeError(field, `${c} is not an option code`);
    return Uint8Array.from(value);
  },
};

const clientId: Omit<Codec<DhcpOptionValues['clientId']>, 'code'> = {
  decode(data, at) {
    if (data.length < 1) fail(at, 'client identifier is empty');
    return { type: data[0]!, id: data.slice(1) };
  },
  encode(value, field) {
    const type = uint(8).encode(value.type, field);
    const out = new Uint8Array(1 + value.id.length);
    out.set(type);
    out.set(value.id, 1);
    return out;
  },
};

const clientFqdn: Omit<Codec<ClientFqdn>, 'code'> = {
  decode(data, at) {
    if (data.length < 3) fail(at, `length ${data.length} is below 3`);
    const flags = data[0]!;
    const rest = data.subarray(3);
    const name = flags & FQDN_FLAG.E ? decodeWireName(rest, at) : text.decode(rest, at);
    return { flags, rcode1: data[1]!, rcode2: data[2]!, name };
  },
  encode(value, field) {
    const head = [uint(8).encode(value.flags, field), uint(8).encode(value.rcode1, field), uint(8).encode(value.rcode2, field)];
    const name = value.flags & FQDN_FLAG.E ? encodeWireName(value.name, field) : textBytes(value.name, field);
    const out = new Uint8Array(3 + name.length);
    head.forEach((b, i) => out.set(b, i));
    out.set(name, 3);
    return out;
  },
};

const subOptions: Omit<Codec<SubOption[]>, 'code'> = {
  decode(data, at) {
    const out: SubOption[] = [];
    for (let i = 0; i < data.length; ) {
      if (i + 2 > data.length) fail(at, `sub-option at ${i} is cut short`);
      const len = data[i + 1]!;
      if (i + 2 + len > data.length) fail(at, `sub-option at ${i} runs past the end of the option`);
      out.push({ code: data[i]!, data: data.slice(i + 2, i + 2 + len) });
      i += 2 + len;
    }
    return out;
  },
  encode(value, field) {
    const out: number[] = [];
    for (const s of value) {
      if (!Number.isInteger(s.code) || s.code < 0 || s.code > 255) throw new DhcpEncodeError(field, `${s.code} is not a sub-option code`);
      if (s.data.length > 255) throw new DhcpEncodeError(field, `sub-option ${s.code} is longer than 255 bytes`);
      out.push(s.code, s.data.length, ...s.data);
    }
    return Uint8Array.from(out);
  },
};

const classlessRoutes: Omit<Codec<ClasslessRoute[]>, 'code'> = {
  decode(data, at) {
    const out: ClasslessRoute[] = [];
    for (let i = 0; i < data.length; ) {
      const width = data[i]!;
      if (width > 32) fail(at, `prefix length ${width} at ${i} exceeds 32`);
      const significant = Math.ceil(width / 8);
      if (i + 1 + significant + 4 > data.length) fail(at, `route at ${i} runs past the end of the option`);
      const dest = new Uint8Array(4);
      dest.set(data.subarray(i + 1, i + 1 + significant));
      // Bits beyond the prefix length are not part of the destination (RFC 3442).
      const mask = width === 0 ? 0 : (0xffffffff << (32 - width)) >>> 0;
      const network = (ipv4ToNumber(ipv4FromBytes(dest))! & mask) >>> 0;
      out.push({ destination: `${ipv4FromNumber(network)}/${width}`, router: ipv4FromBytes(data, i + 1 + significant) });
      i += 1 + significant + 4;
    }
    return out;
  },
  encode(value, field) {
    const out: number[] = [];
    for (const r of value) {
      const m = /^(.+)\/(\d{1,2})$/.exec(r.destination);
      const width = m ? Number(m[2]) : NaN;
      if (!m || width > 32) throw new DhcpEncodeError(field, `not a CIDR: ${JSON.stringify(r.destination)}`);
      const dest = ipBytes(m[1]!, field);
      const mask = width === 0 ? 0 : (0xffffffff << (32 - width)) >>> 0;
      if (((ipv4ToNumber(m[1]!)! & ~mask) >>> 0) !== 0) throw new DhcpEncodeError(field, `${r.destination} has host bits set`);
      out.push(width, ...dest.subarray(0, Math.ceil(width / 8)), ...ipBytes(r.router, field));
    }
    return Uint8Array.from(out);
  },
};

const domainSearch: Omit<Codec<string[]>, 'code'> = {
  decode: decodeNameList,
  encode: encodeNameList,
};

export const OPTION_CODECS: { [N in TypedOptionName]: Codec<DhcpOptionValues[N]> } = {
  subnetMask: { code: 1, ...address },
  router: { code: 3, ...addresses },
  dnsServers: { code: 6, ...addresses },
  hostname: { code: 12, ...text },
  domainName: { code: 15, ...text },
  interfaceMtu: { code: 26, ...uint(16) },
  broadcastAddress: { code: 28, ...address },
  requestedIp: { code: 50, ...address },
  leaseTime: { code: 51, ...uint(32) },
  messageType: { code: 53, ...uint(8) },
  serverId: { code: 54, ...address },
  parameterRequestList: { code: 55, ...codeList },
  maxMessageSize: { code: 57, ...uint(16) },
  renewalTime: { code: 58, ...uint(32) },
  rebindingTime: { code: 59, ...uint(32) },
  clientId: { code: 61, ...clientId },
  clientFqdn: { code: 81, ...clientFqdn },
  relayAgentInfo: { code: 82, ...subOptions },
  domainSearch: { code: 119, ...domainSearch },
  classlessRoutes: { code: 121, ...classlessRoutes },
};

const NAME_BY_CODE = new Map<number, TypedOptionName>(
  (Object.keys(OPTION_CODECS) as TypedOptionName[]).map((n) => [OPTION_CODECS[n].code, n]),
);

export function optionCode(option: DhcpOption): number {
  return option.name === 'raw' ? option.code : OPTION_CODECS[option.name].code;
}

/** Decodes the (RFC 3396-concatenated) data of one option; `at` is where its first instance starts. */
export function decodeOption(code: number, data: Uint8Array, at: number): DhcpOption {
  const name = NAME_BY_CODE.get(code);
  if (name === undefined) return { name: 'raw', code, data: data.slice() };
  const codec = OPTION_CODECS[name] as Codec<unknown>;
  return { name, value: codec.decode(data, at) } as DhcpOption;
}

/** The data of an option, before it is split into instances of at most 255 bytes. */
export function encodeOption(option: DhcpOption): Uint8Array {
  if (option.name === 'raw') {
    const { code } = option;
    if (!Number.isInteger(code) || code <= PAD || code >= END || code === OPTION_OVERLOAD) {
      throw new DhcpEncodeError('raw', `${code} is not a code an option can carry`);
    }
    if (NAME_BY_CODE.has(code)) throw new DhcpEncodeError('raw', `option ${code} is typed; use its name ${NAME_BY_CODE.get(code)}`);
    return option.data;
  }
  const codec = OPTION_CODECS[option.name] as Codec<unknown> | undefined;
  if (!codec) throw new DhcpEncodeError(String(option.name), 'not a known option name');
  return codec.encode(option.value, option.name);
}
