import { createRequire } from 'node:module';
import { type Logger, pino } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/**
 * Structured logs, readable on a console: pretty lines by default (synchronous,
 * no worker thread, so memory stays small on a Pi), one JSON object per line
 * with PIPDU_LOG_FORMAT=json (pino-pretty is then never loaded).
 */
export function createLogger(level: LogLevel = 'info', format = process.env.PIPDU_LOG_FORMAT): Logger {
  if (format === 'json') return pino({ level });
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  const stream = pretty({
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  });
  return pino({ level }, stream);
}

/** A logger that drops everything, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
