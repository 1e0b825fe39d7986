#!/usr/bin/env node
// The `weft` command: `weft serve` runs the daemon; the client commands that
// drive a running daemon register themselves through registerClientCommands.
// Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { addSettingOptions, ConfigError, flagValues, loadConfig, SETTINGS } from '../config/index.js';
import { createLogger, type Logger } from '../log.js';
import { StartupError, startDaemon, type Daemon } from '../main.js';
import { registerClientCommands } from './commands/index.js';

/** How long a signalled daemon may take to stop before it is forced out with status 1. */
export const STOP_DEADLINE_MS = 5000;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usageOrConfig(err: unknown): err is ConfigError | StartupError {
  return err instanceof ConfigError || err instanceof StartupError;
}

async function serve(cmd: Command, version: string): Promise<void> {
  const { flags, configFile } = flagValues(cmd, SETTINGS);
  const { config } = loadConfig(configFile === undefined ? { flags, env: process.env } : { flags, env: process.env, configFile });
  const log = createLogger({ level: config.logLevel });

  let daemon: Daemon | undefined;
  let signalled = false;
  // A daemon whose planes are not built yet holds no socket; this keeps the
  // process alive until it is told to stop.
  const keepAlive = setInterval(() => {}, 1 << 30);

  const shutdown = (reason: string, code: number) => {
    const timer = setTimeout(() => {
      log.error({ deadlineMs: STOP_DEADLINE_MS }, 'did not stop in time, forcing exit');
      process.exit(1);
    }, STOP_DEADLINE_MS);
    timer.unref();
    log.info({ reason }, 'stopping');
    void (daemon?.stop() ?? Promise.resolve()).then(
      () => process.exit(code),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    signalled = true;
    if (daemon) shutdown(signal, 0);
    else log.info({ signal }, 'signal during start-up; stopping once started');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', (err) => fatal(log, err));
  process.on('unhandledRejection', (err) => fatal(log, err));

  try {
    daemon = await startDaemon(config, log, { version });
  } catch (err) {
    clearInterval(keepAlive);
    throw err;
  }
  if (signalled) shutdown('signal during start-up', 0);
}

function fatal(log: Logger, err: unknown): never {
  log.fatal({ err }, 'fatal error');
  process.exit(1);
}

export function buildProgram(version: string): Command {
  const program = new Command('weft')
    .description('weft: an SDN controller for multi-tenant Open vSwitch clusters')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .showSuggestionAfterError();

  const serveCmd = program
    .command('serve')
    .description('run the weft daemon; a setting comes from its flag, else its env variable, else the --config file, else its default')
    .helpOption('-h, --help', 'show help');
  addSettingOptions(serveCmd, SETTINGS);
  serveCmd.action(async (_opts: unknown, cmd: Command) => serve(cmd, version));

  registerClientCommands(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram(packageVersion());
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed the message (or the help) already.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (usageOrConfig(err)) {
      process.stderr.write(`weft: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`weft: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

await main(process.argv);
