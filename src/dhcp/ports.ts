// Which port may act for a client. The switch vouches for the port a request
// came in on; chaddr is whatever the sender wrote. A lease records the port
// it was bound on, and while that port is still on its host's bridge no
// request from another port may take, renew, free or decline the client's
// address: otherwise any VM of the network could name another VM's MAC and
// take its address, which the fabric would then allow on the wrong port.
//
// A VM that moves (live migration, a restart on another host) is the one
// legitimate case of a client's MAC appearing on another port. Its request
// from the new port is answered once the old port has left its host's bridge
// (OVSDB reports it gone), or at once when the hypervisor declares the MAC
// on the new port (`external_ids:attached-mac`, as libvirt sets it, or a
// `port.bind` with a MAC): the hypervisor, not the packet, says the NIC is
// there. Until then the request gets no answer, and the client retries, so
// a VM caught mid-migration keeps its address instead of being NAKed into a
// new one.
import type { Lease } from '../model/index.js';
import { isLive, type Client } from './leases.js';

/** Where a request entered the switch (recorded in the lease). */
export interface Ingress {
  host: string;
  port: string;
}

/** What the hosts' bridges say about ports: the fabric provides it. */
export interface PortFacts {
  /** The port is on its host's bridge now (true), gone (false), or its host's bridge is not known (undefined). */
  present(host: string, port: string): boolean | undefined;
  /** The MAC the hypervisor (attached-mac) or a port.bind declares for the port, lower-case. */
  declaredMac(host: string, port: string): string | undefined;
}

/**
 * A live binding or offer of the client held by a port other than the
 * ingress one, which still holds it. Without port facts, or while the old
 * port's host is not known, the old port is taken to be there: refusing a
 * move delays a migrating VM, allowing a wrong one hands a VM's address to
 * another.
 */
export function heldElsewhere(lease: Lease, client: Client, ingress: Ingress | undefined, ports: PortFacts | undefined, now: number): boolean {
  if (!ingress || !lease.host || !lease.port) return false;
  if (lease.state !== 'bound' && lease.state !== 'offered') return false;
  if (!isLive(lease, now)) return false;
  if (lease.host === ingress.host && lease.port === ingress.port) return false;
  if (ports?.declaredMac(ingress.host, ingress.port) === client.mac) return false;
  const there = ports?.present(lease.host, lease.port);
  if (there === false) return false;
  // The old port's name now belongs to another NIC (libvirt reuses vnetN): it no longer holds this client.
  const declaredThere = there === true ? ports?.declaredMac(lease.host, lease.port) : undefined;
  return !(declaredThere !== undefined && declaredThere !== lease.mac);
}
