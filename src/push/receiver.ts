/**
 * The Logpush receiver: HTTP(S) POSTs of gzip'd NDJSON to one path per endpoint. A push is
 * answered 200 only after every output confirmed every event of it (each output's own rule: HEC
 * acks, fsync …) and the outputs' positions were saved; otherwise 503, and Logpush sends it again.
 * Events an output already confirmed for the endpoint (a retry after a lost 200) are dropped by
 * content hash within the dedup window. Nothing is spooled: the body streams through in slices.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock } from '../clock.js';
import type { PushConfig, PushEndpointConfig } from '../config/push.js';
import type { Dataset } from '../datasets/dataset.js';
import { DATASETS } from '../datasets/index.js';
import type { Formatter } from '../format/index.js';
import type { Logger } from '../logging.js';
import { backoffDelay } from '../net/backoff.js';
import { deliverWithRetry } from '../sink/deliver.js';
import type { OutputRecord, RejectedRecord, Sink } from '../sink/types.js';
import { BodyError, DEFAULT_BODY_LIMITS } from './body.js';
import type { SharedArrivals } from './arrivals.js';
import { DedupWindow } from './dedup-window.js';
import { afterLinger } from './linger.js';
import { type PreparedSlice, PushedRecord, type RecordShape } from './pushed-record.js';
import { ReaderFailedError, ReaderPool } from './reader-pool.js';
import { bodySlices, type SliceOptions, VALIDATION } from './slices.js';

export interface PushOutput {
  name: string;
  sink: Sink;
  /** The output's formatter for a dataset. */
  formatterFor(dataset: Dataset): Formatter;
  /** The HEC sourcetype of a dataset in this output's format (undefined: not a HEC output). */
  sourcetypeFor(dataset: Dataset): string | undefined;
}

export interface ReceiverOptions {
  /** Windows shared with the poll, for accounts both polled and pushed. */
  arrivals?: SharedArrivals | undefined;
  config: PushConfig;
  outputs: readonly PushOutput[];
  datasets: Readonly<Record<string, Dataset>>;
  logger: Logger;
  clock: Clock;
  /** Saves the outputs' positions (file sizes) before a push is answered 200. */
  commit(): Promise<void>;
  /** Records an output refused for good. */
  deadLetter(output: string, rejected: readonly RejectedRecord[]): Promise<void>;
  /** Lines that are not events of the endpoint's dataset. */
  badLines(endpoint: string, lines: readonly { number: number; reason: string; text: string }[]): Promise<void>;
  /** The reader workers when `push.read_in_worker` (default: a pool of its own; tests give one). */
  readers?: ReaderPool;
  /** Delivery attempts per slice and output before the push is answered 503 (default 3). */
  attempts?: number;
  onPush?(endpoint: string, result: PushResult): void;
}

export interface PushResult {
  status: number;
  events: number;
  shipped: Record<string, number>;
  duplicates: Record<string, number>;
  bad: number;
  validation: boolean;
}

/** What `onPush` hears of a push refused before or while its body was read. */
const refusal = (status: number): PushResult => ({
  status,
  events: 0,
  shipped: {},
  duplicates: {},
  bad: 0,
  validation: false,
});

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

interface Endpoint {
  config: PushEndpointConfig;
  dataset: Dataset;
  secret: Buffer;
  windows: Map<string, DedupWindow>;
  /** The windows are shared with polling of the endpoint's account (see arrivals.ts). */
  shared: boolean;
  formatters: Map<string, Formatter>;
  sourcetypes: Map<string, string | undefined>;
  /** Its bodies are read in a worker (a dataset of datasets/index.ts, which the worker imports). */
  inWorker: boolean;
}

export class PushReceiver {
  private server: Server | HttpsServer | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly endpoints = new Map<string, Endpoint>();
  private active = 0;
  private readonly readers: ReaderPool | undefined;
  port = 0;

  constructor(private readonly options: ReceiverOptions) {
    if (options.config.read_in_worker) this.readers = options.readers ?? new ReaderPool(options.config.max_concurrent);
    for (const config of options.config.endpoints) {
      const dataset = options.datasets[config.dataset];
      if (!dataset?.fromPush)
        throw new Error(`push endpoint ${config.name}: dataset ${config.dataset} cannot be pushed`);
      const shared =
        dataset.sharedIdentity !== undefined &&
        config.account_id !== undefined &&
        options.arrivals?.covers(config.account_id) === true;
      this.endpoints.set(config.path, {
        config,
        dataset,
        secret: digest(config.secret),
        windows: new Map(
          options.outputs.map((o) => [
            o.name,
            (shared ? options.arrivals?.window(config.account_id ?? '', o.name) : undefined) ??
              new DedupWindow(options.config.dedup_window),
          ]),
        ),
        shared,
        formatters: new Map(options.outputs.map((o) => [o.name, o.formatterFor(dataset)])),
        sourcetypes: new Map(options.outputs.map((o) => [o.name, o.sourcetypeFor(dataset)])),
        inWorker: DATASETS[dataset.name] === dataset,
      });
    }
  }

  async start(): Promise<number> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((error: unknown) => {
        this.options.logger.error(`push: ${(error as Error).message}`);
        if (!res.headersSent) this.answer(res, 500, 'internal error');
      });
    };
    const tls = this.options.config.tls;
    this.server = tls ? createHttpsServer(this.tlsOptions(), handler) : createHttpServer(handler);
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    const { host, port } = this.options.config.listen;
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  private tlsOptions(): { cert: Buffer; key: Buffer } {
    const tls = this.options.config.tls;
    if (!tls) throw new Error('no push.tls');
    return { cert: readFileSync(tls.cert_file), key: readFileSync(tls.key_file) };
  }

  /** SIGHUP: a renewed certificate is taken for new connections. */
  reloadTls(): void {
    if (this.server && 'setSecureContext' in this.server) this.server.setSecureContext(this.tlsOptions());
  }

  /** Takes no new push; those being received finish within `graceMs`, then are cut (Logpush resends them). */
  async stop(graceMs = 30_000): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => {
        for (const socket of this.sockets) socket.destroy();
      }, graceMs).unref();
    });
    this.server = undefined;
    await this.readers?.close();
  }

  private answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
    this.writeAnswer(res, status, text, headers);
    res.end();
  }

  /** The answer's head and text, the response not yet ended. */
  private writeAnswer(res: ServerResponse, status: number, text: string, headers: Record<string, string>): void {
    const body = `${text}\n`;
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    });
    res.write(body);
  }

  /**
   * Answers without using the body, and closes the connection (the body is not wanted), after
   * reading and dropping what is still arriving of it for a while (linger.ts): closed at once, the
   * client could read a reset instead of the answer.
   */
  private refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    text: string,
    headers: Record<string, string> = {},
  ): void {
    // The whole answer now; ending the response closes the connection, so that waits for the body.
    this.writeAnswer(res, status, text, { connection: 'close', ...headers });
    res.on('finish', () => req.socket.destroy());
    afterLinger(req, () => res.end());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://receiver').pathname;
    const endpoint = this.endpoints.get(path);
    if (!endpoint) return this.refuse(req, res, 404, 'no Logpush endpoint at this path');
    if (req.method !== 'POST') return this.refuse(req, res, 405, 'POST only', { allow: 'POST' });
    const given = req.headers[endpoint.config.secret_header.toLowerCase()];
    const value = Array.isArray(given) ? given[0] : given;
    const refused = (status: number): void => this.options.onPush?.(endpoint.config.name, refusal(status));
    if (value === undefined || !timingSafeEqual(digest(value), endpoint.secret)) {
      refused(401);
      return this.refuse(req, res, 401, `missing or wrong ${endpoint.config.secret_header}`);
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > this.options.config.max_body) {
      refused(413);
      return this.refuse(req, res, 413, `the body is over max_body (${this.options.config.max_body} bytes)`);
    }
    if (this.active >= this.options.config.max_concurrent) {
      refused(429);
      return this.refuse(req, res, 429, 'too many pushes at once; retry later', { 'retry-after': '5' });
    }
    this.active++;
    try {
      const result = await this.receive(endpoint, req);
      this.options.onPush?.(endpoint.config.name, result);
      if (result.status === 200)
        this.answer(res, 200, result.validation ? 'validation ok' : `ok: ${result.events} event(s)`);
      else this.refuse(req, res, 503, 'an output did not confirm the batch; retry later', { 'retry-after': '10' });
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      this.options.logger.warn(`push ${endpoint.config.name}: refused a body: ${error.message}`);
      refused(error.status);
      this.refuse(req, res, error.status, error.message);
    } finally {
      this.active--;
    }
  }

  private async receive(endpoint: Endpoint, req: IncomingMessage): Promise<PushResult> {
    const limits = {
      ...DEFAULT_BODY_LIMITS,
      maxBody: this.options.config.max_body,
      maxDecompressed: this.options.config.max_decompressed,
    };
    const result: PushResult = { status: 200, events: 0, shipped: {}, duplicates: {}, bad: 0, validation: false };
    for (const output of this.options.outputs) {
      result.shipped[output.name] = 0;
      result.duplicates[output.name] = 0;
    }
    // Two stages: the next slice is read and parsed while the outputs confirm the one before (a
    // file's fsync, HEC's acks); slices reach the outputs one after another, in order.
    let inFlight: Promise<void> = Promise.resolve();
    // Set when a delivery settles, while the next slice is read.
    const delivery: { failed: boolean; thrown?: Error } = { failed: false };
    const options: SliceOptions = {
      dataset: endpoint.dataset,
      shared: endpoint.shared,
      contentEncoding: req.headers['content-encoding'],
      limits,
      sliceEvents: this.options.config.slice_events,
    };
    const slices = this.readers && endpoint.inWorker ? this.readers.slices(req, options) : bodySlices(req, options);
    try {
      for await (const slice of slices) {
        if (slice === VALIDATION) return { ...result, validation: true };
        await inFlight;
        if (delivery.failed) break;
        inFlight = this.deliver(endpoint, slice, result).then(
          (confirmed) => void (delivery.failed ||= !confirmed),
          (error: unknown) => {
            delivery.failed = true;
            delivery.thrown = error instanceof Error ? error : new Error(String(error));
          },
        );
      }
    } catch (error) {
      if (!(error instanceof ReaderFailedError)) throw error;
      this.options.logger.error(`push ${endpoint.config.name}: ${error.message}; answered 503`);
      await inFlight;
      return { ...result, status: 503 };
    }
    await inFlight;
    if (delivery.thrown !== undefined) throw delivery.thrown;
    if (delivery.failed) return { ...result, status: 503 };
    await this.options.commit();
    return result;
  }

  /** A slice's events to every output (bad lines dead-lettered first); false when one did not confirm them. */
  private async deliver(endpoint: Endpoint, slice: PreparedSlice, result: PushResult): Promise<boolean> {
    const { dataset } = endpoint;
    const { events, bad } = slice;
    if (bad.length > 0) {
      result.bad += bad.length;
      await this.options.badLines(endpoint.config.name, bad);
      this.options.logger.warn(
        `push ${endpoint.config.name}: ${bad.length} line(s) are not ${dataset.name} events (first: line ${bad[0]?.number}: ${bad[0]?.reason}); dead-lettered`,
      );
    }
    result.events += events.length;
    const accountId = endpoint.config.account_id ?? '';
    const outcomes = await Promise.all(
      this.options.outputs.map(async (output) => {
        const window = endpoint.windows.get(output.name) as DedupWindow;
        const format = endpoint.formatters.get(output.name) as Formatter;
        const sourcetype = endpoint.sourcetypes.get(output.name);
        const fresh = events.filter((e) => !window.has(e.key));
        result.duplicates[output.name] = (result.duplicates[output.name] ?? 0) + events.length - fresh.length;
        if (fresh.length === 0) return true;
        const shape: RecordShape = {
          format,
          json: format === dataset.json,
          accountId,
          sourcetype,
          syslog: dataset.syslog,
          dataset: dataset.name,
        };
        const records: OutputRecord[] = fresh.map((e) => new PushedRecord(e, shape));
        const outcome = await deliverWithRetry(output, records, {
          attempts: this.options.attempts ?? 3,
          clock: this.options.clock,
          logger: this.options.logger,
          backoff: (attempt) => backoffDelay(attempt, { baseMs: 500, capMs: 5000 }),
        });
        if (outcome.status !== 'delivered') return false;
        if (outcome.rejected.length > 0) await this.options.deadLetter(output.name, outcome.rejected);
        for (const e of fresh) window.add(e.key);
        // From here the dedup window answers for these events: the output may forget what it kept
        // to avoid resending them (HEC's acknowledged ids), or it would hold every event ever pushed.
        output.sink.settled?.(records);
        result.shipped[output.name] = (result.shipped[output.name] ?? 0) + fresh.length - outcome.rejected.length;
        return true;
      }),
    );
    return outcomes.every(Boolean);
  }
}
