import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { redactText, scrubKnownSecrets } from './redact';
import { currentRequestId } from './request-context';

export type LogFormat = 'text' | 'json';
/** LOG_LEVEL as operators write it; `log` is Nest's name for `info`. */
export type LogLevelName = 'error' | 'warn' | 'info' | 'log' | 'debug';

export interface AppLoggerOptions {
  level?: string;
  format?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

const PINO_LEVEL: Record<string, Level> = {
  error: 'error',
  warn: 'warn',
  info: 'info',
  log: 'info',
  debug: 'debug',
};

/**
 * The process-wide Nest logger, on pino. Every line has an ISO-8601 UTC time,
 * its level, the context (the class that wrote it) and the request id when there
 * is one, and passes through the redaction function so a key, bearer token or
 * client secret never reaches the log.
 *
 * LOG_FORMAT=text (default): one readable line each, coloured only on a terminal.
 * LOG_FORMAT=json: one JSON object a line — level, time, requestId, context,
 * message (and stack) — for log shippers.
 */
export class AppLogger implements LoggerService {
  private readonly pino: Logger;

  constructor(options: AppLoggerOptions = {}) {
    const level = PINO_LEVEL[options.level ?? process.env.LOG_LEVEL ?? 'info'] ?? 'info';
    const format = (options.format ?? process.env.LOG_FORMAT) === 'json' ? 'json' : 'text';
    const out = options.destination ?? process.stdout;
    const settings = {
      level,
      base: null,
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    };
    // Synchronous writes: a line logged just before a crash or exit is not lost.
    this.pino =
      format === 'json'
        ? pino(settings, destinationOf(out))
        : pino(
            settings,
            pretty({
              destination: destinationOf(out),
              sync: true,
              colorize: out.isTTY === true && !process.env.NO_COLOR,
              translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
              ignore: 'context,requestId,stack',
              singleLine: true,
              messageFormat: (log, key) =>
                `[${String(log.context ?? 'paygate')}] ${log.requestId ? `[req ${String(log.requestId)}] ` : ''}${String(log[key])}${log.stack ? `\n${String(log.stack)}` : ''}`,
            }) as unknown as DestinationStream,
          );
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params, true);
  }

  /**
   * Nest calls `error(message, stack?, context?)` and the others
   * `(message, context?)`: the last string is the context, a string before it
   * (errors only) the stack.
   */
  private write(level: Level, message: unknown, params: unknown[], withStack = false): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = [...params];
    const context =
      rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? rest.pop() : undefined;
    let stack = withStack && typeof rest[0] === 'string' ? (rest.shift() as string) : undefined;
    if (!stack && message instanceof Error && withStack) stack = message.stack;
    const requestId = currentRequestId();
    this.pino[level](
      {
        ...(context ? { context } : {}),
        ...(requestId ? { requestId } : {}),
        ...(stack ? { stack: clean(stack) } : {}),
      },
      clean(textOf(message)),
    );
  }
}

function destinationOf(out: NodeJS.WritableStream): DestinationStream {
  return out === process.stdout ? pino.destination({ fd: 1, sync: true }) : out;
}

const clean = (text: string): string => scrubKnownSecrets(redactText(text));

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
