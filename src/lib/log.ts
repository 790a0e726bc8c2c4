import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

export type Logger = PinoLogger;

export interface LogOptions {
  level?: string;
  /** Write to this stream instead of stdout (tests pass a sink). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const options: LoggerOptions = { level: opts.level ?? 'info', base: { app: 'buudien' } };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that discards everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
