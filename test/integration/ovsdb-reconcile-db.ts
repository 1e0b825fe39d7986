// A real ovsdb-server seen the way the OVSDB plane will see it, through
// `ovsdb-client`: read the reconciler's tables into a Replica with the
// codec, and send a reconcile's operations as one transaction.
import { readFileSync } from 'node:fs';
import * as ovsdb from '../../protocols/ovsdb/index.js';
import { VSWITCH_SCHEMA, type Ovs } from '../harness/ovs.js';
import { out } from '../harness/proc.js';
import { RECONCILE_MONITOR } from '../../src/ovsdb/reconcile.js';

export const must = <T>(r: ovsdb.Result<T>): T => {
  if (!r.ok) throw r.error;
  return r.value;
};

export const schema: ovsdb.DatabaseSchema = must(ovsdb.parseSchema(JSON.parse(readFileSync(VSWITCH_SCHEMA, 'utf8'))));

async function transactJson(ovs: Ovs, ops: Record<string, unknown>[]): Promise<unknown> {
  const text = await out('ovsdb-client', ['transact', ovs.db, JSON.stringify(['Open_vSwitch', ...ops])], { env: ovs.env });
  return JSON.parse(text);
}

/** Sends operations as one transaction; the outcome says which operation failed and why. */
export async function transact(ovs: Ovs, ops: ovsdb.Operation[]): Promise<ovsdb.TransactOutcome> {
  const json = await transactJson(ovs, ops.map(ovsdb.encodeOperation));
  return must(ovsdb.decodeTransactResult(json, ops.length));
}

/** The tables reconcile needs, as a replica built by the codec (like the plane's monitor). */
export async function readReplica(ovs: Ovs): Promise<ovsdb.Replica> {
  const tables = Object.entries(RECONCILE_MONITOR);
  const json = (await transactJson(
    ovs,
    tables.map(([table, columns]) => ({ op: 'select', table, where: [], columns: ['_uuid', ...columns] })),
  )) as { rows: ovsdb.RowJson[] }[];
  const updates: ovsdb.TableUpdates = new Map();
  tables.forEach(([table], i) => {
    const rows = new Map<string, ovsdb.RowUpdate>();
    for (const { _uuid, ...row } of json[i]!.rows) rows.set((_uuid as ['uuid', string])[1], { new: row });
    updates.set(table, rows);
  });
  const empty = must(ovsdb.createReplica(schema, RECONCILE_MONITOR));
  return must(ovsdb.applyUpdate(schema, empty, updates)).replica;
}
