// Test clients for the DHCP server: requests as DhcpMessage values (for the
// pure core) and as Ethernet frames built with protocols/packet (for the
// service), and replies parsed back.
import {
  BOOTREQUEST, DHCP_CLIENT_PORT, DHCP_MESSAGE_TYPE, DHCP_SERVER_PORT, decodeDhcpMessage, encodeDhcpMessage, getOption,
  type DhcpMessage, type DhcpOption,
} from '../../../protocols/dhcp/index.js';
import { BROADCAST_IPV4, BROADCAST_MAC, buildUdpFrame, parseUdpFrame, type ParsedUdpFrame } from '../../../protocols/packet/index.js';
import type { DhcpLog } from '../../../src/dhcp/index.js';
import { createLogger } from '../../../src/log.js';
import { Lease, Network, Reservation, type NetworkInput } from '../../../src/model/index.js';

/** A pino logger that writes nothing: also proves pino satisfies DhcpLog. */
export const quiet: DhcpLog = createLogger({ level: 'silent', pretty: false });

export const T = DHCP_MESSAGE_TYPE;
export type MessageType = keyof typeof DHCP_MESSAGE_TYPE;

export interface RequestSpec {
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  broadcast?: boolean;
  serverId?: string;
  requestedIp?: string;
  clientId?: string;
  hostname?: string;
  /** Option 55; default the list dhclient sends. */
  prl?: number[];
  extra?: DhcpOption[];
}

export const DHCLIENT_PRL = [1, 28, 2, 3, 15, 6, 119, 12, 26, 121];

export function message(type: MessageType, spec: RequestSpec): DhcpMessage {
  const options: DhcpOption[] = [{ name: 'messageType', value: T[type] }];
  if (spec.clientId !== undefined) {
    const bytes = Buffer.from(spec.clientId, 'hex');
    options.push({ name: 'clientId', value: { type: bytes[0]!, id: Uint8Array.from(bytes.subarray(1)) } });
  }
  if (spec.serverId !== undefined) options.push({ name: 'serverId', value: spec.serverId });
  if (spec.requestedIp !== undefined) options.push({ name: 'requestedIp', value: spec.requestedIp });
  if (spec.hostname !== undefined) options.push({ name: 'hostname', value: spec.hostname });
  if (type !== 'RELEASE' && type !== 'DECLINE') options.push({ name: 'parameterRequestList', value: spec.prl ?? DHCLIENT_PRL });
  options.push(...(spec.extra ?? []));
  return {
    op: BOOTREQUEST, htype: 1, hops: spec.giaddr ? 1 : 0, xid: spec.xid ?? 0x1234, secs: 0,
    broadcast: spec.broadcast ?? false, reservedFlags: 0,
    ciaddr: spec.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: spec.giaddr ?? '0.0.0.0',
    chaddr: spec.mac, sname: '', file: '', options,
  };
}

export interface FrameSpec extends RequestSpec {
  /** IP destination; default broadcast (unicast to the server when renewing). */
  ipDst?: string;
  /** The relay's MAC when relayed. */
  ethSrc?: string;
}

/** A request as the frame a packet-in carries: from the client (port 68) or, relayed, from the relay (port 67). */
export function frame(type: MessageType, spec: FrameSpec): Buffer {
  const relayed = spec.giaddr !== undefined;
  const bytes = buildUdpFrame({
    ethSrc: spec.ethSrc ?? spec.mac,
    ethDst: spec.ipDst && spec.ipDst !== BROADCAST_IPV4 ? '0a:58:c0:00:02:01' : BROADCAST_MAC,
    ipSrc: relayed ? spec.giaddr! : spec.ciaddr ?? '0.0.0.0',
    ipDst: spec.ipDst ?? BROADCAST_IPV4,
    srcPort: relayed ? DHCP_SERVER_PORT : DHCP_CLIENT_PORT,
    dstPort: DHCP_SERVER_PORT,
    payload: encodeDhcpMessage(message(type, spec)),
  });
  return Buffer.from(bytes);
}

export interface ParsedReply {
  frame: ParsedUdpFrame;
  message: DhcpMessage;
  type: 'OFFER' | 'ACK' | 'NAK';
}

export function parseReply(bytes: Uint8Array): ParsedReply {
  const f = parseUdpFrame(bytes);
  const m = decodeDhcpMessage(f.udp.payload);
  const t = getOption(m, 'messageType');
  const type = t === T.OFFER ? 'OFFER' : t === T.ACK ? 'ACK' : t === T.NAK ? 'NAK' : undefined;
  if (!type) throw new Error(`reply of type ${t}`);
  return { frame: f, message: m, type };
}

/** The test tenant's network: 192.0.2.0/24, gateway .1, a pool of .100-.150. */
export function testNetwork(overrides: Partial<NetworkInput> = {}): Network {
  return Network.parse({
    tenant: 'acme',
    name: 'web',
    vlan: 11,
    vni: 11,
    subnets: [
      {
        cidr: '192.0.2.0/24',
        gateway: '192.0.2.1',
        ranges: [{ start: '192.0.2.100', end: '192.0.2.150' }],
        dns: ['198.51.100.53'],
        domain: 'acme.example',
        search: ['acme.example'],
        leaseTime: 3600,
      },
    ],
    ...overrides,
  });
}

export function reservation(mac: string, ip: string, hostname?: string): Reservation {
  return Reservation.parse({ tenant: 'acme', network: 'web', mac, ip, ...(hostname ? { hostname } : {}) });
}

export function lease(fields: Partial<Lease> & Pick<Lease, 'ip' | 'mac' | 'state' | 'expiresAt'>): Lease {
  return Lease.parse({ tenant: 'acme', network: 'web', start: 0, ...fields });
}

export const mac = (n: number): string =>
  `02:00:5e:${((n >>> 16) & 255).toString(16).padStart(2, '0')}:${((n >>> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
