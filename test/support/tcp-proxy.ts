import { type Socket, connect, createServer } from 'node:net';

interface Link {
  client: Socket;
  /** Absent for a connection accepted while the proxy hung: it reaches the server on restore(). */
  upstream?: Socket;
}

/**
 * A TCP proxy on 127.0.0.1 in front of one server (the database), that a test
 * can cut — every open connection reset, new ones refused, as when the server
 * dies or fails over — or hang — every connection kept open but no byte
 * forwarded either way, new ones accepted and left waiting, as in a network
 * partition where packets vanish and nothing is reset — and restore.
 */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private mode: 'forward' | 'cut' | 'hang' = 'forward';
  private readonly server = createServer((client) => this.accept(client));

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Connections open through the proxy (accepted while hanging included). */
  get connections(): number {
    return this.links.size;
  }

  /** Resets every connection through the proxy and refuses new ones until restore(). */
  cut(): void {
    this.mode = 'cut';
    for (const link of this.links) this.drop(link, true);
  }

  /**
   * Stops forwarding: bytes stay unread in the sockets' buffers, both ways,
   * and new connections are accepted but not forwarded, until restore(). Ends
   * of connections are not passed on either: a client that gives up on one
   * is heard of by the server only after restore(), as after a partition heals.
   */
  hang(): void {
    this.mode = 'hang';
    for (const { client, upstream } of this.links) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  /** Forwards again: what waited in the buffers flows, connections accepted meanwhile are connected. */
  restore(): void {
    const hung = this.mode === 'hang';
    this.mode = 'forward';
    if (!hung) return;
    for (const link of this.links) {
      if (link.client.destroyed || link.upstream?.destroyed) this.drop(link, false);
      else if (!link.upstream) this.connectUpstream(link);
      else this.pipe(link);
    }
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const link: Link = { client };
    this.links.add(link);
    // While hanging, neither end hears of the other's going (see hang()).
    const ended = () => {
      if (this.mode !== 'hang') this.drop(link, false);
    };
    client.on('error', ended);
    client.on('close', ended);
    if (this.mode === 'hang') client.pause();
    else this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    const upstream = connect(this.targetPort, this.targetHost);
    link.upstream = upstream;
    const ended = () => {
      if (this.mode !== 'hang') this.drop(link, false);
    };
    upstream.on('error', ended);
    upstream.on('close', ended);
    this.pipe(link);
  }

  private pipe({ client, upstream }: Link): void {
    if (!upstream) return;
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private drop(link: Link, reset: boolean): void {
    this.links.delete(link);
    for (const s of [link.client, link.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  }
}
