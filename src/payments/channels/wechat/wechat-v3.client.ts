/**
 * WeChat Pay API v3 HTTP client (protocols.md C1, C2): JSON requests signed
 * WECHATPAY2-SHA256-RSA2048 with the merchant key, and every answer's
 * Wechatpay-* signature checked with the key its Wechatpay-Serial names. An
 * answer that does not verify is an error, never trusted — whatever its status.
 */
import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeNetworkError,
  isConnectFailure,
  isTimeout,
} from '../../../common/http/network-errors';
import { redactText } from '../../../common/logging/redact';
import {
  authorizationHeader,
  canonicalUrlOf,
  verifyWechatSignature,
  type WechatKeyLookup,
} from './wechat-v3.signer';

export interface WechatV3ClientOptions {
  /** e.g. https://api.mch.weixin.qq.com (the client appends /v3/…). */
  baseUrl: string;
  mchId: string;
  /** The merchant API certificate serial (upper-case hex). */
  certSerial: string;
  privateKey: KeyObject;
  /** WeChat's keys by Wechatpay-Serial (public key id or platform certificate serial). */
  platformKeys: WechatKeyLookup;
  /**
   * An answer named a serial no key is known for: refresh the platform
   * certificates (rate-limited by the caller), after which it is checked once more.
   */
  onUnknownSerial?: (serial: string) => Promise<void>;
  timeoutMs: number;
  maxConnectRetries?: number;
  logger: { log(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

export interface WechatV3Answer<T> {
  status: number;
  /** Parsed JSON; null for an empty body (204). */
  body: T | null;
  /** WeChat's error code (`PARAM_ERROR`, `ORDER_NOT_EXIST`…) on a 4xx/5xx. */
  code?: string;
  message?: string;
}

export interface WechatV3CallOptions {
  /**
   * The keys to check this answer with, chosen from the answer itself: GET
   * /v3/certificates is verified with the certificates it carries, once they
   * decrypted under the APIv3 key.
   */
  keysFor?: (status: number, text: string) => WechatKeyLookup;
}

export type WechatV3ErrorKind = 'transport' | 'timeout' | 'unverifiable';

/** No trustworthy answer. `mayHaveReachedWechat` false only when no connection was made. */
export class WechatV3GatewayError extends Error {
  constructor(
    readonly kind: WechatV3ErrorKind,
    readonly operation: string,
    message: string,
    readonly mayHaveReachedWechat: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WechatV3GatewayError';
  }
}

const RETRY_BACKOFF_MS = 200;

export class WechatV3Client {
  constructor(private readonly options: WechatV3ClientOptions) {}

  /**
   * One signed call. `path` starts with /v3/. Retries only when no connection was
   * made: a refund or an order must never be sent twice on a guess.
   */
  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
    options: WechatV3CallOptions = {},
  ): Promise<WechatV3Answer<T>> {
    const url = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}${path}`);
    const text = body === undefined ? '' : JSON.stringify(body);
    const operation = `${method} ${url.pathname}`;
    const started = Date.now();
    try {
      const response = await this.send(method, url, text, operation);
      const answer = await this.interpret<T>(response, operation, options);
      const line = `${operation} ${answer.status}${answer.code ? ` ${answer.code}` : ''} ${Date.now() - started}ms`;
      if (answer.status < 400) this.options.logger.log(redactText(line));
      else this.options.logger.warn(redactText(`${line}: ${answer.message ?? ''}`));
      return answer;
    } catch (error) {
      this.options.logger.error(
        redactText(`${operation} failed: ${(error as Error).message} ${Date.now() - started}ms`),
      );
      throw error;
    }
  }

  /**
   * GET of a file WeChat handed out a URL for (the trade bill, C4): signed like
   * every call, with the URL's path and query as the canonical URL, while the
   * answer is a file and carries no signature (C2). The caller reads the body.
   */
  async download(url: URL, timeoutMs: number): Promise<Response> {
    const operation = `GET ${url.pathname}`;
    const started = Date.now();
    try {
      const response = await fetch(url, {
        method: 'GET',
        headers: {
          authorization: authorizationHeader({
            mchId: this.options.mchId,
            serialNo: this.options.certSerial,
            privateKey: this.options.privateKey,
            method: 'GET',
            canonicalUrl: canonicalUrlOf(url),
            body: '',
          }),
          accept: '*/*',
          'user-agent': 'paygate',
        },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      this.options.logger.log(`${operation} ${response.status} ${Date.now() - started}ms`);
      return response;
    } catch (error) {
      const kind = isTimeout(error) ? 'timeout' : 'transport';
      const message = `request failed (${describeNetworkError(error)})`;
      this.options.logger.error(redactText(`${operation} failed: ${message}`));
      throw new WechatV3GatewayError(kind, operation, message, !isConnectFailure(error), {
        cause: error,
      });
    }
  }

  private async send(
    method: string,
    url: URL,
    body: string,
    operation: string,
  ): Promise<{ status: number; headers: Headers; text: string }> {
    const retries = this.options.maxConnectRetries ?? 2;
    for (let attempt = 1; ; attempt++) {
      const authorization = authorizationHeader({
        mchId: this.options.mchId,
        serialNo: this.options.certSerial,
        privateKey: this.options.privateKey,
        method,
        canonicalUrl: canonicalUrlOf(url),
        body,
      });
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            authorization,
            accept: 'application/json',
            'user-agent': 'paygate',
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body } : {}),
          redirect: 'manual',
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (error) {
        if (isTimeout(error)) throw this.timeout(operation, error);
        const beforeConnect = isConnectFailure(error);
        if (beforeConnect && attempt <= retries) {
          await sleep(RETRY_BACKOFF_MS * attempt);
          continue;
        }
        throw new WechatV3GatewayError(
          'transport',
          operation,
          `request failed (${describeNetworkError(error)})`,
          !beforeConnect,
          { cause: error },
        );
      }
      try {
        return { status: response.status, headers: response.headers, text: await response.text() };
      } catch (error) {
        if (isTimeout(error)) throw this.timeout(operation, error);
        throw new WechatV3GatewayError(
          'transport',
          operation,
          `response body failed (${describeNetworkError(error)})`,
          true,
          { cause: error },
        );
      }
    }
  }

  private timeout(operation: string, cause: unknown): WechatV3GatewayError {
    return new WechatV3GatewayError(
      'timeout',
      operation,
      `no complete answer within ${this.options.timeoutMs} ms; outcome unknown`,
      true,
      { cause },
    );
  }

  private async interpret<T>(
    response: { status: number; headers: Headers; text: string },
    operation: string,
    options: WechatV3CallOptions,
  ): Promise<WechatV3Answer<T>> {
    let keys: WechatKeyLookup;
    try {
      keys = options.keysFor?.(response.status, response.text) ?? this.options.platformKeys;
    } catch (error) {
      throw new WechatV3GatewayError(
        'unverifiable',
        operation,
        `HTTP ${response.status} answer not trusted: ${(error as Error).message}`,
        true,
      );
    }
    const verify = () =>
      verifyWechatSignature({
        timestamp: response.headers.get('wechatpay-timestamp') ?? undefined,
        nonce: response.headers.get('wechatpay-nonce') ?? undefined,
        signature: response.headers.get('wechatpay-signature') ?? undefined,
        serial: response.headers.get('wechatpay-serial') ?? undefined,
        body: response.text,
        keys,
      });
    let check = verify();
    if (check.outcome === 'unknown_serial' && !options.keysFor && this.options.onUnknownSerial) {
      await this.options.onUnknownSerial(check.serial!);
      check = verify();
    }
    if (check.outcome !== 'ok') {
      throw new WechatV3GatewayError(
        'unverifiable',
        operation,
        `HTTP ${response.status} answer not trusted: ${check.outcome} (${check.reason})`,
        true,
      );
    }
    let body: unknown = null;
    if (response.text !== '') {
      try {
        body = JSON.parse(response.text);
      } catch {
        throw new WechatV3GatewayError('unverifiable', operation, 'answer is not JSON', true);
      }
    }
    const error =
      response.status >= 400 && body && typeof body === 'object'
        ? (body as { code?: unknown; message?: unknown })
        : undefined;
    return {
      status: response.status,
      body: response.status < 400 ? (body as T | null) : null,
      ...(typeof error?.code === 'string' ? { code: error.code } : {}),
      ...(typeof error?.message === 'string' ? { message: error.message } : {}),
    };
  }
}
