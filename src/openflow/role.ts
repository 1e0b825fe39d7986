// The one place that decides weft's OpenFlow controller role on a switch.
// Today every replica is EQUAL (each bridge lists every replica as a
// controller and all of them may write). The high-availability issue turns
// this into MASTER/SLAVE with generation_id fencing: a claim carries the
// election term as its generation id, and the switch refuses a claim whose
// generation is older than one it has seen (ROLE_REQUEST_FAILED/STALE), so a
// deposed leader cannot take a switch back.
import { OFPCR_ROLE } from '../../protocols/openflow/index.js';
import type { Message } from '../../protocols/openflow/index.js';

export type Role = 'equal' | 'master' | 'slave';

export interface RoleClaim {
  role: Role;
  /** Required for master and slave: a number that grows with each election term. */
  generationId?: bigint;
}

export const EQUAL: RoleClaim = { role: 'equal' };

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
 * Claims a role. EQUAL is what an OpenFlow 1.3 switch gives every new
 * connection, so nothing is sent for it (one round trip less in the
 * reconnect path that must reinstall flows fast). Master/slave claims are
 * sent and checked: the reply must name the role asked for.
 */
export async function claimRole(channel: RoleChannel, claim: RoleClaim): Promise<RoleClaim> {
  if (claim.role === 'equal') return claim;
  const reply = await channel.request(roleRequest(claim));
  if (reply.type !== 'role_reply') throw new RoleError(`ROLE_REQUEST answered by ${reply.type}`);
  if (reply.role !== WIRE[claim.role]) throw new RoleError(`asked for ${claim.role}, the switch granted role ${reply.role}`);
  return { role: claim.role, generationId: reply.generationId };
}
