// The client commands (`weft tenant`, `weft network`, ...) that talk to a
// running daemon's admin API. Each registers itself on the program here;
// `weft serve` lives in ../main.ts.
import type { Command } from 'commander';
import { registerApply } from './apply.js';
import { registerDhcp } from './dhcp.js';
import { registerHost } from './host.js';
import { registerLeader } from './leader.js';
import { registerLease } from './lease.js';
import { registerNetwork } from './network.js';
import { registerPort } from './port.js';
import { registerReservation } from './reservation.js';
import { registerStatus } from './status.js';
import { registerTenant } from './tenant.js';
import { registerToken } from './token.js';

export function registerClientCommands(program: Command): Command {
  registerTenant(program);
  registerNetwork(program);
  registerReservation(program);
  registerLease(program);
  registerHost(program);
  registerPort(program);
  registerLeader(program);
  registerDhcp(program);
  registerToken(program);
  registerApply(program);
  registerStatus(program);
  return program;
}
