// `wait: true`, like `ovn-nbctl --wait=hv`: a call that changes what switches
// must hold answers only once every switch whose flows the change altered has
// confirmed them with a barrier, or with an error naming the hosts that did
// not within the timeout. The change itself is stored either way.
import { z } from 'zod';
import type { Store } from '../store/store.js';
import { ApiError, ErrorCode } from './errors.js';
import type { AnyMethod } from './registry.js';

export const Waited = z.object({
  host: z.string(),
  ok: z.boolean().describe('the switch confirmed with a barrier'),
  ms: z.number().int().nonnegative().describe('from the change being stored until the switch confirmed (or gave up)'),
  error: z.string().optional(),
});
export type Waited = z.infer<typeof Waited>;

/** The data plane as `wait` needs it: the fabric. */
export interface DataPlane {
  /** Resolves once the store up to `revision` is on every switch it changes, or the timeout passed; one entry per such switch. */
  converge(revision: number, timeoutMs: number): Promise<Waited[]>;
}

export const DEFAULT_WAIT_TIMEOUT = 10_000;

const WaitParams = {
  wait: z.boolean().optional().describe('answer only once every affected switch confirmed the change with a barrier'),
  waitTimeout: z.number().int().min(1).max(600_000).optional().describe(`ms to wait with \`wait\`; default ${DEFAULT_WAIT_TIMEOUT}`),
};

/** Adds `wait`/`waitTimeout` to a method whose change reaches the switches, and `waited` to its result. */
export function waitable(spec: AnyMethod, deps: { store: Store; dataPlane?: DataPlane | undefined }): AnyMethod {
  const params = spec.params as z.ZodObject;
  const result = spec.result as z.ZodObject;
  return {
    ...spec,
    description: `${spec.description ? `${spec.description} ` : ''}With \`wait: true\` it answers once every switch whose flows changed confirmed them (\`waited\`: one entry per host), or fails with -32007 naming the hosts that did not within \`waitTimeout\`.`,
    params: params.extend(WaitParams),
    result: result.extend({ waited: z.array(Waited).optional().describe('with `wait`: each switch that had to change, and when it confirmed') }),
    errors: [...(spec.errors ?? []), ErrorCode.NotConfirmed],
    async handler(p: Record<string, unknown>, ctx) {
      const { wait, waitTimeout, ...rest } = p as { wait?: boolean; waitTimeout?: number };
      const answer = (await spec.handler(rest, ctx)) as Record<string, unknown>;
      if (!wait) return answer;
      if (!deps.dataPlane) return { ...answer, waited: [] };
      const timeout = waitTimeout ?? DEFAULT_WAIT_TIMEOUT;
      const waited = await deps.dataPlane.converge(await deps.store.revision(), timeout);
      const failed = waited.filter((w) => !w.ok);
      if (failed.length > 0) {
        throw new ApiError(ErrorCode.NotConfirmed, `stored, but not confirmed within ${timeout} ms by ${failed.map((w) => `${w.host}${w.error ? ` (${w.error})` : ''}`).join(', ')}`, {
          hosts: failed.map((w) => w.host),
          waited,
        });
      }
      return { ...answer, waited };
    },
  };
}
