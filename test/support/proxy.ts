// A TCP proxy on 127.0.0.1 in front of a backend, for fault tests: it can cut the backend off
// (open connections destroyed, new ones refused), put it back on the same port, slow every chunk
// down, or answer every new connection with random bytes.
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

type Mode = 'pass' | 'garbage';

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private mode: Mode = 'pass';
  private delayMs = 0;
  /** Connections accepted so far (all modes). */
  accepted = 0;

  private constructor(
    readonly targetHost: string,
    readonly targetPort: number,
    private listenPort: number,
  ) {}

  /** Starts a proxy to host:port on a random port of 127.0.0.1. */
  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort, 0);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.listenPort;
  }

  /** "127.0.0.1:PORT" */
  get address(): string {
    return `127.0.0.1:${String(this.listenPort)}`;
  }

  private listen(): Promise<void> {
    const server = createServer((socket) => {
      this.accept(socket);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => {
        server.off('error', reject);
        const a = server.address();
        if (typeof a === 'object' && a) this.listenPort = a.port;
        this.server = server;
        resolve();
      });
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    // A reset from either side is part of the faults: never an uncaught error.
    socket.on('error', () => undefined);
  }

  private accept(client: Socket): void {
    this.accepted++;
    this.track(client);
    if (this.mode === 'garbage') {
      client.end(randomBytes(512 + Math.floor(Math.random() * 512)));
      return;
    }
    client.pause();
    const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
    this.track(upstream);
    upstream.once('connect', () => {
      this.pipe(client, upstream);
      this.pipe(upstream, client);
      client.resume();
    });
    // A reset goes through at once; a clean end follows the data still delayed (pipe()).
    upstream.once('close', (hadError) => {
      if (hadError || !upstream.readableEnded) client.destroy();
    });
    client.once('close', (hadError) => {
      if (hadError || !client.readableEnded) upstream.destroy();
    });
  }

  /** Forwards from one socket to the other, each chunk after the current delay, in order. */
  private pipe(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      const write = () => {
        if (to.destroyed) return;
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      };
      if (this.delayMs <= 0) {
        write();
        return;
      }
      from.pause();
      setTimeout(() => {
        write();
        if (to.writableNeedDrain) return; // resumed on drain
        from.resume();
      }, this.delayMs);
    });
    from.once('end', () => {
      const end = () => {
        if (!to.destroyed) to.end();
      };
      if (this.delayMs > 0) setTimeout(end, this.delayMs);
      else end();
    });
  }

  /** Destroys every open connection and closes the listening socket: new ones are refused. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropAll();
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
  }

  /** Listens again on the same port, passing traffic through (no delay, no garbage). */
  async restore(): Promise<void> {
    this.mode = 'pass';
    this.delayMs = 0;
    if (!this.server) await this.listen();
  }

  /** Latency added to every chunk, both ways (0: none). */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Every new connection gets random bytes and is closed; open ones are destroyed. */
  garbage(): void {
    this.mode = 'garbage';
    this.dropAll();
  }

  /** Open connections (client and upstream sides both counted). */
  get open(): number {
    return this.sockets.size;
  }

  private dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    await this.cut();
  }
}
