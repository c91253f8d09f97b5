/**
 * GET /metrics (Prometheus text) and GET /healthz (200, or 503 with a JSON reason). 127.0.0.1 by
 * default; optionally behind a bearer token. At most `maxConnections` connections are served and an
 * idle one is closed after `idleTimeoutMs`, so a flood of connections cannot use up the file
 * descriptors the pipeline needs (its state saves, its outputs).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { HealthReport } from './health.js';

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

export interface OpsServerOptions {
  token?: string | undefined;
  maxConnections?: number;
  idleTimeoutMs?: number;
}

/** Whether the request carries `Authorization: Bearer <token>` (compared in constant time). */
function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Whether `host` is a loopback address (what listening there exposes stays on this machine). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** What to warn about a metrics listen address beyond loopback, if anything. */
export function exposureWarning(listen: { host: string; port: number }, token: string | undefined): string | undefined {
  if (isLoopback(listen.host)) return undefined;
  return (
    `metrics.listen is ${listen.host}:${listen.port}, beyond this machine: whoever reaches it reads the pipeline's health and metrics` +
    (token === undefined
      ? ' without any authentication; set metrics.token (or token_file), or listen on 127.0.0.1 behind a proxy'
      : ' (metrics.token is required)')
  );
}

export async function startOpsServer(
  listen: { host: string; port: number },
  registry: Registry,
  health: () => HealthReport,
  options: OpsServerOptions = {},
): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (!authorized(req, options.token)) {
      res
        .writeHead(401, { 'www-authenticate': 'Bearer realm="cf-access-shipper"', 'content-type': 'text/plain' })
        .end('unauthorized: send Authorization: Bearer <metrics.token>\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType }).end(text);
        })
        .catch((error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(error as Error).message}\n`);
        });
      return;
    }
    if (path === '/healthz') {
      const report = health();
      res
        .writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ status: report.healthy ? 'ok' : 'unhealthy', ...report })}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  });
  server.keepAliveTimeout = 5000;
  server.maxConnections = options.maxConnections ?? 16;
  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  server.setTimeout(options.idleTimeoutMs ?? 10_000, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
