// Where a reply goes (RFC 2131 4.1) and the frame that carries it, sent back
// out of the port the request came in on.
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, encodeDhcpMessage, getOption, type DhcpMessage } from '../../protocols/dhcp/index.js';
import {
  BROADCAST_IPV4, BROADCAST_MAC, buildUdpFrame, ipv4ToNumber, type VlanTag,
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

/** The Ethernet frame of a reply, within the client's maximum message size (option 57). */
export function buildReplyFrame(input: ReplyFrameInput): Uint8Array {
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
