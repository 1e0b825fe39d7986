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
  /** Events of the planes (leadership changes) for `events.subscribe`, beside the store's changes. */
  planeEvents?: PlaneEvents;
}

/**
 * An event a plane publishes that is no store change: `kind` names what it is
 * about (`leader`: a network's leadership on this replica, key `TENANT/NAME`).
 * Only admin tokens receive them.
 */
export interface PlaneEvent {
  kind: 'leader';
  key: string;
  action: 'leader' | 'backup';
  value: Record<string, unknown>;
}

export interface PlaneEvents {
  publish(event: PlaneEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(listener: (event: PlaneEvent) => void): () => void;
}

/** The in-process hub the daemon hands to the planes that publish and to the API. */
export function createPlaneEvents(): PlaneEvents {
  const listeners = new Set<(event: PlaneEvent) => void>();
  return {
    publish(event) {
      for (const l of [...listeners]) l(event);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Every stored object comes back with the revision that last wrote it, usable as `ifRevision`. */
export const Revision = z.number().int().nonnegative().describe('store revision that last wrote the object');

export function withRevision<K extends Kind>(v: Versioned<K>): Versioned<K>['value'] & { revision: number } {
  return { ...v.value, revision: v.revision };
}
