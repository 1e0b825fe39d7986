// What one setting is. Every setting is declared once, as a row of a table
// (see settings.ts); the flags, the environment lookup, the config-file keys,
// `weft serve --help` and the Config type are all generated from that table,
// so adding a setting never touches the loader.
import type { z } from 'zod';

/**
 * How a value written as text (a flag or an environment variable) becomes the
 * value the schema checks. `list` settings take a repeatable flag and a
 * comma-separated environment variable; a config file gives them as a YAML
 * sequence (or a comma-separated string).
 */
export type TextForm = 'string' | 'number' | 'boolean' | 'list';

export interface Setting<S extends z.ZodType = z.ZodType> {
  /** The long flag, e.g. `--log-level`. */
  flag: string;
  /** Placeholder shown in help, e.g. `<level>`; ignored for booleans. */
  arg?: string;
  /** The environment variable, e.g. `WEFT_LOG_LEVEL`. */
  env: string;
  /** Validates (and may transform) the value from whichever source won. */
  schema: S;
  /** The default, in the same form a config file would give it; omitted means "unset". */
  default?: z.input<S>;
  help: string;
  text?: TextForm;
  /** Never echo the value (help, errors, logs): keys, passwords, tokens. */
  secret?: boolean;
}

export type SettingsTable = Record<string, Setting>;

/** The resolved configuration a table describes: one typed field per row. */
export type ConfigOf<T extends SettingsTable> = { [K in keyof T]: z.output<T[K]['schema']> };

/** Declares one row; the identity function that lets TypeScript check `default` against `schema`. */
export function setting<S extends z.ZodType>(s: Setting<S>): Setting<S> {
  return s;
}

/** A check across settings, run after each one is valid on its own. */
export type CrossCheck<T extends SettingsTable> = (config: ConfigOf<T>) => { key: keyof T & string; message: string } | undefined;
