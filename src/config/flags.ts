// The settings table as commander options: one long option per row, its help
// line saying the environment variable and the default, and the values the
// user actually typed read back by setting name (commander's own defaults and
// env handling are not used: the loader owns precedence).
import { Option, type Command } from 'commander';
import type { Setting, SettingsTable } from './setting.js';
import { CONFIG_ENV } from './load.js';

function attributeOf(s: Setting): string {
  return new Option(s.flag).attributeName();
}

function defaultText(s: Setting): string {
  if (s.secret || s.default === undefined) return '';
  const v = s.default as unknown;
  return `, default ${Array.isArray(v) ? v.join(',') : String(v)}`;
}

/** Adds `--config` and one option per setting to `cmd`. */
export function addSettingOptions(cmd: Command, table: SettingsTable): Command {
  cmd.addOption(new Option('-c, --config <file>', `config file, YAML or JSON (env ${CONFIG_ENV})`));
  for (const s of Object.values(table)) {
    const boolean = s.text === 'boolean';
    const opt = new Option(boolean ? s.flag : `${s.flag} ${s.arg ?? '<value>'}`, `${s.help} (env ${s.env}${defaultText(s)})`);
    if (s.text === 'list') opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(opt);
  }
  return cmd;
}

/** The values given on the command line, keyed by setting name, plus the `--config` path. */
export function flagValues(cmd: Command, table: SettingsTable): { flags: Record<string, unknown>; configFile?: string } {
  const opts = cmd.opts<Record<string, unknown>>();
  const flags: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    const attr = attributeOf(s);
    if (cmd.getOptionValueSource(attr) === 'cli' && opts[attr] !== undefined) flags[key] = opts[attr];
  }
  const configFile = typeof opts.config === 'string' ? opts.config : undefined;
  return configFile === undefined ? { flags } : { flags, configFile };
}
