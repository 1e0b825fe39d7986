// The options of a reply (RFC 2131 4.3.1 table 3, RFC 2132): the mandatory
// ones, then only what the client asked for in option 55, in its order.
import { DHCP_MESSAGE_TYPE, getOption, type DhcpMessage, type DhcpOption } from '../../protocols/dhcp/index.js';
import { leaseTimeOptions, type NetworkView, type ServedSubnet } from './view.js';

export { T1_FRACTION, T2_FRACTION } from './view.js';

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

const MESSAGE_TYPE: Record<'offer' | 'ack', DhcpOption> = Object.freeze({
  offer: Object.freeze({ name: 'messageType', value: DHCP_MESSAGE_TYPE.OFFER }),
  ack: Object.freeze({ name: 'messageType', value: DHCP_MESSAGE_TYPE.ACK }),
});

/** The subnet's options are the view's own objects, built once per change of the network. */
export function replyOptions(input: ReplyOptionsInput): DhcpOption[] {
  const { request, subnet } = input;
  const o = subnet.options;
  const options: DhcpOption[] = [MESSAGE_TYPE[input.type === 'offer' ? 'offer' : 'ack'], o.serverId];
  if (input.leaseTime !== undefined) {
    options.push(...(input.leaseTime === subnet.subnet.leaseTime ? o.leaseTimes : leaseTimeOptions(input.leaseTime)));
  }
  // The mask is sent unasked: a client configured without it guesses from the address class.
  options.push(o.subnetMask);
  const asked = new Set<number>();
  const add = (x: DhcpOption | undefined) => {
    if (x) options.push(x);
  };
  for (const code of getOption(request, 'parameterRequestList') ?? []) {
    if (asked.has(code)) continue;
    asked.add(code);
    switch (code) {
      case OPTION.ROUTER:
        add(o.router);
        break;
      case OPTION.DNS:
        add(o.dnsServers);
        break;
      case OPTION.HOSTNAME:
        if (input.hostname !== undefined) options.push({ name: 'hostname', value: input.hostname });
        break;
      case OPTION.DOMAIN:
        add(o.domainName);
        break;
      case OPTION.MTU:
        add(o.interfaceMtu);
        break;
      case OPTION.BROADCAST:
        add(o.broadcastAddress);
        break;
      case OPTION.SEARCH:
        add(o.domainSearch);
        break;
      case OPTION.CLASSLESS_ROUTES:
        add(o.classlessRoutes);
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
