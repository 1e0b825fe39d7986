// leader.list: which replica leads each network, as this replica sees it
// (the election's per-network view; with no peers configured, the replica
// leads every network itself without a term). Admin only: replica ids and
// priorities describe the deployment, not a tenant's objects.
import { z } from 'zod';
import { NetworkRef } from '../../model/index.js';
import type { MethodDeps } from '../deps.js';
import { ErrorCode, notFound } from '../errors.js';
import { defineMethod, type AnyMethod } from '../registry.js';

export const LeaderPeer = z.object({
  replicaId: z.string(),
  priority: z.number().int().describe('the priority it advertises for the network (0: it is leaving)'),
  term: z.number().int().describe('the term it knows'),
  leader: z.boolean().describe('it says it leads'),
  live: z.boolean().describe('an advert of it arrived within the master-down interval'),
});

export const LeaderRow = z.object({
  network: NetworkRef.describe('`tenant/name`'),
  leader: z.string().nullable().describe('the replica id that leads, as far as this replica knows; null while nobody does'),
  term: z.number().int().describe('the term the leader holds (0 for a single replica, which needs none)'),
  role: z.enum(['leader', 'claiming', 'backup', 'stopped']).describe("this replica's role for the network"),
  answering: z.boolean().describe('this replica answers DHCP for the network now: it leads and the store confirmed its term within the last 1.5 intervals (a leader whose term reads are late goes quiet, and steps down after 2 intervals more)'),
  priority: z.number().int().describe("this replica's effective priority (tracked checks applied)"),
  since: z.number().describe('epoch ms this replica took its current role (for the leader: when it started leading)'),
  peers: z.array(LeaderPeer),
});
export type LeaderRow = z.infer<typeof LeaderRow>;

export const FlowWriterRow = LeaderRow.omit({ network: true }).extend({
  host: z.string().describe('the host whose switch it is'),
  answering: z.boolean().describe("this replica is the writer and the store confirmed its term within the last 1.5 intervals (a writer whose term reads are late keeps its MASTER role, which the switch fences by generation id, and steps down after 2 intervals more)"),
  leader: z.string().nullable().describe("the replica id that writes the switch's flows (its OpenFlow MASTER at `term`), as far as this replica knows; null while nobody does"),
});
export type FlowWriterRow = z.infer<typeof FlowWriterRow>;

export const PeerRow = z.object({
  replicaId: z.string(),
  address: z.string().optional().describe('where its latest accepted advert came from'),
  lastSeen: z.number().describe('epoch ms of its latest accepted advert'),
  live: z.boolean(),
  intervalMs: z.number().int(),
  leads: z.number().int().describe('networks it leads, as far as this replica knows'),
});

export const ReplicaStatus = z.object({
  replicaId: z.string(),
  election: z.boolean().describe('false: a single replica (no peers configured) that leads every network'),
  address: z.string().optional().describe('the advert listener'),
  intervalMs: z.number().int().optional(),
  leads: z.number().int().describe('networks this replica leads'),
  peers: z.array(PeerRow),
  store: z.object({
    reachable: z.boolean().describe('a term read came back within the last master-down interval'),
    lastReadAt: z.number().optional().describe('epoch ms the latest successful term read was sent'),
    latencyMs: z.number().optional().describe('how long it took'),
  }).optional(),
  adverts: z.object({
    sent: z.number().int(),
    received: z.number().int(),
    rejected: z.record(z.string(), z.number().int()).describe('ignored adverts by reason: malformed, forged (bad HMAC), replayed, skew (timestamp too far off), self'),
  }).optional(),
});
export type ReplicaStatus = z.infer<typeof ReplicaStatus>;

/** The election as the API reads it (main.ts adapts the election service, or a single replica). */
export interface LeaderRuntime {
  leaders(): LeaderRow[] | Promise<LeaderRow[]>;
  /** Per admitted host: who writes its switch's flows (none for a single replica, which writes them all as EQUAL). */
  flowWriters(): FlowWriterRow[];
  replica(): ReplicaStatus;
}

export interface LeaderDeps {
  /** Absent in builds without an election (docs, unit tests): leader.list answers an empty list. */
  leaders?: LeaderRuntime;
}

export function leaderMethods({ store, leaders }: MethodDeps & LeaderDeps): AnyMethod[] {
  return [
    defineMethod({
      name: 'leader.list',
      summary: "Per network: who leads, at which term, the priorities, since when, as this replica sees it; per host: who writes its switch's flows.",
      description:
        "Each replica answers from its own view (adverts from its peers and its own role), so during a fail-over two replicas may briefly disagree; the leader is the one whose `role` is `leader`. A replica without peers leads every network with term 0 and writes every switch's flows itself (`flowWriters` is empty). With peers, each admitted host's switch has one flow writer, elected like a network's leader (group `flows:HOST`), which holds the OpenFlow MASTER role with its term as generation id. Leadership changes arrive through `events.subscribe` as events of kind `leader` (key: the network, or `flows:HOST`).",
      scope: 'admin',
      params: z.strictObject({ network: NetworkRef.optional().describe('only this network, as `tenant/network`') }),
      result: z.object({
        replicaId: z.string().describe('the replica that answered'),
        leaders: z.array(LeaderRow),
        flowWriters: z.array(FlowWriterRow).describe('every admitted host, whatever `network` names'),
      }),
      errors: [ErrorCode.NotFound],
      handler: async (p) => {
        const rows = leaders ? await leaders.leaders() : [];
        const picked = p.network === undefined ? rows : rows.filter((r) => r.network === p.network);
        // The store is asked only about a network the election does not know:
        // a replica cut off from the store still answers for what it sees.
        if (p.network !== undefined && picked.length === 0 && !(await store.get('network', p.network))) throw notFound(`network ${p.network}`);
        const byName = <T>(name: (x: T) => string) => (a: T, b: T) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);
        return {
          replicaId: leaders?.replica().replicaId ?? '',
          leaders: [...picked].sort(byName((r) => r.network)),
          flowWriters: (leaders?.flowWriters() ?? []).sort(byName((r) => r.host)),
        };
      },
    }),
  ];
}
