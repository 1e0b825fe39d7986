// The domain model: every kind weft stores, with its key. Schemas are zod;
// types are inferred from them.
import type { Host } from './host.js';
import type { Lease } from './lease.js';
import type { Network } from './network.js';
import type { Port } from './port.js';
import type { Reservation } from './reservation.js';
import type { Tenant } from './tenant.js';
import type { Token } from './token.js';

export * from './address.js';
export * from './fields.js';
export * from './host.js';
export * from './invariants.js';
export * from './lease.js';
export * from './network.js';
export * from './port.js';
export * from './reservation.js';
export * from './tenant.js';
export * from './token.js';

export interface KindMap {
  tenant: Tenant;
  network: Network;
  reservation: Reservation;
  host: Host;
  port: Port;
  lease: Lease;
  token: Token;
}
export type Kind = keyof KindMap;
export const KINDS: readonly Kind[] = ['tenant', 'network', 'reservation', 'host', 'port', 'lease', 'token'];

/** The store key of an object: unique within its kind, and prefix-friendly (a tenant's objects share `tenant/`). */
export function keyOf<K extends Kind>(kind: K, value: KindMap[K]): string {
  switch (kind) {
    case 'tenant':
      return (value as Tenant).name;
    case 'network': {
      const n = value as Network;
      return `${n.tenant}/${n.name}`;
    }
    case 'reservation': {
      const r = value as Reservation;
      return `${r.tenant}/${r.network}/${r.mac}`;
    }
    case 'host':
      return (value as Host).name;
    case 'port': {
      const p = value as Port;
      return `${p.host}/${p.name}`;
    }
    case 'lease': {
      const l = value as Lease;
      return `${l.tenant}/${l.network}/${l.ip}`;
    }
    case 'token':
      return (value as Token).id;
  }
  throw new TypeError(`unknown kind ${String(kind)}`);
}
