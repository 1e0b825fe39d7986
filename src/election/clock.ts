// Time for the election shell. Production uses the system clock and real
// timers; tests use a fake one they advance by hand.

export interface Clock {
  /** Milliseconds since the Unix epoch (adverts carry it as their timestamp). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
