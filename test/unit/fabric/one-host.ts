// A fabric on a fresh store with tenant acme, its network acme/web (VLAN 11)
// and one admitted host, hv1, whose bridge reports the ports a test gives.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { createFabric, type Fabric, type ReportedBridge, type ReportedPort } from '../../../src/fabric/index.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { put, type Op, type Store } from '../../../src/store/store.js';

const quiet = { info() {}, warn() {}, debug() {} };

export interface OneHost {
  fabric: Fabric;
  store: Store;
  /** hv1's bridge as the fabric reads it; change its ports, then call `changed`. */
  view: ReportedBridge;
  /** Tells the fabric hv1's ports changed. */
  changed: () => void;
  /** hv1's OVSDB session up or down: while down, the fabric gets no view of its bridge. */
  reachable: (up: boolean) => void;
}

/** `more` is committed with the rest before the fabric starts (another network, say). */
export async function fabricWith(t: Test, ports: ReportedPort[], more: Op[] = []): Promise<OneHost> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-fabric-unit-'));
  const store = await openSqliteStore(join(dir, 'weft.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await store.commit([
    put('tenant', 'acme', { name: 'acme' }),
    put('network', 'acme/web', { tenant: 'acme', name: 'web', vlan: 11, vni: 11, mtu: 1450, subnets: [] }),
    put('host', 'hv1', { name: 'hv1', state: 'admitted', encap: 'vxlan', bridge: 'br-int' }),
    ...more,
  ]);
  const view: ReportedBridge = { datapathId: 1n, ports, tunnels: [] };
  let changed: ((host: string) => void) | undefined;
  let up = true;
  const fabric = createFabric({ store, log: quiet, debounce: 0, settle: 0, ovsdb: { bridgeView: (host) => (up && host === 'hv1' ? view : undefined), onPortsChanged: (fn) => (changed = fn) } });
  // A switch that confirms at once, so converge answers as soon as the change is computed.
  fabric.attach({ sync: async () => undefined });
  await fabric.start();
  t.teardown(() => fabric.stop());
  changed!('hv1');
  return {
    fabric, store, view, changed: () => changed!('hv1'),
    reachable: (u) => {
      up = u;
      changed!('hv1');
    },
  };
}
