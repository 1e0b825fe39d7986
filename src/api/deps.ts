// What the built-in method groups need from the rest of weft. Later planes
// close over their own dependencies in the same way when they define methods.
import { z } from 'zod';
import type { Store, Versioned, Kind } from '../store/store.js';
import type { WriteGuard } from './guard.js';

/** One address the daemon serves, as `status` shows it. */
export interface Listener {
  name: string;
  address: string;
}

export interface ApiInfo {
  version: string;
  /** Epoch ms the daemon started. */
  startedAt: number;
  /** Every listener of the daemon (API, OVSDB, OpenFlow, ...), for `status`. */
  listeners(): Listener[];
}

export interface MethodDeps {
  store: Store;
  guard: WriteGuard;
  info: ApiInfo;
  now(): Date;
}

/** Every stored object comes back with the revision that last wrote it, usable as `ifRevision`. */
export const Revision = z.number().int().nonnegative().describe('store revision that last wrote the object');

export function withRevision<K extends Kind>(v: Versioned<K>): Versioned<K>['value'] & { revision: number } {
  return { ...v.value, revision: v.revision };
}
