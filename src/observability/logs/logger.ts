import { pino, type DestinationStream, type Logger } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
import { WalrusError } from '../../errors/index.js';
import { DEFAULT_REDACT_PATHS } from './log-fields.js';

export { DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_PATHS, processorLogger, recordLogger, redactHeaderPaths } from './log-fields.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** @default 'info' */
  level?: LogLevel;
  /**
   * Human-readable lines (pino-pretty) instead of JSON.
   * @default true when the destination is a TTY, else false
   */
  pretty?: boolean;
  /** Bound to every line, e.g. `{ app: 'orders' }`. */
  base?: { app?: string; [key: string]: unknown };
  /** Extra paths to redact, added to {@link DEFAULT_REDACT_PATHS} (pino path syntax). */
  redact?: readonly string[];
  /** Where lines go. @default process.stdout */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
  /**
   * Lines to leave out, by message and numeric pino level (e.g. dead-letter
   * warnings that the live view on a TTY folds into a tally instead).
   * @default none
   */
  omit?: (message: string, level: number) => boolean;
}

/**
 * The walrus-stream logger: pino, JSON by default, pretty on a TTY, with
 * secrets in record headers redacted. Pretty printing runs in-thread
 * (not as a pino transport) so it adds no worker thread and loses no lines
 * on exit.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new WalrusError('CONFIG_INVALID', `log level "${String(level)}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const destination = options.destination ?? process.stdout;
  const usePretty = options.pretty ?? destination.isTTY === true;
  const config = {
    level,
    base: { ...options.base },
    redact: { paths: [...DEFAULT_REDACT_PATHS, ...(options.redact ?? [])], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    ...(options.omit ? { hooks: { logMethod: omitting(options.omit) } } : {}),
  };
  // pino-pretty only when pretty: most runs log JSON (no TTY) and never need it.
  const stream: DestinationStream = usePretty
    ? (createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty)({ destination, colorize: destination.isTTY === true, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' })
    : (destination as unknown as DestinationStream);
  try {
    return pino(config, stream);
  } catch (error) {
    throw new WalrusError('CONFIG_INVALID', `logger options are invalid: ${(error as Error).message}`, { cause: error });
  }
}

type LogMethodHook = (this: Logger, args: Parameters<Logger['info']>, method: Logger['info'], level: number) => void;

function omitting(omit: (message: string, level: number) => boolean): LogMethodHook {
  return function logMethod(args, method, level) {
    const message = (args as unknown[]).find((a): a is string => typeof a === 'string');
    if (message !== undefined && omit(message, level)) return;
    (method as (...a: unknown[]) => void).apply(this, args as unknown[]);
  };
}
