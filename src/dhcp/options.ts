// The options of a reply (RFC 2131 4.3.1 table 3, RFC 2132): the mandatory
// ones, then only what the client asked for in option 55, in its order.
import { DHCP_MESSAGE_TYPE, getOption, type DhcpMessage, type DhcpOption } from '../../protocols/dhcp/index.js';
import type { NetworkView, ServedSubnet } from './view.js';

/** T1 and T2 as fractions of the lease time (RFC 2131 4.4.5). */
export const T1_FRACTION = 0.5;
export const T2_FRACTION = 0.875;

/** Option codes weft answers when asked in option 55. */
export const OPTION = {
  SUBNET_MASK: 1, ROUTER: 3, DNS: 6, HOSTNAME: 12, DOMAIN: 15, MTU: 26, BROADCAST: 28,
  MESSAGE: 56, CLIENT_ID: 61, RELAY_AGENT: 82, SEARCH: 119, CLASSLESS_ROUTES: 121,
} as const;

export interface ReplyOptionsInput {
  type: 'offer' | 'ack' | 'inform';
  request: DhcpMessage;
  view: NetworkView;
  subnet: ServedSubnet;
  /** Seconds; absent for INFORM, whose ACK carries no lease time (RFC 2131 4.3.5). */
  leaseTime?: number;
  /** The reservation's host name, else the client's own (option 12 echoed). */
  hostname?: string;
}

export function replyOptions(input: ReplyOptionsInput): DhcpOption[] {
  const { request, subnet, view } = input;
  const s = subnet.subnet;
  const options: DhcpOption[] = [
    { name: 'messageType', value: input.type === 'offer' ? DHCP_MESSAGE_TYPE.OFFER : DHCP_MESSAGE_TYPE.ACK },
    { name: 'serverId', value: subnet.serverId },
  ];
  if (input.leaseTime !== undefined) {
    options.push(
      { name: 'leaseTime', value: input.leaseTime },
      { name: 'renewalTime', value: Math.floor(input.leaseTime * T1_FRACTION) },
      { name: 'rebindingTime', value: Math.floor(input.leaseTime * T2_FRACTION) },
    );
  }
  // The mask is sent unasked: a client configured without it guesses from the address class.
  options.push({ name: 'subnetMask', value: subnet.mask });
  const asked = new Set<number>();
  for (const code of getOption(request, 'parameterRequestList') ?? []) {
    if (asked.has(code)) continue;
    asked.add(code);
    switch (code) {
      case OPTION.ROUTER:
        if (s.gateway !== undefined) options.push({ name: 'router', value: [s.gateway] });
        break;
      case OPTION.DNS:
        if (s.dns.length > 0) options.push({ name: 'dnsServers', value: [...s.dns] });
        break;
      case OPTION.HOSTNAME:
        if (input.hostname !== undefined) options.push({ name: 'hostname', value: input.hostname });
        break;
      case OPTION.DOMAIN:
        if (s.domain !== undefined) options.push({ name: 'domainName', value: s.domain });
        break;
      case OPTION.MTU:
        options.push({ name: 'interfaceMtu', value: view.mtu });
        break;
      case OPTION.BROADCAST:
        options.push({ name: 'broadcastAddress', value: subnet.broadcast });
        break;
      case OPTION.SEARCH:
        if (s.search.length > 0) options.push({ name: 'domainSearch', value: [...s.search] });
        break;
      case OPTION.CLASSLESS_ROUTES:
        if (s.routes.length > 0) {
          // A client that gets option 121 ignores option 3 (RFC 3442), so the default route goes in it too.
          const routes = s.routes.map((r) => ({ destination: r.destination, router: r.gateway }));
          if (s.gateway !== undefined && !s.routes.some((r) => r.destination === '0.0.0.0/0')) {
            routes.push({ destination: '0.0.0.0/0', router: s.gateway });
          }
          options.push({ name: 'classlessRoutes', value: routes });
        }
        break;
    }
  }
  options.push(...echoed(request));
  return options;
}

export function nakOptions(request: DhcpMessage, serverId: string, message: string): DhcpOption[] {
  return [
    { name: 'messageType', value: DHCP_MESSAGE_TYPE.NAK },
    { name: 'serverId', value: serverId },
    { name: 'raw', code: OPTION.MESSAGE, data: Uint8Array.from(Buffer.from(message, 'latin1')) },
    ...echoed(request),
  ];
}

/** The client identifier (RFC 6842) and, to a relay, its agent information (RFC 3046 2.2) come back as sent. */
function echoed(request: DhcpMessage): DhcpOption[] {
  const out: DhcpOption[] = [];
  const clientId = getOption(request, 'clientId');
  if (clientId !== undefined) out.push({ name: 'clientId', value: clientId });
  const relay = getOption(request, 'relayAgentInfo');
  if (relay !== undefined && request.giaddr !== '0.0.0.0') out.push({ name: 'relayAgentInfo', value: relay });
  return out;
}
