import type { ArgumentsHost } from '@nestjs/common';
import { Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { ERROR_CODE_LOCAL } from '../logging/access-log.middleware';
import { DomainError } from './domain-error';
import { DATABASE_RETRY_AFTER_SECONDS, DomainExceptionFilter } from './domain-exception.filter';

interface Answered {
  status?: number;
  headers: Record<string, string>;
  body?: unknown;
  locals: Record<string, unknown>;
}

/** Runs the filter on one exception for `POST /api/orders`; what the client got and what was logged. */
function answer(exception: unknown): Answered & { logged: string[] } {
  const answered: Answered = { headers: {}, locals: {} };
  const res = {
    headersSent: false,
    locals: answered.locals,
    set(name: string, value: string) {
      answered.headers[name.toLowerCase()] = value;
      return res;
    },
    status(code: number) {
      answered.status = code;
      return res;
    },
    json(body: unknown) {
      answered.body = body;
      return res;
    },
  };
  const req = { method: 'POST', path: '/api/orders', id: 'req_test' };
  const host = {
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => req }),
  } as unknown as ArgumentsHost;
  const logged: string[] = [];
  const error = jest
    .spyOn(Logger.prototype, 'error')
    .mockImplementation((message: unknown) => void logged.push(String(message)));
  try {
    new DomainExceptionFilter().catch(exception, host);
  } finally {
    error.mockRestore();
  }
  return { ...answered, logged };
}

const refused = () =>
  new QueryFailedError(
    'INSERT INTO orders (id) VALUES (?)',
    ['ord_1'],
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), {
      code: 'ECONNREFUSED',
      fatal: true,
    }),
  );

describe('DomainExceptionFilter', () => {
  it('answers a database outage 503 SERVICE_UNAVAILABLE with Retry-After, and logs the driver code', () => {
    const got = answer(refused());
    expect(got.status).toBe(503);
    expect(got.headers['retry-after']).toBe(String(DATABASE_RETRY_AFTER_SECONDS));
    expect(got.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'SERVICE_UNAVAILABLE',
      message: `the database is unavailable; try again in ${DATABASE_RETRY_AFTER_SECONDS} seconds`,
      requestId: 'req_test',
    });
    expect(got.locals[ERROR_CODE_LOCAL]).toBe('SERVICE_UNAVAILABLE');
    expect(got.logged).toEqual([expect.stringContaining('database unavailable, ECONNREFUSED')]);
    // The statement's parameters stay out of the log.
    expect(got.logged[0]).not.toContain('ord_1');
  });

  it('answers a SQLite I/O error the same way', () => {
    const ioError = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
    const got = answer(new QueryFailedError('INSERT INTO orders (id) VALUES (?)', [], ioError));
    expect(got).toMatchObject({
      status: 503,
      headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
      body: { code: 'SERVICE_UNAVAILABLE' },
    });
  });

  it('keeps an error the database answered to one statement a 500 that reveals nothing', () => {
    const duplicate = new QueryFailedError(
      'INSERT INTO orders (id) VALUES (?)',
      ['ord_1'],
      Object.assign(new Error("Duplicate entry 'ord_1' for key 'PRIMARY'"), {
        code: 'ER_DUP_ENTRY',
        errno: 1062,
      }),
    );
    const got = answer(duplicate);
    expect(got.status).toBe(500);
    expect(got.headers).toEqual({});
    expect(got.body).toMatchObject({ code: 'INTERNAL', message: 'internal error' });
    expect(got.logged).toHaveLength(1);
    expect(got.logged[0]).not.toContain('database unavailable');
  });

  it('leaves domain errors and HTTP exceptions as they were', () => {
    expect(answer(new DomainError('CHANNEL_UNAVAILABLE', 'alipay: no answer'))).toMatchObject({
      status: 503,
      headers: {},
      body: { code: 'CHANNEL_UNAVAILABLE', message: 'alipay: no answer' },
    });
    expect(answer(new NotFoundException('no such route'))).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
      logged: [],
    });
    expect(answer(new ServiceUnavailableException('stopping'))).toMatchObject({
      status: 503,
      headers: {},
      body: { code: 'SERVICE_UNAVAILABLE', message: 'stopping' },
    });
  });
});
