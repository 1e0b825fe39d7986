// apply: make one tenant look like a manifest, in one transaction.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { mustSee } from '../access.js';
import type { MethodDeps } from '../deps.js';
import { ErrorCode, conflict, fromZod, invalidParams, notFound, pathString } from '../errors.js';
import { Manifest, PlannedChange, plan } from '../manifest.js';
import { defineMethod, type AnyMethod } from '../registry.js';
import { isConflict } from '../../model/index.js';

const MAX_MANIFEST_TEXT = 1 << 20;

function manifestOf(input: unknown) {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = parseYaml(input, { maxAliasCount: 100, prettyErrors: false });
    } catch (e) {
      throw invalidParams([{ path: 'manifest', message: `not YAML or JSON: ${(e as Error).message.split('\n')[0]}` }]);
    }
  }
  const parsed = Manifest.safeParse(value);
  if (!parsed.success) throw fromZod(parsed.error, ['manifest']);
  return parsed.data;
}

export function applyMethods({ store, guard }: MethodDeps): AnyMethod[] {
  return [
    defineMethod({
      name: 'apply',
      summary: 'Make one tenant match a manifest: create, update (and with `prune` delete) its networks and reservations in one transaction.',
      description:
        'The manifest is an object or its YAML/JSON text (see [Manifest](#manifest)). The whole resulting state is checked before anything is written: any bad or conflicting field refuses the call, naming `manifest.networks.N...`, and nothing changes. `dryRun` returns the same changes without writing. Applying the same manifest twice gives no changes. A tenant token may apply only its own, existing tenant.',
      scope: 'tenant',
      params: z.strictObject({
        manifest: z.union([z.string().max(MAX_MANIFEST_TEXT), z.record(z.string(), z.unknown())]).describe('a Manifest, or its YAML or JSON text'),
        dryRun: z.boolean().default(false),
        prune: z.boolean().default(false).describe("delete the tenant's networks and reservations the manifest does not list"),
      }),
      result: z.object({
        applied: z.boolean().describe('false for a dry run or when there was nothing to change'),
        revision: z.number().int().optional().describe('store revision of the transaction, when applied'),
        changes: z.array(PlannedChange),
      }),
      errors: [ErrorCode.NotFound, ErrorCode.Conflict],
      handler: (p, { principal }) => {
        const manifest = manifestOf(p.manifest);
        mustSee(principal, manifest.tenant, `tenant ${manifest.tenant}`);
        const work = async (fence?: { scope: string; term: number }) => {
          const prefix = `${manifest.tenant}/`;
          const [tenant, networks, reservations, leases] = await Promise.all([
            store.get('tenant', manifest.tenant),
            store.list('network'),
            store.list('reservation', { prefix }),
            store.list('lease', { prefix }),
          ]);
          if (!tenant && principal.tenant !== undefined) throw notFound(`tenant ${manifest.tenant}`);
          const result = plan(manifest, { ...(tenant ? { tenant } : {}), networks, reservations, leases }, { prune: p.prune });
          if (result.issues.length > 0) {
            const issues = result.issues.map((i) => ({
              path: pathString(['manifest', ...i.path]),
              message: principal.tenant !== undefined && (i.code === 'vlan-in-use' || i.code === 'vni-in-use') ? i.message.replace(/ by network \S+$/, '') : i.message,
            }));
            if (result.issues.some(isConflict)) throw conflict(issues);
            throw invalidParams(issues);
          }
          if (p.dryRun || result.ops.length === 0 || !fence) return { applied: false, changes: result.changes };
          const { revision } = await store.commit(result.ops, { fence });
          return { applied: true, revision, changes: result.changes };
        };
        return p.dryRun ? work() : guard.run(work);
      },
    }),
  ];
}
