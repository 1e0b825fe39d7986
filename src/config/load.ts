// Resolves a settings table from its layers: flag > environment > config file
// > default. Generic over the table, so it never changes when a row is added.
// A bad value becomes one ConfigError whose message names the key and where
// the value came from (the flag, the variable, or the file and its key).
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { CROSS_CHECKS, SETTINGS, type Settings } from './settings.js';
import type { ConfigOf, CrossCheck, Setting, SettingsTable } from './setting.js';

export type Source =
  | { kind: 'flag'; flag: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string; key: string }
  | { kind: 'default' };

export function describeSource(s: Source): string {
  switch (s.kind) {
    case 'flag':
      return `flag ${s.flag}`;
    case 'env':
      return `environment variable ${s.name}`;
    case 'file':
      return `${s.path} key ${s.key}`;
    case 'default':
      return 'the default';
  }
}

/** A usage or configuration error: the daemon prints the one-line message and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly key?: string,
    readonly source?: Source,
  ) {
    super(message);
  }
}

/** Raw values from each layer. Flags hold what the CLI parser produced (string, string[] or boolean). */
export interface Layers {
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  file?: { path: string; data: unknown };
}

export interface Resolved<T extends SettingsTable> {
  config: ConfigOf<T>;
  sources: { [K in keyof T]: Source };
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Turns text from a flag or an environment variable into what the schema expects. */
function fromText(s: Setting, raw: unknown): unknown {
  switch (s.text ?? 'string') {
    case 'list':
      if (Array.isArray(raw)) return raw.flatMap((v) => (typeof v === 'string' ? splitList(v) : [v]));
      return typeof raw === 'string' ? splitList(raw) : raw;
    case 'number':
      return typeof raw === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw;
    case 'boolean':
      if (typeof raw !== 'string') return raw;
      if (TRUE.has(raw.toLowerCase())) return true;
      if (FALSE.has(raw.toLowerCase())) return false;
      return raw;
    case 'string':
      return raw;
  }
}

/** A file may spell a list as a comma-separated string; everything else is taken as written. */
function fromFile(s: Setting, raw: unknown): unknown {
  return s.text === 'list' && typeof raw === 'string' ? splitList(raw) : raw;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid value';
  const where = issue.path.length > 0 ? ` (item ${issue.path.map(String).join('.')})` : '';
  return oneLine(issue.message) + where;
}

function normalise(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

function fileEntries(file: { path: string; data: unknown }, table: SettingsTable): Map<string, unknown> {
  const { path, data } = file;
  if (data === null || data === undefined) return new Map();
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`config: ${path}: expected a mapping of settings at the top level`);
  }
  const entries = new Map<string, unknown>();
  for (const [key, value] of Object.entries(data)) {
    if (!Object.hasOwn(table, key)) {
      const near = Object.keys(table).find((k) => normalise(k) === normalise(key));
      const hint = near ? ` (did you mean ${near}?)` : '';
      throw new ConfigError(`config: unknown key "${key}" in ${path}${hint}`, key, { kind: 'file', path, key });
    }
    entries.set(key, value);
  }
  return entries;
}

/** Resolves every row of `table` from the layers; throws ConfigError on the first bad value. */
export function resolveSettings<T extends SettingsTable>(table: T, layers: Layers, checks: CrossCheck<T>[] = []): Resolved<T> {
  const fromFileMap = layers.file ? fileEntries(layers.file, table) : new Map<string, unknown>();
  const config: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const [key, s] of Object.entries(table)) {
    let raw: unknown;
    let source: Source;
    const flagValue = layers.flags?.[key];
    const envValue = layers.env?.[s.env];
    if (flagValue !== undefined) {
      raw = fromText(s, flagValue);
      source = { kind: 'flag', flag: s.flag };
    } else if (envValue !== undefined) {
      raw = fromText(s, envValue);
      source = { kind: 'env', name: s.env };
    } else if (layers.file && fromFileMap.has(key)) {
      raw = fromFile(s, fromFileMap.get(key));
      source = { kind: 'file', path: layers.file.path, key };
    } else {
      raw = s.default;
      source = { kind: 'default' };
    }
    const result = s.schema.safeParse(raw);
    if (!result.success) {
      const shown = s.secret ? '' : `: ${issueText(result.error)}`;
      throw new ConfigError(`config: invalid ${key} from ${describeSource(source)}${shown}`, key, source);
    }
    config[key] = result.data;
    sources[key] = source;
  }
  const resolved = { config, sources } as Resolved<T>;
  for (const check of checks) {
    const problem = check(resolved.config);
    if (problem) {
      const source = resolved.sources[problem.key];
      const from = source.kind === 'default' ? '' : ` (${describeSource(source)})`;
      throw new ConfigError(`config: ${problem.key}${from} ${problem.message}`, problem.key, source);
    }
  }
  return resolved;
}

/** Reads a YAML or JSON config file (by extension; YAML otherwise) as plain data. */
export function readConfigFile(path: string): { path: string; data: unknown } {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`config: cannot read ${abs}: ${code}`);
  }
  try {
    const data = extname(abs).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
    return { path: abs, data };
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    throw new ConfigError(`config: cannot parse ${abs}: ${first.trim()}`);
  }
}

/** The environment variable naming a config file when `--config` is not given. */
export const CONFIG_ENV = 'WEFT_CONFIG';

/** Loads weft's settings: flags (keyed by setting name), the environment and the optional config file. */
export function loadConfig(input: { flags?: Record<string, unknown>; env?: Record<string, string | undefined>; configFile?: string }): Resolved<Settings> {
  const env = input.env ?? {};
  const path = input.configFile ?? env[CONFIG_ENV];
  const layers: Layers = { flags: input.flags ?? {}, env };
  if (path !== undefined && path !== '') layers.file = readConfigFile(path);
  return resolveSettings(SETTINGS, layers, CROSS_CHECKS);
}

