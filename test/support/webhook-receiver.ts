import { IncomingHttpHeaders, RequestListener, createServer } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  body: { id: string; type: string; createdAt: string; data: Record<string, unknown> };
}

export interface Receiver {
  /** The notify URL to give paygate. */
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

/** Any request listener (node:http or an express app) on 127.0.0.1, port 0. */
export async function listen(
  listener: RequestListener,
): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A merchant endpoint that records every request. `answer(n)` decides the
 * reply to the n-th request (from 1): a status code, or 'hang' to never answer;
 * `delayMs` holds each answer back a little, so that sends overlap.
 */
export async function startReceiver(
  answer: (n: number) => number | 'hang' = () => 200,
  delayMs = 0,
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      requests.push({ headers: req.headers, rawBody, body: JSON.parse(rawBody.toString('utf8')) });
      const reply = answer(requests.length);
      if (reply === 'hang') return;
      setTimeout(() => {
        res.writeHead(reply, { 'Content-Type': 'text/plain' });
        res.end(reply >= 200 && reply < 300 ? 'ok' : 'receiver says no');
      }, delayMs);
    });
  });
  return { url: `${server.origin}/hooks/paygate?shop=s1`, requests, close: server.close };
}

/** Scripted answers: the statuses in turn, then the last one forever. */
export const answers =
  (...statuses: Array<number | 'hang'>) =>
  (n: number): number | 'hang' =>
    statuses[Math.min(n, statuses.length) - 1];

export { eventually } from './eventually';
