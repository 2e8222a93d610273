/**
 * WeChat Pay API v2 HTTP client (protocols.md B1, B2): signed XML POSTs, and
 * every answer checked in B2's order — return_code SUCCESS, then the sign under
 * the API key with the configured sign type; result_code is the caller's to
 * read, with err_code. `/secapi/` calls go over mutual TLS with the merchant
 * certificate (an https.Agent built once at boot).
 */
import type { KeyObject } from 'node:crypto';
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomAlphanumeric } from '../../../common/ids/ids';
import {
  describeNetworkError,
  isConnectFailure,
  isTimeout,
} from '../../../common/http/network-errors';
import { redactText } from '../../../common/logging/redact';
import { v2Signed, v2Verify, type WechatV2SignType } from './wechat-v2.signer';
import {
  buildWechatXml,
  parseWechatXml,
  WECHAT_V2_MAX_XML_BYTES,
  WechatXmlError,
} from './wechat-v2.xml';

export interface WechatV2ClientOptions {
  /** https://api.mch.weixin.qq.com, or the sandbox's /sandbox/wechat/v2 */
  baseUrl: string;
  apiKey: KeyObject;
  signType: WechatV2SignType;
  timeoutMs: number;
  /** Carries the merchant certificate for /secapi/ paths; absent on the plain-http sandbox. */
  clientCertificateAgent?: HttpsAgent;
  maxConnectRetries?: number;
  logger: { log(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

export type WechatV2ErrorKind = 'transport' | 'timeout' | 'unverifiable' | 'return_fail';

/** No trustworthy business answer: the call failed, or WeChat refused it before reading it. */
export class WechatV2GatewayError extends Error {
  constructor(
    readonly kind: WechatV2ErrorKind,
    readonly operation: string,
    message: string,
    readonly mayHaveReachedWechat: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WechatV2GatewayError';
  }
}

const RETRY_BACKOFF_MS = 200;

export class WechatV2Client {
  constructor(private readonly options: WechatV2ClientOptions) {}

  /**
   * One signed call; the answer's verified fields. `fields` are the business
   * fields (appid, mch_id… included); nonce_str, sign_type and sign are added.
   * Retries only when no connection was made.
   */
  async call(
    path: string,
    fields: Record<string, string | number | undefined>,
  ): Promise<Record<string, string>> {
    const url = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}${path}`);
    const operation = `POST ${path}`;
    const started = Date.now();
    const body = buildWechatXml(
      v2Signed(
        { ...fields, nonce_str: randomAlphanumeric(32) },
        this.options.apiKey,
        this.options.signType,
      ),
    );
    try {
      const text = await this.send(url, body, operation, path.startsWith('/secapi/'));
      const answer = this.interpret(text, operation);
      const code = answer.result_code === 'SUCCESS' ? 'SUCCESS' : `FAIL ${answer.err_code ?? ''}`;
      const line = `${operation} ${code} ${Date.now() - started}ms`;
      if (answer.result_code === 'SUCCESS') this.options.logger.log(line);
      else this.options.logger.warn(redactText(`${line}: ${answer.err_code_des ?? ''}`));
      return answer;
    } catch (error) {
      this.options.logger.error(
        redactText(`${operation} failed: ${(error as Error).message} ${Date.now() - started}ms`),
      );
      throw error;
    }
  }

  /**
   * /pay/downloadbill (B6): a signed request like any other, but the answer is
   * the bill itself (text, or gzip with tar_type GZIP) and unsigned, or v2 XML
   * when WeChat refuses. The caller reads the body, which may be large.
   */
  async download(
    path: string,
    fields: Record<string, string | number | undefined>,
    timeoutMs: number,
  ): Promise<Response> {
    const url = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}${path}`);
    const operation = `POST ${path}`;
    const started = Date.now();
    const body = buildWechatXml(
      v2Signed(
        { ...fields, nonce_str: randomAlphanumeric(32) },
        this.options.apiKey,
        this.options.signType,
      ),
    );
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', 'user-agent': 'paygate' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      this.options.logger.log(`${operation} ${response.status} ${Date.now() - started}ms`);
      return response;
    } catch (error) {
      const message = `request failed (${describeNetworkError(error)})`;
      this.options.logger.error(redactText(`${operation} failed: ${message}`));
      throw new WechatV2GatewayError(
        isTimeout(error) ? 'timeout' : 'transport',
        operation,
        message,
        !isConnectFailure(error),
        { cause: error },
      );
    }
  }

  private async send(url: URL, body: string, operation: string, secure: boolean): Promise<string> {
    let agent: HttpAgent | HttpsAgent | undefined;
    if (secure && url.protocol === 'https:') {
      agent = this.options.clientCertificateAgent;
      if (!agent) {
        throw new WechatV2GatewayError(
          'transport',
          operation,
          'no merchant certificate for /secapi/',
          false,
        );
      }
    }
    const retries = this.options.maxConnectRetries ?? 2;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.post(url, body, agent);
      } catch (error) {
        if (error instanceof WechatV2GatewayError) throw error;
        if (isTimeout(error)) {
          throw new WechatV2GatewayError(
            'timeout',
            operation,
            `no complete answer within ${this.options.timeoutMs} ms; outcome unknown`,
            true,
            { cause: error },
          );
        }
        const beforeConnect = isConnectFailure(error);
        if (beforeConnect && attempt <= retries) {
          await sleep(RETRY_BACKOFF_MS * attempt);
          continue;
        }
        throw new WechatV2GatewayError(
          'transport',
          operation,
          `request failed (${describeNetworkError(error)})`,
          !beforeConnect,
          { cause: error },
        );
      }
    }
  }

  private post(url: URL, body: string, agent: HttpAgent | HttpsAgent | undefined): Promise<string> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const payload = Buffer.from(body, 'utf8');
    return new Promise<string>((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'text/xml; charset=utf-8',
            'content-length': payload.length,
            'user-agent': 'paygate',
          },
          ...(agent ? { agent } : {}),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > WECHAT_V2_MAX_XML_BYTES) {
              res.destroy();
              reject(
                new WechatV2GatewayError(
                  'unverifiable',
                  `POST ${url.pathname}`,
                  'answer too large',
                  true,
                ),
              );
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 500) {
              reject(
                new WechatV2GatewayError(
                  'transport',
                  `POST ${url.pathname}`,
                  `HTTP ${res.statusCode}`,
                  true,
                ),
              );
              return;
            }
            resolve(Buffer.concat(chunks).toString('utf8'));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** B2 "Response handling order": return_code, then sign. */
  private interpret(text: string, operation: string): Record<string, string> {
    let fields: Record<string, string>;
    try {
      fields = parseWechatXml(text);
    } catch (error) {
      throw new WechatV2GatewayError(
        'unverifiable',
        operation,
        `answer is not v2 XML (${error instanceof WechatXmlError ? error.message : 'unreadable'})`,
        true,
      );
    }
    if (fields.return_code !== 'SUCCESS') {
      throw new WechatV2GatewayError(
        'return_fail',
        operation,
        `return_code ${fields.return_code ?? '(none)'}: ${(fields.return_msg ?? '').slice(0, 200)}`,
        true,
      );
    }
    if (!v2Verify(fields, this.options.apiKey, this.options.signType)) {
      throw new WechatV2GatewayError(
        'unverifiable',
        operation,
        'answer sign does not verify',
        true,
      );
    }
    return fields;
  }
}
