// The DHCPv4 server state machine of RFC 2131 section 4.3, pure: from the
// network (given by the pipeline, never read from the packet), its leases,
// a decoded request and the time, it decides the reply and the lease write.
// The shell commits the write, conditional on the revision read here, and
// sends the reply only once the write is durable.
import {
  BOOTREPLY, BOOTREQUEST, DHCP_MESSAGE_TYPE, getOption, type DhcpMessage, type DhcpOption,
} from '../../protocols/dhcp/index.js';
import { hexColon, ipv4ToNumber, isMac } from '../../protocols/packet/index.js';
import { Hostname, intToIpv4, type Lease, type LeaseState } from '../model/index.js';
import { allocate, assignableSubnet, type AllocationInput } from './allocator.js';
import { isLive, ownedBy, type Client, type LeaseEntry, type LeaseLookup } from './leases.js';
import { nakOptions, replyOptions } from './options.js';
import { heldElsewhere, type Ingress, type PortFacts } from './ports.js';
import { candidateSubnets, inNetwork, subnetOf, type NetworkView, type ServedSubnet } from './view.js';

export interface DhcpTimers {
  /** How long an offered address is held for the client that was offered it. */
  offerHoldMs: number;
  /** How long a declined address stays out of the pool. */
  declineHoldMs: number;
}

export const DEFAULT_TIMERS: DhcpTimers = { offerHoldMs: 30_000, declineHoldMs: 600_000 };


export interface DecideInput {
  view: NetworkView;
  leases: LeaseLookup;
  request: DhcpMessage;
  /** The IP destination was 255.255.255.255: a REQUEST with ciaddr is then REBINDING, else RENEWING. */
  ipBroadcast: boolean;
  ingress?: Ingress;
  /** Whether ports are on their hosts' bridges: a lease held by another port that is still there is not touched. */
  ports?: PortFacts;
  /** Epoch milliseconds. */
  now: number;
  timers?: DhcpTimers;
  /** Addresses a concurrent writer took since the leases were read. */
  avoid?: ReadonlySet<number>;
}

export type DhcpEvent =
  | { type: 'pool-exhausted'; network: string; mac: string; poolSize: number }
  | { type: 'address-declined'; network: string; ip: string; mac: string; until: number }
  | { type: 'subnet-unservable'; network: string; cidr: string; reason: 'no-server-id' }
  | { type: 'fenced'; network: string; term: number };

/** A lease put, conditional on the revision read (`null`: the address had no lease). */
export interface LeaseWrite {
  lease: Lease;
  ifRevision: number | null;
}

export type ReplyType = 'offer' | 'ack' | 'nak';

/**
 * The RFC 2131 path a request took. `*-unknown` is the silence the RFC asks
 * for when the server has no record of the client.
 */
export type DhcpPath =
  | 'discover-offer' | 'discover-exhausted' | 'discover-no-subnet'
  | 'selecting-ack' | 'selecting-nak' | 'selecting-other-server' | 'selecting-other-server-no-offer'
  | 'init-reboot-ack' | 'init-reboot-nak' | 'init-reboot-unknown' | 'init-reboot-not-served'
  | 'renewing-ack' | 'renewing-nak' | 'renewing-unknown'
  | 'rebinding-ack' | 'rebinding-nak' | 'rebinding-unknown'
  | 'decline' | 'decline-ignored' | 'release' | 'release-ignored'
  | 'inform-ack' | 'inform-ignored'
  | 'held-by-other-port'
  | 'not-a-request' | 'unsupported-hardware' | 'malformed';

export interface Decision {
  path: DhcpPath;
  reply?: { type: ReplyType; message: DhcpMessage; serverId: string };
  write?: LeaseWrite;
  event?: DhcpEvent;
}

const ZERO = '0.0.0.0';

export function clientOf(request: DhcpMessage): Client | undefined {
  if (request.htype !== 1 || !isMac(request.chaddr)) return undefined;
  const id = getOption(request, 'clientId');
  if (id === undefined) return { mac: request.chaddr };
  return { mac: request.chaddr, clientId: hexColon(Uint8Array.of(id.type, ...id.id)).replaceAll(':', '') };
}

export function decide(input: DecideInput): Decision {
  const { request } = input;
  if (request.op !== BOOTREQUEST) return { path: 'not-a-request' };
  const type = getOption(request, 'messageType');
  if (type === undefined) return { path: 'not-a-request' };
  const client = clientOf(request);
  if (!client) return { path: 'unsupported-hardware' };
  // Option 61 is at most 255 bytes in the model; a longer one (RFC 3396 split) is refused.
  if (client.clientId !== undefined && client.clientId.length > 510) return { path: 'malformed' };
  const ctx = new Context(input, client);
  if (type !== DHCP_MESSAGE_TYPE.INFORM && ctx.heldByOtherPort()) return { path: 'held-by-other-port' };
  switch (type) {
    case DHCP_MESSAGE_TYPE.DISCOVER:
      return ctx.discover();
    case DHCP_MESSAGE_TYPE.REQUEST:
      return ctx.request();
    case DHCP_MESSAGE_TYPE.DECLINE:
      return ctx.decline();
    case DHCP_MESSAGE_TYPE.RELEASE:
      return ctx.release();
    case DHCP_MESSAGE_TYPE.INFORM:
      return ctx.inform();
    default:
      return { path: 'not-a-request' };
  }
}

class Context {
  private readonly subnets: ServedSubnet[];
  private readonly timers: DhcpTimers;
  private readonly alloc: AllocationInput;

  constructor(
    private readonly input: DecideInput,
    private readonly client: Client,
  ) {
    this.subnets = candidateSubnets(input.view, ipv4ToNumber(input.request.giaddr) ?? 0);
    this.timers = input.timers ?? DEFAULT_TIMERS;
    this.alloc = {
      view: input.view,
      subnets: this.subnets,
      leases: input.leases,
      client,
      now: input.now,
      ...(input.avoid ? { avoid: input.avoid } : {}),
    };
    const requested = this.option('requestedIp');
    if (requested !== undefined) this.alloc.requested = ipv4ToNumber(requested)!;
  }

  /**
   * The client has a live binding or offer on another port that is still
   * there (see ports.ts): whatever this port asks for the client, it gets no
   * answer and nothing changes, so it can neither take, free nor decline
   * the client's address, nor bind a second one for the client's MAC.
   */
  heldByOtherPort(): boolean {
    const { leases, ingress, ports, now } = this.input;
    return leases.ofClient(this.client).some((e) => heldElsewhere(e.lease, this.client, ingress, ports, now));
  }

  /** RFC 2131 4.3.1. */
  discover(): Decision {
    if (this.subnets.length === 0) return { path: 'discover-no-subnet' };
    const a = allocate(this.alloc);
    if (!a) {
      const { view } = this.input;
      return {
        path: 'discover-exhausted',
        event: { type: 'pool-exhausted', network: view.ref, mac: this.client.mac, poolSize: view.poolSize },
      };
    }
    const { now } = this.input;
    const entry = a.entry;
    const decision: Decision = { path: 'discover-offer', reply: this.positive('offer', a.ip, a.subnet, ZERO) };
    // A live binding of the client is offered as it is; anything else is held for it while it decides.
    const keep = entry !== undefined && entry.lease.state === 'bound' && isLive(entry.lease, now) && ownedBy(entry.lease, this.client);
    if (!keep) decision.write = this.put(a.ip, 'offered', now + this.timers.offerHoldMs, entry);
    return decision;
  }

  /** RFC 2131 4.3.2: which state the client is in follows from server id, ciaddr and requested address. */
  request(): Decision {
    const serverId = this.option('serverId');
    const requested = this.option('requestedIp');
    const { request } = this.input;
    if (serverId !== undefined) {
      if (requested === undefined) return { path: 'malformed' };
      return this.selecting(serverId, ipv4ToNumber(requested)!);
    }
    if (request.ciaddr !== ZERO) {
      const rebinding = this.input.ipBroadcast || request.giaddr !== ZERO;
      return this.extend(ipv4ToNumber(request.ciaddr)!, rebinding ? 'rebinding' : 'renewing');
    }
    if (requested !== undefined) return this.initReboot(ipv4ToNumber(requested)!);
    return { path: 'malformed' };
  }

  private selecting(serverId: string, ip: number): Decision {
    if (!this.isOurs(serverId)) {
      // The client took another server's offer: ours goes back to the pool.
      const offer = this.input.leases
        .ofClient(this.client)
        .find((e) => e.lease.state === 'offered' && isLive(e.lease, this.input.now));
      if (!offer) return { path: 'selecting-other-server-no-offer' };
      return { path: 'selecting-other-server', write: this.change(offer, 'expired', this.input.now) };
    }
    const subnet = assignableSubnet(this.alloc, ip);
    if (!subnet) return this.nak('selecting-nak', this.subnetFor(ip), 'requested address is not available');
    return this.ack('selecting-ack', ip, subnet);
  }

  private initReboot(ip: number): Decision {
    const { view, leases } = this.input;
    const served = subnetOf(this.subnets, ip);
    if (!served) {
      // On a subnet of this network that is not served (DHCP off): not ours to answer.
      if (this.input.request.giaddr === ZERO && inNetwork(view, ip)) return { path: 'init-reboot-not-served' };
      return this.nak('init-reboot-nak', this.subnetFor(ip), 'wrong network');
    }
    const entry = leases.at(ip);
    if (entry && ownedBy(entry.lease, this.client) && entry.lease.state !== 'declined') {
      return assignableSubnet(this.alloc, ip)
        ? this.ack('init-reboot-ack', ip, served)
        : this.nak('init-reboot-nak', served, 'address is not available');
    }
    if (view.reservedFor.get(ip) === this.client.mac && assignableSubnet(this.alloc, ip)) {
      return this.ack('init-reboot-ack', ip, served);
    }
    if (!this.knowsClient() && !(entry && isLive(entry.lease, this.input.now)) && !view.reservedFor.has(ip)) {
      return { path: 'init-reboot-unknown' };
    }
    return this.nak('init-reboot-nak', served, 'address is not yours');
  }

  /** RENEWING (unicast) and REBINDING (broadcast): extend the binding at ciaddr, or refuse it. */
  private extend(ip: number, phase: 'renewing' | 'rebinding'): Decision {
    const served = subnetOf(this.subnets, ip);
    if (!served) {
      if (this.input.request.giaddr === ZERO && inNetwork(this.input.view, ip)) return { path: `${phase}-unknown` };
      return this.nak(`${phase}-nak`, this.subnetFor(ip), 'wrong network');
    }
    const entry = this.input.leases.at(ip);
    if (entry && ownedBy(entry.lease, this.client) && entry.lease.state !== 'declined') {
      return assignableSubnet(this.alloc, ip)
        ? this.ack(`${phase}-ack`, ip, served)
        : this.nak(`${phase}-nak`, served, 'address is not available');
    }
    if (this.input.view.reservedFor.get(ip) === this.client.mac && assignableSubnet(this.alloc, ip)) {
      return this.ack(`${phase}-ack`, ip, served);
    }
    if (!entry && !this.input.view.reservedFor.has(ip)) return { path: `${phase}-unknown` };
    return this.nak(`${phase}-nak`, served, 'address is not yours');
  }

  /** RFC 2131 4.3.3: the client found the address in use; it leaves the pool for a while. */
  decline(): Decision {
    const serverId = this.option('serverId');
    if (serverId !== undefined && !this.isOurs(serverId)) return { path: 'decline-ignored' };
    const text = this.option('requestedIp') ?? (this.input.request.ciaddr !== ZERO ? this.input.request.ciaddr : undefined);
    const entry = text === undefined ? undefined : this.input.leases.at(ipv4ToNumber(text)!);
    if (!entry || !ownedBy(entry.lease, this.client) || entry.lease.state === 'declined') return { path: 'decline-ignored' };
    const until = this.input.now + this.timers.declineHoldMs;
    return {
      path: 'decline',
      write: this.change(entry, 'declined', until),
      event: { type: 'address-declined', network: this.input.view.ref, ip: entry.lease.ip, mac: this.client.mac, until },
    };
  }

  /** RFC 2131 4.3.4: the address is free again, and the client keeps its claim to it should it come back. */
  release(): Decision {
    const serverId = this.option('serverId');
    if (serverId !== undefined && !this.isOurs(serverId)) return { path: 'release-ignored' };
    const { request, leases, now } = this.input;
    if (request.ciaddr === ZERO) return { path: 'release-ignored' };
    const entry = leases.at(ipv4ToNumber(request.ciaddr)!);
    if (!entry || !ownedBy(entry.lease, this.client)) return { path: 'release-ignored' };
    if (entry.lease.state !== 'bound' && entry.lease.state !== 'offered') return { path: 'release-ignored' };
    return { path: 'release', write: this.change(entry, 'released', now) };
  }

  /** RFC 2131 4.3.5: configuration only, no lease, no lease time. */
  inform(): Decision {
    const { request } = this.input;
    if (request.ciaddr === ZERO) return { path: 'inform-ignored' };
    const subnet = subnetOf(this.subnets, ipv4ToNumber(request.ciaddr)!);
    if (!subnet) return { path: 'inform-ignored' };
    const options = replyOptions({ type: 'inform', request, view: this.input.view, subnet, ...this.hostname(undefined) });
    return {
      path: 'inform-ack',
      reply: { type: 'ack', message: this.message(ZERO, request.ciaddr, options, request.broadcast), serverId: subnet.serverId },
    };
  }

  private ack(path: DhcpPath, ip: number, subnet: ServedSubnet): Decision {
    const { now, request } = this.input;
    const entry = this.input.leases.at(ip);
    const expiresAt = now + subnet.subnet.leaseTime * 1000;
    return {
      path,
      reply: this.positive('ack', ip, subnet, request.ciaddr),
      write: this.put(ip, 'bound', expiresAt, entry),
    };
  }

  private nak(path: DhcpPath, subnet: ServedSubnet | undefined, text: string): Decision {
    // With no subnet of ours to speak for, the first one's identifier is still ours.
    const s = subnet ?? this.subnets[0] ?? this.input.view.subnets[0];
    if (!s) return { path };
    const { request } = this.input;
    // Through a relay the broadcast bit makes it broadcast the NAK on the client's segment (RFC 2131 4.3.2).
    const message = this.message(ZERO, ZERO, nakOptions(request, s.serverId, text), request.broadcast || request.giaddr !== ZERO);
    return { path, reply: { type: 'nak', message, serverId: s.serverId } };
  }

  private positive(type: 'offer' | 'ack', ip: number, subnet: ServedSubnet, ciaddr: string): NonNullable<Decision['reply']> {
    const { request, view } = this.input;
    const reservation = view.reservationByMac.get(this.client.mac);
    const reserved = reservation !== undefined && reservation.ip === intToIpv4(ip) ? reservation.hostname : undefined;
    const options = replyOptions({ type, request, view, subnet, leaseTime: subnet.subnet.leaseTime, ...this.hostname(reserved) });
    return { type, message: this.message(intToIpv4(ip), ciaddr, options, request.broadcast), serverId: subnet.serverId };
  }

  private message(yiaddr: string, ciaddr: string, options: DhcpOption[], broadcast: boolean): DhcpMessage {
    const { request } = this.input;
    return {
      op: BOOTREPLY, htype: request.htype, hops: 0, xid: request.xid, secs: 0, broadcast, reservedFlags: 0,
      ciaddr, yiaddr, siaddr: ZERO, giaddr: request.giaddr, chaddr: request.chaddr, sname: '', file: '', options,
    };
  }

  private hostname(reserved: string | undefined): { hostname?: string } {
    const h = reserved ?? this.clientHostname();
    return h === undefined ? {} : { hostname: h };
  }

  /** Option 12 as the client sent it, when it is a valid host name (it is stored in the lease). */
  private clientHostname(): string | undefined {
    const h = this.option('hostname');
    return h !== undefined && Hostname.safeParse(h).success ? h : undefined;
  }

  private put(ip: number, state: LeaseState, expiresAt: number, entry: LeaseEntry | undefined): LeaseWrite {
    const { view, now, ingress } = this.input;
    const mine = entry !== undefined && ownedBy(entry.lease, this.client);
    const lease: Lease = {
      tenant: view.tenant,
      network: view.name,
      ip: intToIpv4(ip),
      mac: this.client.mac,
      state,
      // A renewal keeps the start of the binding it extends.
      start: mine && entry.lease.state === 'bound' && state === 'bound' ? entry.lease.start : now,
      expiresAt,
    };
    if (this.client.clientId !== undefined) lease.clientId = this.client.clientId;
    const hostname = this.clientHostname() ?? (mine ? entry.lease.hostname : undefined);
    if (hostname !== undefined) lease.hostname = hostname;
    // A relayed client is not on the ingress port (the relay is): its lease
    // holds no port, so port security gives the relay's port nothing of it.
    if (ingress && this.input.request.giaddr === ZERO && ingress.host.length <= 128 && ingress.port.length <= 64) {
      lease.host = ingress.host;
      lease.port = ingress.port;
    }
    return { lease, ifRevision: entry?.revision ?? null };
  }

  private change(entry: LeaseEntry, state: LeaseState, expiresAt: number): LeaseWrite {
    return { lease: { ...entry.lease, state, expiresAt }, ifRevision: entry.revision };
  }

  private isOurs(serverId: string): boolean {
    return this.subnets.some((s) => s.serverId === serverId);
  }

  private knowsClient(): boolean {
    return (
      this.input.view.reservationByMac.has(this.client.mac) ||
      this.input.leases.ofClient(this.client).some((e) => e.lease.state !== 'declined')
    );
  }

  private subnetFor(ip: number): ServedSubnet | undefined {
    return subnetOf(this.subnets, ip);
  }

  private option<N extends 'serverId' | 'requestedIp' | 'hostname'>(name: N) {
    return getOption(this.input.request, name);
  }
}
