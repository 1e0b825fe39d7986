// Hand-built replicas of a host's Open_vSwitch database for reconcile tests:
// rows in friendly form, the replica made by the codec as the plane would.
import * as ovsdb from '../../../protocols/ovsdb/index.js';
import { capturedSchemaJson } from '../ovsdb/fixtures.js';
import { RECONCILE_MONITOR, OWNER_KEY, OWNER_VALUE, PEER_KEY } from '../../../src/ovsdb/reconcile.js';

export const schema: ovsdb.DatabaseSchema = (() => {
  const r = ovsdb.parseSchema(capturedSchemaJson());
  if (!r.ok) throw r.error;
  return r.value;
})();

export const OWNED: [string, string][] = [[OWNER_KEY, OWNER_VALUE]];

export class Db {
  readonly rows = new Map<string, Map<string, Record<string, unknown>>>();
  private n = 0;
  readonly root: string;

  constructor() {
    for (const table of Object.keys(RECONCILE_MONITOR)) this.rows.set(table, new Map());
    this.root = this.add('Open_vSwitch', { bridges: [] });
  }

  add(table: string, row: Record<string, unknown>): string {
    const uuid = `00000000-0000-4000-8000-${(++this.n).toString(16).padStart(12, '0')}`;
    this.rows.get(table)!.set(uuid, row);
    return uuid;
  }

  get(table: string, uuid: string): Record<string, unknown> {
    return this.rows.get(table)!.get(uuid)!;
  }

  bridge(name: string, row: Record<string, unknown> = {}): string {
    const iface = this.add('Interface', { name, type: 'internal' });
    const port = this.add('Port', { name, interfaces: [iface] });
    const uuid = this.add('Bridge', { name, ports: [port], ...row });
    (this.get('Open_vSwitch', this.root).bridges as string[]).push(uuid);
    return uuid;
  }

  port(bridge: string, name: string, iface: Record<string, unknown> = {}, port: Record<string, unknown> = {}): string {
    const i = this.add('Interface', { name, ...iface });
    const p = this.add('Port', { name, interfaces: [i], ...port });
    (this.get('Bridge', bridge).ports as string[]).push(p);
    return p;
  }

  tunnel(bridge: string, name: string, peer: string, type: string, options: [string, string][]): string {
    const ids = new Map([...OWNED, [PEER_KEY, peer]]);
    return this.port(bridge, name, { type, options: new Map(options), external_ids: ids }, { external_ids: ids });
  }

  controller(bridge: string, target: string, owned: boolean): string {
    const c = this.add('Controller', { target, ...(owned ? { external_ids: new Map(OWNED) } : {}) });
    const b = this.get('Bridge', bridge);
    b.controller = [...((b.controller as string[] | undefined) ?? []), c];
    return c;
  }

  replica(): ovsdb.Replica {
    const must = <T>(r: ovsdb.Result<T>): T => {
      if (!r.ok) throw r.error;
      return r.value;
    };
    const updates: ovsdb.TableUpdates = new Map();
    for (const [table, rows] of this.rows) {
      const t = schema.tables.get(table)!;
      updates.set(table, new Map([...rows].map(([u, row]) => [u, { new: must(ovsdb.encodeRow(row, t)) }])));
    }
    return must(ovsdb.applyUpdate(schema, must(ovsdb.createReplica(schema, RECONCILE_MONITOR)), updates)).replica;
  }
}
