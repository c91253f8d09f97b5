/**
 * A load balancer in front of several HEC simulators, as AWS ALB does with stickiness on: a request
 * carrying the affinity cookie `AWSALB=<n>` goes to backend n; one without it is sent round-robin
 * and answered with `Set-Cookie: AWSALB=<n>`. An /ack query without the cookie goes to the first
 * backend (the balancer's choice, not the issuer's). `sticky: false` never sets the cookie — what a
 * client that ignores cookies sees. Binds to 127.0.0.1.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class HecBalancer {
  private server: Server | undefined;
  private next = 0;
  port = 0;
  /** Requests routed to each backend, by path. */
  readonly routed: { backend: number; path: string; cookie: boolean }[] = [];

  constructor(
    private readonly backends: readonly { port: number }[],
    private readonly options: { sticky: boolean } = { sticky: true },
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.forward(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const affinity = /(?:^|;\s*)AWSALB=(\d+)/.exec(req.headers.cookie ?? '')?.[1];
    const backend =
      affinity !== undefined
        ? Number(affinity) % this.backends.length
        : path === '/services/collector/ack'
          ? 0
          : this.next++ % this.backends.length;
    this.routed.push({ backend, path, cookie: affinity !== undefined });
    const target = this.backends[backend];
    if (!target) return void res.writeHead(502).end();
    const upstream = request(
      { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const headers = { ...answer.headers };
        if (this.options.sticky && affinity === undefined)
          headers['set-cookie'] = [`AWSALB=${backend}; Path=/; Max-Age=604800`];
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  }
}
