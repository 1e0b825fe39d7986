// events.*: notifications of created, updated and deleted objects, fed by the
// store's change feed and filtered by what the token may see, and of the
// planes' own events (leadership changes), which are no store change and go
// to admin tokens only. Tokens are sent without their hash.
import { z } from 'zod';
import { KINDS, type Kind } from '../../model/index.js';
import type { Change } from '../../store/store.js';
import { tenantOf, visible } from '../access.js';
import type { MethodDeps, PlaneEvent } from '../deps.js';
import { ErrorCode, notFound } from '../errors.js';
import { defineMethod, type AnyMethod, type Principal, type Session } from '../registry.js';

export const EVENT_NOTIFICATION = 'event';

/** Kinds of event that are no stored object: published by a plane. */
export const PLANE_KINDS = ['leader'] as const;
const EventKind = z.enum([...KINDS, ...PLANE_KINDS] as unknown as [Kind | (typeof PLANE_KINDS)[number], ...(Kind | (typeof PLANE_KINDS)[number])[]]);

export const Event = z.object({
  subscription: z.string(),
  revision: z.number().int().describe('the store revision of the change; for a plane event, the latest the subscription had seen'),
  kind: EventKind.describe('a kind of object, or `leader`: this replica started (`leader`) or stopped (`backup`) leading the network `key`'),
  key: z.string(),
  action: z.enum(['created', 'updated', 'deleted', 'leader', 'backup']),
  value: z.record(z.string(), z.unknown()).describe('the object after the change, or the last value for a delete; for `leader`: replicaId, term, reason (of a step-down: higher-term, fenced, unconfirmed, shutdown), at (epoch ms)'),
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

export function planeEventOf(subscription: string, revision: number, e: PlaneEvent): Event {
  return { subscription, revision, kind: e.kind, key: e.key, action: e.action, value: e.value };
}

export function eventMethods({ store, planeEvents }: MethodDeps): AnyMethod[] {
  let next = 0;
  const live = new Map<string, { session: Session; stop: () => void }>();
  return [
    defineMethod({
      name: 'events.subscribe',
      summary: 'Subscribe this WebSocket to object changes; each arrives as an `event` notification.',
      description:
        'Notifications are `{"jsonrpc":"2.0","method":"event","params":Event}`. `kinds` limits them to some kinds of object. A tenant token gets only its tenant\'s objects. Besides store changes, an admin token gets the planes\' events: kind `leader`, one each time this replica starts or stops leading a network (with several replicas, subscribe to each to follow them all). A client that reads too slowly is disconnected rather than buffered without bound.',
      scope: 'tenant',
      websocketOnly: true,
      params: z.strictObject({ kinds: z.array(EventKind).max(KINDS.length + PLANE_KINDS.length).optional() }),
      result: z.object({ subscription: z.string(), revision: z.number().int().describe('events follow this store revision') }),
      errors: [ErrorCode.Unsupported],
      handler: async (p, { principal, session }) => {
        const id = `s${++next}`;
        const kinds = p.kinds ? new Set<string>(p.kinds) : undefined;
        const notify = session.notify!;
        let seen = 0;
        const stopStore = store.watch((changes) => {
          for (const c of changes) {
            seen = Math.max(seen, c.revision);
            if (kinds && !kinds.has(c.kind)) continue;
            if (!eventVisible(principal, c)) continue;
            notify(EVENT_NOTIFICATION, eventOf(id, c));
          }
        });
        const stopPlanes = planeEvents && principal.tenant === undefined
          ? planeEvents.subscribe((e) => {
            if (!kinds || kinds.has(e.kind)) notify(EVENT_NOTIFICATION, planeEventOf(id, seen, e));
          })
          : undefined;
        const stop = () => {
          stopStore();
          stopPlanes?.();
        };
        live.set(id, { session, stop });
        session.onClose?.(() => {
          stop();
          live.delete(id);
        });
        const revision = await store.revision();
        seen = Math.max(seen, revision);
        return { subscription: id, revision };
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
