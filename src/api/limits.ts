// The API's default limits, shared by the server and the generated docs.
import type { RpcLimits } from './rpc.js';
import type { ServerLimits } from './server.js';

export const DEFAULT_LIMITS: RpcLimits & ServerLimits = {
  maxBody: 1 << 20,
  maxBatch: 100,
  // Generous enough for a script driving the API flat out over one
  // connection, small enough that one connection cannot monopolise the daemon.
  rate: 50_000,
  burst: 5_000,
  maxInFlight: 1_000,
  pingInterval: 15_000,
  maxBuffered: 8 << 20,
  maxConnections: 1_024,
};
