import { Injectable } from '@nestjs/common';
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

/**
 * The one outbound HTTP call of the webhooks module, kept apart so the
 * delivery logic reads as database steps around a single POST. Redirects are
 * not followed (a 3xx is a failed attempt): the signed body goes only to the
 * URL the merchant registered. Connections are kept alive per origin by
 * fetch's global agent; a 2xx body is read to its end (up to 64 KB) rather than
 * cancelled, so that a connection whose body had not fully arrived yet still
 * goes back to the pool.
 */
@Injectable()
export class WebhookHttpClient {
  async post(
    url: string,
    body: Buffer,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<WebhookPostResult> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    if (!isHttpUrl(url)) {
      return { ok: false, statusCode: null, error: INVALID_URL_ERROR, latencyMs: 0 };
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return {
        ok: false,
        statusCode: null,
        error: describeFetchError(error, timeoutMs),
        latencyMs: elapsed(),
      };
    }
    if (response.status >= 200 && response.status < 300) {
      await discardBody(response);
      return { ok: true, statusCode: response.status, error: null, latencyMs: elapsed() };
    }
    const snippet = await readSnippet(response);
    return {
      ok: false,
      statusCode: response.status,
      error: `HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`,
      latencyMs: elapsed(),
    };
  }
}

function isHttpUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Reads a (small) body to its end; a large one is cut off, costing its connection only. */
async function discardBody(response: Response): Promise<void> {
  const reader = response.body?.getReader();
  if (!reader) return;
  let size = 0;
  try {
    while (size <= DISCARD_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
    }
  } catch {
    // The status was 2xx: a body cut short changes nothing.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** The start of the receiver's answer: it often says why ("bad signature"). */
async function readSnippet(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < SNIPPET_CHARS * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut short (timeout, reset) still leaves the status code to report.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return redactText(Array.from(text).slice(0, SNIPPET_CHARS).join(''));
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const err = error as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
    return `timeout after ${timeoutMs} ms`;
  }
  const cause = err?.cause;
  if (cause?.code)
    return `connection error: ${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return `request error: ${cause?.message ?? err?.message ?? 'unknown'}`;
}
