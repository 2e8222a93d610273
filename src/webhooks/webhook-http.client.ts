import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { redactText } from '../common/logging/redact';

export interface WebhookPostResult {
  /** The receiver answered 2xx. */
  ok: boolean;
  /** null when no HTTP answer came back (timeout, refused connection, …). */
  statusCode: number | null;
  /** Why the attempt failed, for admins and logs; null on success. Never holds the URL. */
  error: string | null;
  latencyMs: number;
}

const SNIPPET_CHARS = 200;
/** What a 2xx answer's body may be read up to so that its connection can be reused. */
const DISCARD_BYTES = 64 * 1024;
/** The error of a URL that cannot be posted to at all: says nothing about the receiver. */
export const INVALID_URL_ERROR = 'invalid URL';
/** Idle keep-alive connections are closed after this, before most servers would close them. */
const IDLE_SOCKET_MS = 4_000;

/**
 * The one outbound HTTP call of the webhooks module, kept apart so the
 * delivery logic reads as database steps around a single POST. Redirects are
 * not followed (a 3xx is a failed attempt): the signed body goes only to the
 * URL the merchant registered.
 *
 * node:http with one keep-alive agent per scheme (connections reused per
 * origin; the dispatcher bounds how many are in flight to each). fetch did the
 * same job at several times the CPU per POST (streams, abort signals, header
 * objects), which showed in profiles of a notification burst. A 2xx body is
 * read to its end (up to 64 KB) so that its connection goes back to the pool;
 * a longer one is cut and its connection closed.
 */
@Injectable()
export class WebhookHttpClient implements OnModuleDestroy {
  private readonly agents = {
    'http:': new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' }),
    'https:': new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' }),
  };

  onModuleDestroy(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  async post(
    url: string,
    body: Buffer,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<WebhookPostResult> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const target = parseHttpUrl(url);
    if (!target) {
      return { ok: false, statusCode: null, error: INVALID_URL_ERROR, latencyMs: 0 };
    }
    return new Promise<WebhookPostResult>((resolve) => {
      let settled = false;
      const finish = (statusCode: number | null, error: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ok: error === null, statusCode, error, latencyMs: elapsed() });
      };
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        target,
        {
          method: 'POST',
          agent: this.agents[target.protocol as 'http:' | 'https:'],
          headers: { ...headers, 'Content-Length': String(body.length) },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            discardBody(res, req.destroy.bind(req), () => finish(status, null));
            return;
          }
          readSnippet(res, (snippet) =>
            finish(status, `HTTP ${status}${snippet ? `: ${snippet}` : ''}`),
          );
        },
      );
      // One deadline for the whole exchange, connection to the end of the answer.
      const timer = setTimeout(() => {
        finish(null, `timeout after ${timeoutMs} ms`);
        req.destroy();
      }, timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => finish(null, describeError(error)));
      req.end(body);
    });
  }
}

/** Reads a 2xx body to its end, up to DISCARD_BYTES; past that the connection is not reused. */
function discardBody(res: IncomingMessage, destroy: () => void, done: () => void): void {
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > DISCARD_BYTES) {
      destroy();
      done();
    }
  });
  res.on('end', done);
  // A body cut short after a 2xx status: the receiver took the webhook.
  res.on('error', done);
  res.on('aborted', done);
}

/** The start of the receiver's answer: it often says why ("bad signature"). */
function readSnippet(res: IncomingMessage, done: (snippet: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const end = () => {
    if (finished) return;
    finished = true;
    const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
    done(redactText(Array.from(text).slice(0, SNIPPET_CHARS).join('')));
  };
  res.on('data', (chunk: Buffer) => {
    if (size >= SNIPPET_CHARS * 4) return;
    chunks.push(chunk);
    size += chunk.length;
    if (size >= SNIPPET_CHARS * 4) {
      // Enough to say why; the rest is not needed, nor is the connection.
      res.destroy();
      end();
    }
  });
  res.on('end', end);
  // A body cut short (timeout, reset) still leaves the status code to report.
  res.on('error', end);
  res.on('close', end);
}

function parseHttpUrl(url: string): URL | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed : null;
  } catch {
    return null;
  }
}

function describeError(error: NodeJS.ErrnoException): string {
  if (error.code)
    return `connection error: ${error.code}${error.message ? ` (${error.message})` : ''}`;
  return `request error: ${error.message ?? 'unknown'}`;
}
