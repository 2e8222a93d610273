import { PassThrough } from 'node:stream';
import { AppLogger } from './app-logger';
import { requestContext } from './request-context';

/** A logger writing into memory; returns the logger and the lines written so far. */
function capture(options: { level?: string; format?: string; tty?: boolean }) {
  const out = Object.assign(new PassThrough(), { isTTY: options.tty });
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const logger = new AppLogger({ level: options.level, format: options.format, destination: out });
  const lines = () => chunks.join('').split('\n').filter(Boolean);
  return { logger, lines };
}

describe('AppLogger', () => {
  it('json: one object a line with level, ISO-8601 UTC time, context, request id and message', () => {
    const { logger, lines } = capture({ format: 'json' });
    requestContext.run({ requestId: 'req_abc' }, () => logger.log('order paid', 'PaymentsService'));
    logger.error('it broke', 'Error: boom\n    at somewhere (file.ts:1:1)', 'Errors');
    const [first, second] = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      context: 'PaymentsService',
      requestId: 'req_abc',
      message: 'order paid',
    });
    expect(second).toMatchObject({
      level: 'error',
      context: 'Errors',
      message: 'it broke',
      stack: expect.stringContaining('at somewhere'),
    });
  });

  it('text: a readable line with an ISO UTC time, and no colour when not on a terminal', () => {
    const { logger, lines } = capture({ format: 'text', tty: false });
    requestContext.run({ requestId: 'req_xyz' }, () => logger.warn('slow channel', 'Alipay'));
    const [line] = lines();
    expect(line).toMatch(
      /^\[\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\] WARN: \[Alipay\] \[req req_xyz\] slow channel$/,
    );
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/\x1b\[/);
  });

  it('text on a terminal is coloured', () => {
    const { logger, lines } = capture({ format: 'text', tty: true });
    logger.log('hello', 'Test');
    // eslint-disable-next-line no-control-regex
    expect(lines()[0]).toMatch(/\x1b\[/);
  });

  it('honours the level (info is also written log) and redacts secrets in messages and stacks', () => {
    const { logger, lines } = capture({ level: 'warn', format: 'json' });
    logger.log('not shown', 'Test');
    logger.debug('not shown', 'Test');
    logger.warn('Authorization: Bearer mk_live_0123456789abcdef', 'Test');
    logger.error('failed', 'Error: x\n  Bearer sk_secret_value_123', 'Test');
    const written = lines();
    expect(written).toHaveLength(2);
    expect(written.join('\n')).not.toContain('mk_live_0123456789abcdef');
    expect(written.join('\n')).not.toContain('sk_secret_value_123');
    const info = capture({ level: 'log', format: 'json' });
    info.logger.log('shown', 'Test');
    expect(info.lines()).toHaveLength(1);
  });
});
