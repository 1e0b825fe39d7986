// events.*: notifications of created, updated and deleted objects, fed by the
// store's change feed and filtered by what the token may see. Tokens are sent
// without their hash.
import { z } from 'zod';
import { KINDS, type Kind } from '../../model/index.js';
import type { Change } from '../../store/store.js';
import { tenantOf, visible } from '../access.js';
import type { MethodDeps } from '../deps.js';
import { ErrorCode, notFound } from '../errors.js';
import { defineMethod, type AnyMethod, type Principal, type Session } from '../registry.js';

export const EVENT_NOTIFICATION = 'event';

export const Event = z.object({
  subscription: z.string(),
  revision: z.number().int(),
  kind: z.enum(KINDS as [Kind, ...Kind[]]),
  key: z.string(),
  action: z.enum(['created', 'updated', 'deleted']),
  value: z.record(z.string(), z.unknown()).describe('the object after the change, or the last value for a delete'),
});
export type Event = z.infer<typeof Event>;

export function eventOf(subscription: string, c: Change): Event {
  const value = { ...(c.value as unknown as Record<string, unknown>) };
  if (c.kind === 'token') delete value.hash;
  return { subscription, revision: c.revision, kind: c.kind, key: c.key, action: c.op === 'delete' ? 'deleted' : c.previous === undefined ? 'created' : 'updated', value };
}

export function eventVisible(principal: Principal, c: Change): boolean {
  if (principal.tenant === undefined) return true;
  const tenant = tenantOf(c.kind, c.value) ?? (c.previous !== undefined ? tenantOf(c.kind, c.previous) : undefined);
  return tenant !== undefined && visible(principal, tenant);
}

export function eventMethods({ store }: MethodDeps): AnyMethod[] {
  let next = 0;
  const live = new Map<string, { session: Session; stop: () => void }>();
  return [
    defineMethod({
      name: 'events.subscribe',
      summary: 'Subscribe this WebSocket to object changes; each arrives as an `event` notification.',
      description:
        'Notifications are `{"jsonrpc":"2.0","method":"event","params":Event}`. `kinds` limits them to some kinds of object. A tenant token gets only its tenant\'s objects. A client that reads too slowly is disconnected rather than buffered without bound.',
      scope: 'tenant',
      websocketOnly: true,
      params: z.strictObject({ kinds: z.array(z.enum(KINDS as [Kind, ...Kind[]])).max(KINDS.length).optional() }),
      result: z.object({ subscription: z.string(), revision: z.number().int().describe('events follow this store revision') }),
      errors: [ErrorCode.Unsupported],
      handler: async (p, { principal, session }) => {
        const id = `s${++next}`;
        const kinds = p.kinds ? new Set<string>(p.kinds) : undefined;
        const notify = session.notify!;
        const stop = store.watch((changes) => {
          for (const c of changes) {
            if (kinds && !kinds.has(c.kind)) continue;
            if (!eventVisible(principal, c)) continue;
            notify(EVENT_NOTIFICATION, eventOf(id, c));
          }
        });
        live.set(id, { session, stop });
        session.onClose?.(() => {
          stop();
          live.delete(id);
        });
        return { subscription: id, revision: await store.revision() };
      },
    }),
    defineMethod({
      name: 'events.unsubscribe',
      summary: 'Stop a subscription of this connection.',
      scope: 'tenant',
      websocketOnly: true,
      params: z.strictObject({ subscription: z.string().max(32) }),
      result: z.object({ subscription: z.string() }),
      errors: [ErrorCode.NotFound],
      handler: (p, { session }) => {
        const s = live.get(p.subscription);
        if (!s || s.session !== session) throw notFound(`subscription ${p.subscription}`);
        s.stop();
        live.delete(p.subscription);
        return { subscription: p.subscription };
      },
    }),
  ];
}
