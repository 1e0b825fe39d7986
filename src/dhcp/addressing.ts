// Where a reply goes (RFC 2131 4.1) and the frame that carries it, sent back
// out of the port the request came in on.
import {
  DHCP_CLIENT_PORT, DHCP_LAYOUT, DHCP_SERVER_PORT, MAGIC_COOKIE, BOOTP_MIN_LENGTH, DEFAULT_MAX_MESSAGE_SIZE, END,
  encodeDhcpMessage, encodeOption, getOption, optionCode, type DhcpMessage, type DhcpOption,
} from '../../protocols/dhcp/index.js';
import {
  BROADCAST_IPV4, BROADCAST_MAC, buildUdpFrame, ipv4ToNumber, onesComplementSum, type VlanTag,
} from '../../protocols/packet/index.js';
import type { ReplyType } from './machine.js';

export interface ReplyRoute {
  ethDst: string;
  ipDst: string;
  dstPort: number;
}

const ZERO = '0.0.0.0';

/**
 * RFC 2131 4.1: to the relay's server port when relayed; a NAK is broadcast;
 * to ciaddr when the client has an address; broadcast when the client asks
 * for it (the broadcast bit); else unicast to yiaddr at chaddr.
 * `requestEthSrc` is the frame's source MAC, the relay's for a relayed request.
 */
export function routeReply(request: DhcpMessage, reply: DhcpMessage, type: ReplyType, requestEthSrc: string): ReplyRoute {
  if (request.giaddr !== ZERO) return { ethDst: requestEthSrc, ipDst: request.giaddr, dstPort: DHCP_SERVER_PORT };
  const broadcast = { ethDst: BROADCAST_MAC, ipDst: BROADCAST_IPV4, dstPort: DHCP_CLIENT_PORT };
  if (type === 'nak') return broadcast;
  if (request.ciaddr !== ZERO) return { ethDst: request.chaddr, ipDst: request.ciaddr, dstPort: DHCP_CLIENT_PORT };
  if (request.broadcast || reply.yiaddr === ZERO) return broadcast;
  return { ethDst: request.chaddr, ipDst: reply.yiaddr, dstPort: DHCP_CLIENT_PORT };
}

/**
 * The MAC replies come from when none is configured: locally administered,
 * derived from the server identifier so that every replica uses the same one
 * (the prefix OVN uses for its own service addresses).
 */
export function defaultServerMac(serverId: string): string {
  const n = ipv4ToNumber(serverId) ?? 0;
  const b = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return ['0a', '58', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export interface ReplyFrameInput {
  request: DhcpMessage;
  reply: DhcpMessage;
  type: ReplyType;
  serverId: string;
  serverMac: string;
  requestEthSrc: string;
  vlan?: VlanTag;
}

/**
 * The Ethernet frame of a reply, within the client's maximum message size
 * (option 57). Byte for byte what the protocols/ codecs build (a test holds
 * it to that), written straight into one buffer: the per-packet encoding was
 * a fifth of a DORA's CPU. Replies that need option overload, and anything
 * out of the ordinary, go through the codecs.
 */
export function buildReplyFrame(input: ReplyFrameInput): Uint8Array {
  const maxMessageSize = getOption(input.request, 'maxMessageSize');
  return fastReplyFrame(input, maxMessageSize) ?? buildReplyFrameWithCodecs(input);
}

/** The same frame through the general codecs. */
export function buildReplyFrameWithCodecs(input: ReplyFrameInput): Uint8Array {
  const route = routeReply(input.request, input.reply, input.type, input.requestEthSrc);
  const maxMessageSize = getOption(input.request, 'maxMessageSize');
  const payload = encodeDhcpMessage(input.reply, maxMessageSize === undefined ? {} : { maxMessageSize });
  return buildUdpFrame({
    ethSrc: input.serverMac,
    ethDst: route.ethDst,
    ...(input.vlan ? { vlan: input.vlan } : {}),
    ipSrc: input.serverId,
    ipDst: route.ipDst,
    srcPort: DHCP_SERVER_PORT,
    dstPort: route.dstPort,
    payload,
  });
}

/** Option instances on the wire (code, length, data; split at 255 bytes, RFC 3396) of options that never change. */
const wireCache = new WeakMap<DhcpOption, Uint8Array>();

/**
 * An option as it goes on the wire. Frozen options (the per-subnet ones the
 * view builds once, see view.ts) are encoded once and kept.
 */
function wireOption(o: DhcpOption): Uint8Array {
  const frozen = Object.isFrozen(o);
  if (frozen) {
    const hit = wireCache.get(o);
    if (hit) return hit;
  }
  const code = optionCode(o);
  const data = encodeOption(o);
  const n = data.length === 0 ? 1 : Math.ceil(data.length / 255);
  const out = new Uint8Array(data.length + 2 * n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const chunk = data.subarray(i * 255, i * 255 + 255);
    out[at] = code;
    out[at + 1] = chunk.length;
    out.set(chunk, at + 2);
    at += 2 + chunk.length;
  }
  if (frozen) wireCache.set(o, out);
  return out;
}

const IP_UDP = 28;
const L = DHCP_LAYOUT;

function writeIp(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 255;
  out[at + 2] = (n >>> 8) & 255;
  out[at + 3] = n & 255;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** `aa:bb:cc:dd:ee:ff` into out at `at`; false for anything else. (The generic parser is a regex and a split per call.) */
function writeMacAt(out: Uint8Array, at: number, mac: string): boolean {
  if (mac.length !== 17) return false;
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(mac.charCodeAt(i * 3));
    const lo = hexDigit(mac.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0 || (i < 5 && mac.charCodeAt(i * 3 + 2) !== 58)) return false;
    out[at + i] = (hi << 4) | lo;
  }
  return true;
}

/** A dotted quad as an unsigned integer, or -1: the same addresses ipv4ToNumber accepts (no leading zeros). */
function quad(text: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || part > 255 || (digits > 1 && text.charCodeAt(i - digits) === 48)) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      if (i < text.length && ++dots > 3) return -1;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else return -1;
  }
  return dots === 3 ? n : -1;
}

/** The reply frame written in one pass, or undefined when the codecs must do it (overload, odd fields). */
function fastReplyFrame(input: ReplyFrameInput, maxMessageSize: number | undefined): Uint8Array | undefined {
  const m = input.reply;
  if (m.sname !== '' || m.file !== '' || m.htype !== 1 || m.reservedFlags !== 0 || m.hops !== 0 || m.secs !== 0) return undefined;
  const route = routeReply(input.request, m, input.type, input.requestEthSrc);
  const limit = Math.max(DEFAULT_MAX_MESSAGE_SIZE, Math.min(maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, 0xffff)) - IP_UDP;
  const options = m.options.map(wireOption);
  let inline = L.options + 1;
  for (const o of options) inline += o.length;
  if (inline > limit) return undefined;
  const addresses = [m.ciaddr, m.yiaddr, m.siaddr, m.giaddr, input.serverId, route.ipDst].map(quad);
  if (addresses.some((a) => a < 0)) return undefined;
  const [ciaddr, yiaddr, siaddr, giaddr, ipSrc, ipDst] = addresses as [number, number, number, number, number, number];
  if (!Number.isInteger(m.xid) || m.xid < 0 || m.xid > 0xffffffff) return undefined;

  const dhcpLength = Math.max(BOOTP_MIN_LENGTH, inline);
  const eth = input.vlan ? 18 : 14;
  const out = new Uint8Array(eth + IP_UDP + dhcpLength);
  if (!writeMacAt(out, 0, route.ethDst) || !writeMacAt(out, 6, input.serverMac)) return undefined;
  if (input.vlan) {
    const { pcp, dei, vid } = input.vlan;
    if (!Number.isInteger(pcp) || pcp < 0 || pcp > 7 || !Number.isInteger(vid) || vid < 0 || vid > 4095) return undefined;
    out[12] = 0x81;
    out[13] = 0x00;
    const tci = (pcp << 13) | (dei ? 0x1000 : 0) | vid;
    out[14] = tci >>> 8;
    out[15] = tci & 255;
  }
  out[eth - 2] = 0x08;
  out[eth - 1] = 0x00;

  // IPv4: no options, DSCP 0, identification 0, DF unset, TTL 64, UDP.
  const ip = eth;
  const totalLength = IP_UDP + dhcpLength;
  out[ip] = 0x45;
  out[ip + 2] = totalLength >>> 8;
  out[ip + 3] = totalLength & 255;
  out[ip + 8] = 64;
  out[ip + 9] = 17;
  writeIp(out, ip + 12, ipSrc);
  writeIp(out, ip + 16, ipDst);
  const ipSum = ~onesComplementSum(out.subarray(ip, ip + 20)) & 0xffff;
  out[ip + 10] = ipSum >>> 8;
  out[ip + 11] = ipSum & 255;

  const udp = ip + 20;
  const udpLength = 8 + dhcpLength;
  out[udp] = DHCP_SERVER_PORT >>> 8;
  out[udp + 1] = DHCP_SERVER_PORT & 255;
  out[udp + 2] = route.dstPort >>> 8;
  out[udp + 3] = route.dstPort & 255;
  out[udp + 4] = udpLength >>> 8;
  out[udp + 5] = udpLength & 255;

  const d = udp + 8;
  out[d + L.op] = m.op;
  out[d + L.htype] = 1;
  out[d + L.hlen] = 6;
  writeIp(out, d + L.xid, m.xid);
  if (m.broadcast) out[d + L.flags] = 0x80;
  writeIp(out, d + L.ciaddr, ciaddr);
  writeIp(out, d + L.yiaddr, yiaddr);
  writeIp(out, d + L.siaddr, siaddr);
  writeIp(out, d + L.giaddr, giaddr);
  if (!writeMacAt(out, d + L.chaddr, m.chaddr)) return undefined;
  writeIp(out, d + L.cookie, MAGIC_COOKIE);
  let at = d + L.options;
  for (const o of options) {
    out.set(o, at);
    at += o.length;
  }
  out[at] = END;

  // The pseudo-header (addresses, protocol, length) and the datagram; a computed zero goes out as all ones.
  let sum = onesComplementSum(out.subarray(udp, udp + udpLength));
  sum += (ipSrc >>> 16) + (ipSrc & 0xffff) + (ipDst >>> 16) + (ipDst & 0xffff) + 17 + udpLength;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  const udpSum = ~sum & 0xffff;
  const wire = udpSum === 0 ? 0xffff : udpSum;
  out[udp + 6] = wire >>> 8;
  out[udp + 7] = wire & 255;
  return out;
}
