import type { Response } from 'express';
import { DomainError } from '../errors/domain-error';
import { MAX_FORM_FIELDS, RawBodyRequest, parseForm } from './body-parsers';

function run(body: unknown, contentType = 'application/x-www-form-urlencoded') {
  const req = { body, header: () => contentType } as unknown as RawBodyRequest;
  let error: unknown;
  parseForm(req, {} as Response, (e?: unknown) => (error = e));
  return { body: req.body as unknown, error };
}

describe('parseForm', () => {
  it('gives flat string fields, decoding + and percent escapes, a repeated field as an array', () => {
    const { body, error } = run(
      Buffer.from('a=1&b=x+y%2Fz&a=2&c%5Bd%5D=%E4%B8%AD&empty=&__proto__=bad'),
    );
    expect(error).toBeUndefined();
    expect(body).toEqual({ a: ['1', '2'], b: 'x y/z', 'c[d]': '中', empty: '' });
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
  });

  it('leaves bodies other parsers produced (or none) alone', () => {
    expect(run({ already: 'parsed' }).body).toEqual({ already: 'parsed' });
    expect(run(undefined).body).toBeUndefined();
  });

  it('refuses a charset other than UTF-8 and more fields than the limit, naming the body', () => {
    const gbk = run(Buffer.from('a=1'), 'application/x-www-form-urlencoded; charset=GBK').error;
    expect(gbk).toBeInstanceOf(DomainError);
    expect((gbk as DomainError).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(
      run(Buffer.from('a=1'), 'application/x-www-form-urlencoded; charset=utf-8').error,
    ).toBeUndefined();
    const many = Array.from({ length: MAX_FORM_FIELDS + 1 }, (_, i) => `f${i}=1`).join('&');
    const tooMany = run(Buffer.from(many)).error as DomainError;
    expect(tooMany.code).toBe('PAYLOAD_TOO_LARGE');
    expect(tooMany.message).toMatch(/^body: /);
  });
});
