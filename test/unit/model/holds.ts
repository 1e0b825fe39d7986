// A fast-check property as a tap assertion, so a property test counts and
// reports like any other.
import fc from 'fast-check';

interface Asserts {
  pass(message: string): unknown;
}

export function holds<Ts extends unknown[]>(t: Asserts, rule: string, property: fc.IProperty<Ts>, runs = 1000): void {
  fc.assert(property, { numRuns: runs });
  t.pass(`${rule} (${runs} random cases)`);
}
