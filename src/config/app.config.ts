import { registerAs } from '@nestjs/config';
import { resolve } from 'node:path';
import { EnvReader } from './env';

export type LatePaymentPolicy = 'accept' | 'refund';
export type TrustProxy = false | 'loopback' | string[];

export interface AppConfig {
  port: number;
  publicBaseUrl: string;
  trustProxy: TrustProxy;
  orderExpireSeconds: number;
  latePaymentPolicy: LatePaymentPolicy;
  /** Where generated keys and the default SQLite file live. */
  dataDir: string;
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** text: readable lines, coloured on a terminal; json: one object a line. */
  logFormat: 'text' | 'json';
}

export function loadAppConfig(env: Record<string, string | undefined>): AppConfig {
  const e = new EnvReader(env);
  const port = e.int('PORT', 3000, 0, 65535);
  return {
    port,
    publicBaseUrl: e.httpUrl('PUBLIC_BASE_URL') ?? `http://localhost:${port}`,
    trustProxy: parseTrustProxy(e),
    orderExpireSeconds: e.int('ORDER_EXPIRE_SECONDS', 900, 60, 15 * 24 * 3600),
    latePaymentPolicy: e.oneOf('LATE_PAYMENT_POLICY', ['accept', 'refund'] as const, 'accept'),
    dataDir: resolve(e.string('DATA_DIR', './data')),
    bodyLimitBytes: e.int('BODY_LIMIT_BYTES', 64 * 1024, 1024, 10 * 1024 * 1024),
    // `log` is Nest's word for `info`, accepted for the configurations that use it.
    logLevel: ((level) => (level === 'log' ? 'info' : level))(
      e.oneOf('LOG_LEVEL', ['error', 'warn', 'info', 'log', 'debug'] as const, 'info'),
    ),
    logFormat: e.oneOf('LOG_FORMAT', ['text', 'json'] as const, 'text'),
  };
}

function parseTrustProxy(e: EnvReader): TrustProxy {
  const raw = e.raw('TRUST_PROXY');
  if (raw === undefined || raw.toLowerCase() === 'false') return false;
  if (raw.toLowerCase() === 'loopback') return 'loopback';
  return e.cidrList('TRUST_PROXY');
}

export const appConfig = registerAs('app', () => loadAppConfig(process.env));
