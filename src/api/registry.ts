// The method registry: each API method is declared once, with its params and
// result schemas, the scope it needs and its handler. Validation, scope
// checks, error mapping and the generated reference (docs/api.md) all come
// from these declarations, so a method cannot be served differently from how
// it is documented. Later planes add their methods to the same registry.
import { z } from 'zod';
import { ApiError, ErrorCode, forbidden, fromZod, invalidParams, type Issue } from './errors.js';

/**
 * `admin`: only admin tokens. `tenant`: admin tokens and tenant tokens; a
 * tenant token then sees only its own tenant's objects (the handler enforces
 * that through `visible`/`mustSee`).
 */
export type Scope = 'admin' | 'tenant';

/** Who is calling: the token's id and, for a tenant-scoped token, its tenant. */
export interface Principal {
  tokenId: string;
  tenant?: string;
}

/** The connection a call arrives on; notifications need a WebSocket. */
export interface Session {
  readonly transport: 'http' | 'ws' | 'internal';
  /** Sends a JSON-RPC notification to this connection (WebSocket only). */
  notify?(method: string, params: unknown): void;
  /** Runs `fn` once when the connection closes (WebSocket only). */
  onClose?(fn: () => void): void;
}

export interface CallContext {
  principal: Principal;
  session: Session;
}

export interface MethodSpec<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  /** `group.verb`, e.g. `network.create`; the group is the docs section. */
  name: string;
  summary: string;
  /** Longer prose for the docs: behaviour, defaults, what a tenant token sees. */
  description?: string;
  scope: Scope;
  params: P;
  result: R;
  /** Application errors the method can answer with, beyond the ones every call can get. */
  errors?: ErrorCode[];
  /** Only over a WebSocket (it sends notifications). */
  websocketOnly?: boolean;
  handler(params: z.output<P>, ctx: CallContext): Promise<z.input<R>> | z.input<R>;
}

// The registry stores methods with their types erased; `defineMethod` keeps
// each declaration's handler checked against its own schemas.
export type AnyMethod = MethodSpec<any, any>;

export function defineMethod<P extends z.ZodType, R extends z.ZodType>(spec: MethodSpec<P, R>): MethodSpec<P, R> {
  return spec;
}

/** Params of methods that take none: an empty object (or nothing). */
export const NoParams = z.strictObject({});

export interface RegistryOptions {
  /** Parse every result with its schema too (tests turn this on; it costs time per call). */
  checkResults?: boolean;
}

export class Registry {
  private readonly methods = new Map<string, AnyMethod>();

  constructor(private readonly options: RegistryOptions = {}) {}

  add(...specs: AnyMethod[]): this {
    for (const spec of specs) {
      if (!/^[a-z][a-zA-Z]*(\.[a-z][a-zA-Z]*)*$/.test(spec.name)) throw new Error(`bad method name ${spec.name}`);
      if (this.methods.has(spec.name)) throw new Error(`method ${spec.name} registered twice`);
      this.methods.set(spec.name, spec);
    }
    return this;
  }

  has(name: string): boolean {
    return this.methods.has(name);
  }

  get(name: string): AnyMethod | undefined {
    return this.methods.get(name);
  }

  /** Every method, by name. */
  list(): AnyMethod[] {
    return [...this.methods.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Validates, checks scope and runs one call. Always rejects with an
   * ApiError for anything the caller got wrong; other errors are bugs.
   */
  async call(name: string, rawParams: unknown, ctx: CallContext): Promise<unknown> {
    const spec = this.methods.get(name);
    if (!spec) throw new ApiError(ErrorCode.MethodNotFound, `Method not found: ${name.slice(0, 64)}`);
    if (spec.scope === 'admin' && ctx.principal.tenant !== undefined) {
      throw forbidden(`${name} needs an admin token`);
    }
    if (spec.websocketOnly && ctx.session.transport !== 'ws') {
      throw new ApiError(ErrorCode.Unsupported, `${name} needs a WebSocket connection (ws://HOST:PORT/rpc)`);
    }
    if (Array.isArray(rawParams)) {
      throw invalidParams([{ path: '', message: 'params must be an object of named fields, not an array' }]);
    }
    const parsed = spec.params.safeParse(rawParams ?? {});
    if (!parsed.success) throw fromZod(parsed.error);
    const result = await spec.handler(parsed.data, ctx);
    if (this.options.checkResults) {
      const checked = spec.result.safeParse(result);
      if (!checked.success) {
        const issues: Issue[] = checked.error.issues.map((i: z.core.$ZodIssue) => ({ path: i.path.join('.'), message: i.message }));
        throw new Error(`${name} returned a result its schema refuses: ${JSON.stringify(issues)}`);
      }
    }
    return result;
  }
}
