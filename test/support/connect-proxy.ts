/**
 * A real HTTP proxy (the npm package `proxy`, TooTallNate's, which proxy-agent's own tests use):
 * CONNECT tunnels and absolute-URI forwarding, optional Basic credentials (407 without them).
 * Records what went through it. Binds to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createProxy } from 'proxy';

export interface ProxyLog {
  method: string;
  /** CONNECT: host:port; forwarded: the absolute URI. */
  target: string;
  authorized: boolean;
}

export class ConnectProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  readonly log: ProxyLog[] = [];
  port = 0;

  /** `credentials`: "user:password" the proxy requires (407 otherwise). */
  constructor(private readonly credentials?: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The proxy URL with credentials in it, percent-encoded as a user would write them. */
  urlWith(user: string, password: string): string {
    return `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }

  connects(): string[] {
    return this.log.filter((l) => l.method === 'CONNECT' && l.authorized).map((l) => l.target);
  }

  forwarded(): string[] {
    return this.log.filter((l) => l.method !== 'CONNECT' && l.authorized).map((l) => l.target);
  }

  async start(): Promise<this> {
    const server = createProxy(createServer());
    const expected =
      this.credentials === undefined ? undefined : `Basic ${Buffer.from(this.credentials).toString('base64')}`;
    server.authenticate = (req: IncomingMessage) => {
      const authorized = expected === undefined || req.headers['proxy-authorization'] === expected;
      this.log.push({ method: req.method ?? '', target: req.url ?? '', authorized });
      return authorized;
    };
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
