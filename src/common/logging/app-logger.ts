import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { redactText, scrubKnownSecrets } from './redact';
import { currentRequestId } from './request-context';

const LEVELS: Record<string, LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  log: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/**
 * The process-wide Nest logger: every line carries the request id when there
 * is one, and passes through the redaction function so a key, bearer token or
 * client secret never reaches the log.
 */
export class AppLogger extends ConsoleLogger {
  constructor(level: string = process.env.LOG_LEVEL ?? 'log') {
    super({ prefix: 'paygate', logLevels: LEVELS[level] ?? LEVELS.log });
  }

  protected override formatMessage(
    logLevel: LogLevel,
    message: unknown,
    pidMessage: string,
    formattedLogLevel: string,
    contextMessage: string,
    timestampDiff: string,
  ): string {
    const requestId = currentRequestId();
    const text = typeof message === 'string' ? message : safeStringify(message);
    const clean = scrubKnownSecrets(redactText(text));
    const withId = requestId ? `[req ${requestId}] ${clean}` : clean;
    return super.formatMessage(
      logLevel,
      withId,
      pidMessage,
      formattedLogLevel,
      contextMessage,
      timestampDiff,
    );
  }

  protected override printStackTrace(stack: string): void {
    super.printStackTrace(stack ? scrubKnownSecrets(redactText(stack)) : stack);
  }
}

function safeStringify(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
