/**
 * The load balancer in front of the paygate instances: round robin over the
 * instances it can reach, as a small HTTP proxy on 127.0.0.1. A request whose
 * instance refuses the connection or drops it before answering is sent to the
 * next one, as load balancers do (paygate's writes are idempotent: orders and
 * refunds by the merchant's numbers, notifications by their content); an
 * instance that refused is left out for a second. It appends the caller to
 * X-Forwarded-For, so paygate (TRUST_PROXY=loopback) sees who called.
 */
import { Agent, IncomingMessage, Server, ServerResponse, createServer, request } from 'node:http';

const BODY_LIMIT = 4 * 1024 * 1024;
const UPSTREAM_TIMEOUT_MS = 30_000;

export interface ProxyFigures {
  requests: number;
  /** Requests sent again to another instance after one failed them. */
  retried: number;
  /** Requests no instance answered (answered 502 here). */
  unanswered: number;
}

export class RoundRobinProxy {
  private next = 0;
  private readonly downUntil = new Map<number, number>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private server?: Server;
  readonly figures: ProxyFigures = { requests: 0, retried: 0, unanswered: 0 };

  constructor(private readonly upstreamPorts: () => number[]) {}

  async listen(port: number): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  private pick(): number[] {
    const ports = this.upstreamPorts();
    const now = Date.now();
    const up = ports.filter((p) => (this.downUntil.get(p) ?? 0) <= now);
    const order = up.length > 0 ? up : ports;
    const start = this.next++ % order.length;
    return [...order.slice(start), ...order.slice(0, start)];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.figures.requests += 1;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    const forwarded = [req.headers['x-forwarded-for'], req.socket.remoteAddress]
      .filter((v) => typeof v === 'string' && v !== '')
      .join(', ');
    const headers = { ...req.headers, 'x-forwarded-for': forwarded, connection: 'keep-alive' };
    const candidates = this.pick();
    for (let i = 0; i < candidates.length; i++) {
      const port = candidates[i];
      try {
        const answer = await this.forward(port, req.method ?? 'GET', req.url ?? '/', headers, body);
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
        return;
      } catch {
        this.downUntil.set(port, Date.now() + 1000);
        if (i + 1 < candidates.length) this.figures.retried += 1;
      }
    }
    this.figures.unanswered += 1;
    res
      .writeHead(502, { 'content-type': 'application/json' })
      .end('{"error":"no instance answered"}');
  }

  private forward(
    port: number,
    method: string,
    path: string,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ): Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }> {
    return new Promise((resolve, reject) => {
      const up = request(
        { host: '127.0.0.1', port, method, path, headers, agent: this.agent },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => {
            const {
              connection: _c,
              'keep-alive': _k,
              'transfer-encoding': _t,
              ...rest
            } = res.headers;
            resolve({ status: res.statusCode ?? 502, headers: rest, body: Buffer.concat(parts) });
          });
          res.on('error', reject);
        },
      );
      up.setTimeout(UPSTREAM_TIMEOUT_MS, () => up.destroy(new Error('upstream timeout')));
      up.on('error', reject);
      up.end(body);
    });
  }
}
