// JSON-RPC 2.0 processing, independent of the transport: one message of text
// in, the text to answer (or nothing, for notifications) out. Dispatch goes
// through json-rpc-2.0's server; the envelope, batches, rate limits and error
// mapping are checked here first because the package is lenient about them
// (it accepts `"params": 5`, answers a one-call batch with a bare object, and
// would throw on a `null` request).
import {
  JSONRPCServer,
  createJSONRPCErrorResponse,
  type JSONRPCErrorResponse,
  type JSONRPCID,
  type JSONRPCRequest,
  type JSONRPCResponse,
} from 'json-rpc-2.0';
import { ApiError, ErrorCode } from './errors.js';
import { translate } from './guard.js';
import type { CallContext, Registry } from './registry.js';

export interface RpcLog {
  error(obj: object, msg?: string): void;
}

/** A token bucket: `rate` calls per second on average, up to `burst` at once. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface RpcLimits {
  /** Most calls in one batch. */
  maxBatch: number;
  /** Calls per second per connection, on average, and the burst allowed. */
  rate: number;
  burst: number;
  /** Most calls of one connection being handled at once. */
  maxInFlight: number;
}

/** What the endpoint keeps per connection. */
export interface RpcConnection {
  ctx: CallContext;
  bucket: TokenBucket;
  inFlight: number;
}

function isId(id: unknown): id is JSONRPCID {
  return id === null || (typeof id === 'string' && id.length <= 256) || (typeof id === 'number' && Number.isFinite(id));
}

function errorResponse(id: JSONRPCID, code: number, message: string, data?: unknown): JSONRPCErrorResponse {
  return createJSONRPCErrorResponse(id, code, message, data);
}

/** Why a value is not a JSON-RPC 2.0 request object, if it is not. */
function envelopeProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'a request must be an object';
  const r = x as Record<string, unknown>;
  if (r.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if (typeof r.method !== 'string' || r.method.length === 0 || r.method.length > 128) return 'method must be a string of 1-128 characters';
  if (r.params !== undefined && (typeof r.params !== 'object' || r.params === null)) return 'params must be an object or an array';
  if (r.id !== undefined && !isId(r.id)) return 'id must be a string (at most 256 characters), a number or null';
  for (const key of Object.keys(r)) {
    if (key !== 'jsonrpc' && key !== 'method' && key !== 'params' && key !== 'id') return `unknown member ${key.slice(0, 32)}`;
  }
  return undefined;
}

export class RpcEndpoint {
  private readonly server: JSONRPCServer<CallContext>;

  constructor(
    private readonly registry: Registry,
    private readonly limits: RpcLimits,
    private readonly log: RpcLog,
  ) {
    this.server = new JSONRPCServer<CallContext>({ errorListener: () => undefined });
    this.server.mapErrorToJSONRPCErrorResponse = (id, error: unknown) => this.mapError(id, error);
  }

  newConnection(ctx: CallContext): RpcConnection {
    return { ctx, bucket: new TokenBucket(this.limits.rate, this.limits.burst), inFlight: 0 };
  }

  private mapError(id: JSONRPCID, error: unknown): JSONRPCErrorResponse {
    const e = translate(error);
    if (e instanceof ApiError) return errorResponse(id, e.code, e.message, e.data);
    this.log.error({ err: e }, 'method failed unexpectedly');
    return errorResponse(id, ErrorCode.InternalError, 'Internal error');
  }

  /** Handles one message (a request or a batch); resolves to the answer's text, or undefined when there is none. */
  async handle(text: string, conn: RpcConnection): Promise<string | undefined> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return JSON.stringify(errorResponse(null, ErrorCode.ParseError, 'Parse error: not JSON'));
    }
    if (Array.isArray(message)) {
      if (message.length === 0) return JSON.stringify(errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request: empty batch'));
      if (message.length > this.limits.maxBatch) {
        return JSON.stringify(errorResponse(null, ErrorCode.InvalidRequest, `Invalid Request: a batch holds at most ${this.limits.maxBatch} calls, this one ${message.length}`));
      }
      const answers = (await Promise.all(message.map((m) => this.single(m, conn)))).filter((a): a is JSONRPCResponse => a !== null);
      return answers.length > 0 ? JSON.stringify(answers) : undefined;
    }
    const answer = await this.single(message, conn);
    return answer === null ? undefined : JSON.stringify(answer);
  }

  private async single(message: unknown, conn: RpcConnection): Promise<JSONRPCResponse | null> {
    const problem = envelopeProblem(message);
    if (problem !== undefined) {
      const id = typeof message === 'object' && message !== null && isId((message as { id?: unknown }).id) ? ((message as { id: JSONRPCID }).id) : null;
      return errorResponse(id, ErrorCode.InvalidRequest, `Invalid Request: ${problem}`);
    }
    const request = message as JSONRPCRequest;
    const id = request.id === undefined ? null : request.id;
    if (!conn.bucket.take()) {
      return request.id === undefined ? null : errorResponse(id, ErrorCode.RateLimited, 'Rate limited: too many calls on this connection; slow down');
    }
    if (conn.inFlight >= this.limits.maxInFlight) {
      return request.id === undefined ? null : errorResponse(id, ErrorCode.RateLimited, `Rate limited: at most ${this.limits.maxInFlight} calls in flight per connection`);
    }
    const name = request.method;
    if (!this.server.hasMethod(name) && this.registry.has(name)) {
      this.server.addMethod(name, (params, ctx) => this.registry.call(name, params, ctx));
    }
    conn.inFlight++;
    try {
      return await this.server.receive(request, conn.ctx);
    } finally {
      conn.inFlight--;
    }
  }
}
