// The one place that decides weft's OpenFlow controller role on a switch.
// Every bridge lists every replica as a controller. A single replica writes
// as EQUAL. With replicas, the leader of a host's flows group (see
// src/election) claims MASTER with its term as generation_id and alone
// writes the switch's flows; the switch demotes the previous master to
// SLAVE, refuses a slave's flow-mods (IS_SLAVE) and a claim whose
// generation is older than one it has seen (ROLE_REQUEST_FAILED/STALE), so
// a deposed writer cannot write or take the switch back. The others stay
// EQUAL, the role that lets them send the packet-outs of the networks they
// lead, and only read the switch's flows.
import { OFPCR_ROLE } from '../../protocols/openflow/index.js';
import type { Message } from '../../protocols/openflow/index.js';

export type Role = 'equal' | 'master' | 'slave';

export interface RoleClaim {
  role: Role;
  /** Required for master and slave: a number that grows with each election term. */
  generationId?: bigint;
}

export const EQUAL: RoleClaim = { role: 'equal' };

/** Whether two claims are the same role at the same generation. */
export function sameRole(a: RoleClaim, b: RoleClaim): boolean {
  return a.role === b.role && a.generationId === b.generationId;
}

const WIRE: Record<Role, number> = { equal: OFPCR_ROLE.EQUAL, master: OFPCR_ROLE.MASTER, slave: OFPCR_ROLE.SLAVE };

/** What the session offers role.ts: one request/reply exchange. */
export interface RoleChannel {
  request(m: { type: 'role_request'; role: number; generationId: bigint }): Promise<Message>;
}

export class RoleError extends Error {
  override name = 'RoleError';
}

/** The ROLE_REQUEST for a claim. */
export function roleRequest(claim: RoleClaim): { type: 'role_request'; role: number; generationId: bigint } {
  if (claim.role !== 'equal' && claim.generationId === undefined) throw new RoleError(`a ${claim.role} claim needs a generation id`);
  return { type: 'role_request', role: WIRE[claim.role], generationId: claim.generationId ?? 0n };
}

/**
 * Claims a role, given the one held. EQUAL is what an OpenFlow 1.3 switch
 * gives every new connection, so nothing is sent for it from EQUAL (one
 * round trip less in the reconnect path that must reinstall flows fast).
 * Every other claim is sent and checked: the reply must name the role asked
 * for.
 */
export async function claimRole(channel: RoleChannel, claim: RoleClaim, held: Role = 'equal'): Promise<RoleClaim> {
  if (claim.role === 'equal' && held === 'equal') return claim;
  const reply = await channel.request(roleRequest(claim));
  if (reply.type !== 'role_reply') throw new RoleError(`ROLE_REQUEST answered by ${reply.type}`);
  if (reply.role !== WIRE[claim.role]) throw new RoleError(`asked for ${claim.role}, the switch granted role ${reply.role}`);
  // The reply to an EQUAL claim carries the switch's generation, which says nothing about this connection.
  return claim.role === 'equal' ? claim : { role: claim.role, generationId: reply.generationId };
}
