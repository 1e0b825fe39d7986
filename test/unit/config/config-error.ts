// The ConfigError a bad setting raises, for tests that check what it names.
import { ConfigError } from '../../../src/config/index.js';

/** The ConfigError `fn` throws; any other throw passes through, and no throw at all fails. */
export function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
