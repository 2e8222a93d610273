import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
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

const LEVEL_VALUE: Record<Level, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};

/** ANSI colours of the level word in text lines on a terminal. */
const LEVEL_COLOUR: Record<Level, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[34m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[41m',
};

/**
 * The process-wide Nest logger. Every line has an ISO-8601 UTC time, its
 * level, the context (the class that wrote it) and the request id when there
 * is one, and passes through the redaction function so a key, bearer token or
 * client secret never reaches the log.
 *
 * LOG_FORMAT=text (default): one readable line each, coloured only on a terminal:
 *   [2026-01-01T12:00:00.000Z] WARN: [Context] [req req_…] message
 * LOG_FORMAT=json: one JSON object a line (pino) — level, time, requestId,
 * context, message (and stack) — for log shippers.
 *
 * Lines to stdout go through one shared buffered writer: while a write is in
 * flight the next lines queue and go out together, so a busy instance makes a
 * few large writes instead of one blocking write per line; what is queued is
 * written out synchronously when the process exits, so the line logged just
 * before an exit (a boot error, a crash) is not lost.
 */
export class AppLogger implements LoggerService {
  private readonly pino?: Logger;
  private readonly threshold: number;
  private readonly out: { write(line: string): unknown };
  private readonly colour: boolean;

  constructor(options: AppLoggerOptions = {}) {
    const level = PINO_LEVEL[options.level ?? process.env.LOG_LEVEL ?? 'info'] ?? 'info';
    const format = (options.format ?? process.env.LOG_FORMAT) === 'json' ? 'json' : 'text';
    const out = options.destination ?? process.stdout;
    this.threshold = LEVEL_VALUE[level];
    this.out = destinationOf(out);
    this.colour = out.isTTY === true && !process.env.NO_COLOR;
    if (format === 'json') {
      this.pino = pino(
        {
          level,
          base: null,
          messageKey: 'message',
          timestamp: pino.stdTimeFunctions.isoTime,
          formatters: { level: (label: string) => ({ level: label }) },
        },
        this.out,
      );
    }
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
    if (LEVEL_VALUE[level] < this.threshold) return;
    const rest = [...params];
    const context =
      rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? rest.pop() : undefined;
    let stack = withStack && typeof rest[0] === 'string' ? (rest.shift() as string) : undefined;
    if (!stack && message instanceof Error && withStack) stack = message.stack;
    const requestId = currentRequestId();
    const text = clean(textOf(message));
    if (this.pino) {
      this.pino[level](
        {
          ...(context ? { context } : {}),
          ...(requestId ? { requestId } : {}),
          ...(stack ? { stack: clean(stack) } : {}),
        },
        text,
      );
      return;
    }
    const word = this.colour
      ? `${LEVEL_COLOUR[level]}${level.toUpperCase()}\x1b[39m`
      : level.toUpperCase();
    this.out.write(
      `[${new Date().toISOString()}] ${word}: [${String(context ?? 'paygate')}] ` +
        `${requestId ? `[req ${requestId}] ` : ''}${text}${stack ? `\n${clean(stack)}` : ''}\n`,
    );
  }
}

let stdoutDestination: DestinationStream | undefined;

/** One writer for every logger on stdout, flushed synchronously at exit. */
function destinationOf(out: NodeJS.WritableStream): { write(line: string): unknown } {
  if (out !== process.stdout) return out;
  if (!stdoutDestination) {
    const boom = pino.destination({ fd: 1, sync: false });
    process.once('exit', () => {
      try {
        boom.flushSync();
      } catch {
        // Nothing left to write to: the output is gone.
      }
    });
    stdoutDestination = boom;
  }
  return stdoutDestination;
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
