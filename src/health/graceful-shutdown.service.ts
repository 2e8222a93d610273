import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long requests in flight may take to finish once paygate is asked to stop. */
export const DRAIN_TIMEOUT_MS = 7_000;

/**
 * The HTTP side of a graceful stop. Once draining starts the server takes no
 * new connection (a load balancer or a channel sends the request elsewhere or
 * again), requests in flight finish and are answered with `Connection: close`,
 * idle keep-alive connections are closed at once instead of after their
 * timeout, and whatever still runs after DRAIN_TIMEOUT_MS is cut. The database
 * stays open until then: Nest closes it after beforeApplicationShutdown.
 *
 * Started by the signal handler of main.ts at the same time as the jobs stop
 * (app.close() runs their onModuleDestroy); Nest waits for it here before it
 * closes the server and the database.
 */
@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Lifecycle');
  private server?: Server;
  private readonly inFlight = new Map<ServerResponse, Socket>();
  private drained?: Promise<void>;

  /** True from the moment a stop began: /health answers 503 then. */
  get draining(): boolean {
    return this.drained !== undefined;
  }

  /** Follows every request of `server`; called once, before it listens. */
  attach(server: Server): void {
    if (this.server) return;
    this.server = server;
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      // A request that slipped in on a kept-alive connection is answered, then that connection ends.
      if (this.draining) res.shouldKeepAlive = false;
      this.inFlight.set(res, req.socket);
      res.once('close', () => this.inFlight.delete(res));
    });
  }

  /** Stops taking requests and resolves once those in flight are answered (bounded). */
  drain(timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
    this.drained ??= this.stopServer(timeoutMs);
    return this.drained;
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.drain();
  }

  private async stopServer(timeoutMs: number): Promise<void> {
    const server = this.server;
    if (!server?.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const [res, socket] of this.inFlight) {
      if (!res.headersSent) res.shouldKeepAlive = false;
      else res.once('finish', () => socket.destroySoon());
    }
    // Node ends the idle ones itself on close(); these are the ones that became idle since.
    server.closeIdleConnections();
    const pending = this.inFlight.size;
    if (pending > 0) this.logger.log(`waiting for ${pending} request(s) in flight`);
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (late) {
      this.logger.warn(
        `${this.inFlight.size} request(s) still in flight after ${timeoutMs} ms: connections cut`,
      );
      server.closeAllConnections();
      await closed;
    }
  }
}
