// The process logger: pino, one JSON object per line on stdout, or readable
// lines through pino-pretty when stdout is a terminal. Secrets never reach a
// log: fields that carry them are redacted wherever they appear.
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Field names whose values are secrets. Not `key`: that is a store key (`acme/web`) everywhere in weft. */
export const SECRET_FIELDS = ['token', 'secret', 'password', 'authorization', 'apiKey', 'privateKey', 'hmacKey', 'advertKey'];

const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]).concat(['req.headers.authorization', 'headers.authorization']);

export interface LogOptions {
  level: LevelWithSilent;
  /** Readable output; default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
}

export function createLogger(options: LogOptions): Logger {
  const readable = options.pretty ?? process.stdout.isTTY === true;
  // Synchronous writes: the daemon exits right after its last line on shutdown
  // and on fatal errors, and those lines must not be lost.
  const destination =
    options.destination ??
    (readable
      ? pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
      : pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
