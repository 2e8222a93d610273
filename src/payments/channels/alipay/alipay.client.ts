/**
 * Alipay OpenAPI 2.0 gateway client (gateway.do, RSA2, charset utf-8), following
 * the open platform's "公共请求参数" / "公共响应参数" documents as the official Node
 * SDK v4 applies them (exec, pageExecute, sdkExecute). Our summary: protocols.md
 * A1–A7. A plain class so the payments module decides how it is built and shared.
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
  AlipayResponseFormatError,
  beijingTimestamp,
  signAlipayRequest,
  verifyAlipayResponse,
} from './alipay.signer';

export interface AlipayLogger {
  log(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface AlipayClientOptions {
  appId: string;
  privateKey: KeyObject;
  alipayPublicKey: KeyObject;
  /**
   * Certificate mode: the SNs sent with every request, and the SN of the
   * certificate whose key alipayPublicKey is.
   */
  certificates?: { appCertSn: string; rootCertSn: string; alipayCertSn: string };
  gateway: string;
  /** Where browsers are sent (page.pay / wap.pay); the gateway itself when not given. */
  browserGateway?: string;
  notifyUrl?: string;
  timeoutMs?: number;
  maxConnectRetries?: number;
  logger: AlipayLogger;
}

export interface AlipayResult<T> {
  code: string;
  msg: string;
  subCode?: string;
  subMsg?: string;
  body: T & Record<string, unknown>;
}

export type AlipayGatewayErrorKind = 'transport' | 'timeout' | 'unverifiable' | 'http';

/**
 * The call did not produce a trustworthy answer. `mayHaveReachedAlipay` is false
 * only when no connection was ever made; otherwise the call may have been
 * applied, and the caller must query before treating it as failed.
 */
export class AlipayGatewayError extends Error {
  constructor(
    readonly kind: AlipayGatewayErrorKind,
    readonly method: string,
    message: string,
    readonly attempts: number,
    readonly mayHaveReachedAlipay: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AlipayGatewayError';
  }
}

export type AlipayPageMethod = 'alipay.trade.page.pay' | 'alipay.trade.wap.pay';

const SUCCESS_CODE = '10000';
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_RETRIES = 2;
const RETRY_BACKOFF_MS = 200;

/** The Node SDK's formatUrl list: these go in the form's action URL, the rest in hidden inputs. */
const URL_SIDE_PARAMS = new Set([
  'app_id',
  'method',
  'format',
  'charset',
  'sign_type',
  'sign',
  'timestamp',
  'version',
  'notify_url',
  'return_url',
  'auth_token',
  'app_auth_token',
  'app_cert_sn',
  'alipay_root_cert_sn',
  'ws_service_url',
]);

export class AlipayClient {
  private readonly timeoutMs: number;
  private readonly maxConnectRetries: number;

  constructor(private readonly options: AlipayClientOptions) {
    if (options.privateKey.type !== 'private') {
      throw new TypeError('AlipayClient: privateKey must be a private KeyObject');
    }
    if (options.alipayPublicKey.type !== 'public') {
      throw new TypeError('AlipayClient: alipayPublicKey must be a public KeyObject');
    }
    const protocol = new URL(options.gateway).protocol;
    if (protocol !== 'https:' && protocol !== 'http:') {
      throw new TypeError('AlipayClient: gateway must be an http(s) URL');
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxConnectRetries = options.maxConnectRetries ?? DEFAULT_CONNECT_RETRIES;
    if (!Number.isSafeInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new RangeError('AlipayClient: timeoutMs must be a positive integer');
    }
    if (!Number.isSafeInteger(this.maxConnectRetries) || this.maxConnectRetries < 0) {
      throw new RangeError('AlipayClient: maxConnectRetries must be a non-negative integer');
    }
  }

  async execute<T = Record<string, unknown>>(
    method: string,
    bizContent: Record<string, unknown>,
    opts: { notifyUrl?: string } = {},
  ): Promise<AlipayResult<T>> {
    const params = this.signedParams(method, bizContent, { notifyUrl: opts.notifyUrl });
    const started = Date.now();
    let attempts = 0;
    try {
      const { status, text } = await this.post(method, params, (n) => (attempts = n));
      if (status !== 200) {
        throw new AlipayGatewayError('http', method, `HTTP ${status}`, attempts, true);
      }
      const result = this.interpret<T>(method, text, attempts);
      const line = this.logLine(method, bizContent, started, attempts, [
        `code=${result.code}`,
        `sub_code=${result.subCode ?? '-'}`,
      ]);
      if (result.code === SUCCESS_CODE) this.options.logger.log(line);
      else this.options.logger.warn(line);
      return result;
    } catch (err) {
      const failure =
        err instanceof AlipayGatewayError
          ? err
          : new AlipayGatewayError('transport', method, String(err), attempts, true, {
              cause: err,
            });
      this.options.logger.error(
        this.logLine(method, bizContent, started, failure.attempts, [
          `failed kind=${failure.kind}: ${failure.message}`,
        ]),
      );
      throw failure;
    }
  }

  /** GET link for the browser: gateway + every signed parameter in the query string. */
  pageUrl(
    method: AlipayPageMethod,
    bizContent: Record<string, unknown>,
    opts: { returnUrl?: string; notifyUrl?: string } = {},
  ): string {
    const params = this.signedParams(method, bizContent, opts);
    return `${this.browserGateway}${separator(this.browserGateway)}${formEncode(params)}`;
  }

  /**
   * Auto-submitting form, for bodies too long for a URL (long subjects,
   * goods_detail). The form declares utf-8 so the browser does not re-encode
   * biz_content in the page's charset.
   */
  pageForm(
    method: AlipayPageMethod,
    bizContent: Record<string, unknown>,
    opts: { returnUrl?: string; notifyUrl?: string } = {},
  ): string {
    const params = this.signedParams(method, bizContent, opts);
    const query: Record<string, string> = {};
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) (URL_SIDE_PARAMS.has(k) ? query : fields)[k] = v;
    const action = `${this.browserGateway}${separator(this.browserGateway)}${formEncode(query)}`;
    const inputs = Object.entries(fields)
      .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
      .join('\n');
    return [
      `<form name="alipaysubmit" action="${escapeHtml(action)}" method="post" accept-charset="utf-8">`,
      inputs,
      '</form>',
      '<script>document.forms["alipaysubmit"].submit();</script>',
    ].join('\n');
  }

  /** Signed order string handed to the Alipay app SDK; no gateway call is made. */
  appOrderString(bizContent: Record<string, unknown>, opts: { notifyUrl?: string } = {}): string {
    return formEncode(this.signedParams('alipay.trade.app.pay', bizContent, opts));
  }

  private signedParams(
    method: string,
    bizContent: Record<string, unknown>,
    extra: { notifyUrl?: string; returnUrl?: string },
  ): Record<string, string> {
    const params: Record<string, string> = {
      app_id: this.options.appId,
      method,
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: beijingTimestamp(),
      version: '1.0',
      biz_content: JSON.stringify(bizContent),
    };
    const certificates = this.options.certificates;
    if (certificates) {
      params.app_cert_sn = certificates.appCertSn;
      params.alipay_root_cert_sn = certificates.rootCertSn;
    }
    const notifyUrl = extra.notifyUrl ?? this.options.notifyUrl;
    // Empty values are dropped from the signature, so they must not be sent either.
    if (notifyUrl) params.notify_url = notifyUrl;
    if (extra.returnUrl) params.return_url = extra.returnUrl;
    params.sign = signAlipayRequest(params, this.options.privateKey);
    return params;
  }

  /**
   * Retries only connection failures: once a connection exists the request may
   * have been applied, and a second refund or payment must never be risked on
   * a guess. Each attempt gets its own timeout.
   */
  private async post(
    method: string,
    params: Record<string, string>,
    onAttempt: (n: number) => void,
  ): Promise<{ status: number; text: string }> {
    const body = formEncode(params);
    for (let attempt = 1; ; attempt++) {
      onAttempt(attempt);
      let response: Response;
      try {
        response = await fetch(this.options.gateway, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded;charset=utf-8',
            accept: 'application/json',
          },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        if (isTimeout(err)) throw this.timeoutError(method, attempt, err);
        const connectFailure = isConnectFailure(err);
        if (connectFailure && attempt <= this.maxConnectRetries) {
          await sleep(RETRY_BACKOFF_MS * attempt);
          continue;
        }
        throw new AlipayGatewayError(
          'transport',
          method,
          `request failed (${describeNetworkError(err)})`,
          attempt,
          !connectFailure,
          { cause: err },
        );
      }
      try {
        return { status: response.status, text: await response.text() };
      } catch (err) {
        if (isTimeout(err)) throw this.timeoutError(method, attempt, err);
        throw new AlipayGatewayError(
          'transport',
          method,
          `response body failed (${describeNetworkError(err)})`,
          attempt,
          true,
          { cause: err },
        );
      }
    }
  }

  private timeoutError(method: string, attempts: number, cause: unknown): AlipayGatewayError {
    return new AlipayGatewayError(
      'timeout',
      method,
      `no complete answer within ${this.timeoutMs} ms; outcome unknown`,
      attempts,
      true,
      { cause },
    );
  }

  private interpret<T>(method: string, text: string, attempts: number): AlipayResult<T> {
    const unverifiable = (reason: string, cause?: unknown) =>
      new AlipayGatewayError('unverifiable', method, reason, attempts, true, { cause });
    let check: ReturnType<typeof verifyAlipayResponse>;
    try {
      check = verifyAlipayResponse(text, method, this.options.alipayPublicKey);
    } catch (err) {
      if (err instanceof AlipayResponseFormatError) throw unverifiable(err.message, err);
      throw err;
    }
    const { payload } = check;
    const expectedCertSn = this.options.certificates?.alipayCertSn;
    // Alipay names the certificate it signed with; a different one (a rotated
    // certificate, or someone else's) is not the key this was verified with.
    if (expectedCertSn && check.alipayCertSn && check.alipayCertSn !== expectedCertSn) {
      throw unverifiable(
        `response names alipay_cert_sn ${check.alipayCertSn}, not the configured Alipay certificate ${expectedCertSn}`,
      );
    }
    if (check.signed && !check.verified) {
      throw unverifiable('response signature does not verify with the Alipay public key');
    }
    if (typeof payload.code !== 'string' || payload.code === '') {
      throw unverifiable('response has no code');
    }
    // An unsigned success could have been written by anyone between us and Alipay.
    if (!check.signed && payload.code === SUCCESS_CODE) {
      throw unverifiable('unsigned response claims success');
    }
    return {
      code: payload.code,
      msg: typeof payload.msg === 'string' ? payload.msg : '',
      subCode: typeof payload.sub_code === 'string' ? payload.sub_code : undefined,
      subMsg: typeof payload.sub_msg === 'string' ? payload.sub_msg : undefined,
      body: payload as T & Record<string, unknown>,
    };
  }

  private logLine(
    method: string,
    bizContent: Record<string, unknown>,
    started: number,
    attempts: number,
    outcome: string[],
  ): string {
    const parts = [method];
    for (const key of ['out_trade_no', 'out_request_no']) {
      const value = bizContent[key];
      if (typeof value === 'string') parts.push(`${key}=${value}`);
    }
    parts.push(...outcome, `${Date.now() - started}ms`, `attempts=${attempts}`);
    return redactText(parts.join(' '));
  }

  private get browserGateway(): string {
    return this.options.browserGateway ?? this.options.gateway;
  }
}

const separator = (url: string): string => (url.includes('?') ? '&' : '?');

function formEncode(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Duck-typed: fetch's DOMException may come from another realm than this module's Error. */
