/**
 * A Splunk HTTP Event Collector simulator following Splunk's documented behaviour: the
 * `Authorization: Splunk <token>` header, concatenated JSON events (optionally gzip'd), the
 * request channel header, ackIds and /services/collector/ack, /services/collector/health, the
 * code table, 413 past max_content_length and `invalid-event-number` (events before it are
 * indexed). Fault injection for outages. Binds to 127.0.0.1 only (http, or https with a cert).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface HecEventRecord {
  time?: number;
  host?: string;
  source?: string;
  sourcetype?: string;
  index?: string;
  event: unknown;
  fields?: Record<string, unknown>;
  channel?: string;
}

export type HecFault =
  | { kind: 'status'; status: number; code?: number; text?: string; retryAfter?: string; times?: number }
  | { kind: 'reset'; times?: number }
  | { kind: 'delay'; ms: number; times?: number }
  /** Accept with an ackId but lose the data: the ack never turns true. */
  | { kind: 'lose'; times?: number }
  /** Index the events, then cut the connection before answering (the client cannot know). */
  | { kind: 'cut'; times?: number };

export interface HecSimulatorOptions {
  token?: string;
  disabledTokens?: string[];
  /** Indexer acknowledgement on the token. */
  ack?: boolean;
  /** Acks turn true this long after the request (ms). */
  ackDelayMs?: number;
  indexes?: string[];
  defaultIndex?: string;
  maxContentLength?: number;
  /** Reject events whose `event` contains this string (code 6, with invalid-event-number). */
  poisonText?: string;
  tls?: { key: Buffer; cert: Buffer; /** Require a client certificate signed by this CA. */ clientCa?: Buffer };
  /** Count events instead of keeping them (benches). */
  countOnly?: boolean;
  health?: 17 | 18 | 19 | 20;
  /** The first ackId handed out (indexers behind one balancer number their acks apart). */
  firstAckId?: number;
  /** Answer every n-th event request 503 code 9 "Server is busy" (a loaded indexer). */
  busyEvery?: number;
  /** Sets this cookie on every answer (a load balancer's affinity, seen through to the indexer). */
  setCookie?: string;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export class HecSimulator {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  readonly events: HecEventRecord[] = [];
  eventCount = 0;
  readonly faults: HecFault[] = [];
  readonly requests: {
    path: string;
    status: number;
    code?: number;
    events: number;
    bytes: number;
    gzip: boolean;
    channel?: string;
  }[] = [];
  private nextAckId = 0;
  private eventRequests = 0;
  /** Requests indexed and then cut before their answer (fault `cut`), and their events. */
  cutRequests = 0;
  cutEvents = 0;
  private readonly acks = new Map<string, Map<number, { readyAt: number; lost: boolean }>>();
  port = 0;
  /** Turns the collector off (connection refused) until turned on again. */
  private down = false;

  constructor(readonly options: HecSimulatorOptions = {}) {
    this.nextAckId = options.firstAckId ?? 0;
  }

  /** Revokes the token (403 code 1 "Token disabled") until `restoreToken()`. */
  revokeToken(): void {
    this.options.disabledTokens = [...(this.options.disabledTokens ?? []), this.token];
  }

  restoreToken(): void {
    this.options.disabledTokens = (this.options.disabledTokens ?? []).filter((t) => t !== this.token);
  }

  get token(): string {
    return this.options.token ?? '11111111-2222-3333-4444-555555555555';
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.handle(req, res, Buffer.concat(chunks)).catch((error: unknown) => {
          res.writeHead(500);
          res.end(String(error));
        });
      });
    };
    const tls = this.options.tls;
    this.server = tls
      ? createHttpsServer(
          {
            key: tls.key,
            cert: tls.cert,
            ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        )
      : createHttpServer(handler);
    this.server.on('connection', (socket: Socket) => {
      if (this.down) socket.destroy();
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.down = false;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  /**
   * An outage: the port refuses connections until `restart()`. `graceful` lets requests already
   * being handled finish (like a Splunk restart draining); otherwise connections are cut, and a
   * request cut after its events were taken loses its answer (the client's retry duplicates it).
   */
  async outage(options: { graceful?: boolean } = {}): Promise<void> {
    if (!options.graceful) {
      await this.stop();
      return;
    }
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    this.server = undefined;
  }

  async restart(): Promise<void> {
    await this.start(this.port);
  }

  private send(
    res: ServerResponse,
    status: number,
    body: Record<string, unknown>,
    log: { status: number; code?: number },
    headers: Record<string, string> = {},
  ): void {
    log.status = status;
    if (typeof body.code === 'number') log.code = body.code;
    const text = JSON.stringify(body);
    const cookie = this.options.setCookie === undefined ? {} : { 'set-cookie': this.options.setCookie };
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...cookie,
      ...headers,
    });
    res.end(text);
  }

  private takeFault(): HecFault | undefined {
    const fault = this.faults[0];
    if (!fault) return undefined;
    const times = (fault.times ?? 1) - 1;
    if (times <= 0) this.faults.shift();
    else fault.times = times;
    return fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const channel = req.headers['x-splunk-request-channel'];
    const channelText = Array.isArray(channel) ? channel[0] : channel;
    const gzip = req.headers['content-encoding'] === 'gzip';
    const log: HecSimulator['requests'][number] = { path, status: 0, events: 0, bytes: raw.length, gzip };
    if (channelText !== undefined) log.channel = channelText;
    this.requests.push(log);

    if (path === '/services/collector/health' || path === '/services/collector/health/1.0') {
      const code = this.options.health ?? 17;
      return this.send(
        res,
        code === 17 ? 200 : 503,
        {
          text:
            code === 17
              ? 'HEC is healthy'
              : code === 18
                ? 'HEC is unhealthy, queues are full'
                : code === 19
                  ? 'HEC is unhealthy, ack service unavailable'
                  : 'HEC is unhealthy, queues are full, ack service unavailable',
          code,
        },
        log,
      );
    }
    const auth = req.headers.authorization;
    if (auth === undefined) return this.send(res, 401, { text: 'Token is required', code: 2 }, log);
    const match = /^Splunk (\S+)$/.exec(auth);
    if (!match) return this.send(res, 401, { text: 'Invalid authorization', code: 3 }, log);
    const token = match[1]!;
    if (this.options.disabledTokens?.includes(token))
      return this.send(res, 403, { text: 'Token disabled', code: 1 }, log);
    if (token !== this.token) return this.send(res, 403, { text: 'Invalid token', code: 4 }, log);

    if (path === '/services/collector/ack') {
      if (!this.options.ack) return this.send(res, 400, { text: 'ACK is disabled', code: 14 }, log);
      if (channelText === undefined) return this.send(res, 400, { text: 'Data channel is missing', code: 10 }, log);
      const ids = (JSON.parse(raw.toString()) as { acks?: number[] }).acks ?? [];
      const table = this.acks.get(channelText) ?? new Map<number, { readyAt: number; lost: boolean }>();
      const now = Date.now();
      const answer: Record<string, boolean> = {};
      for (const id of ids) {
        const ack = table.get(id);
        answer[String(id)] = ack !== undefined && !ack.lost && ack.readyAt <= now;
      }
      return this.send(res, 200, { acks: answer }, log);
    }
    if (
      path !== '/services/collector/event' &&
      path !== '/services/collector' &&
      path !== '/services/collector/event/1.0'
    ) {
      return this.send(res, 404, { text: 'The requested URL was not found on this server.', code: 404 }, log);
    }
    if (this.options.ack) {
      if (channelText === undefined) return this.send(res, 400, { text: 'Data channel is missing', code: 10 }, log);
      if (!GUID.test(channelText)) return this.send(res, 400, { text: 'Invalid data channel', code: 11 }, log);
    }

    this.eventRequests++;
    if (this.options.busyEvery !== undefined && this.eventRequests % this.options.busyEvery === 0) {
      return this.send(res, 503, { text: 'Server is busy', code: 9 }, log);
    }
    const fault = this.takeFault();
    let lose = false;
    let cut = false;
    if (fault) {
      switch (fault.kind) {
        case 'status':
          return this.send(
            res,
            fault.status,
            { text: fault.text ?? 'Server is busy', code: fault.code ?? 9 },
            log,
            fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter },
          );
        case 'reset':
          req.socket.destroy();
          return;
        case 'delay':
          await new Promise((resolve) => setTimeout(resolve, fault.ms));
          break;
        case 'lose':
          lose = true;
          break;
        case 'cut':
          cut = true;
          break;
      }
    }

    let body: Buffer;
    try {
      body = gzip ? gunzipSync(raw) : raw;
    } catch {
      return this.send(res, 400, { text: 'Invalid data format', code: 6 }, log);
    }
    if (this.options.maxContentLength !== undefined && body.length > this.options.maxContentLength) {
      log.status = 413;
      res.writeHead(413, { 'content-type': 'text/html' });
      res.end('<html><body>Content too large</body></html>');
      return;
    }
    if (this.options.countOnly) {
      // Benches: count events in the bytes without decoding or parsing them (the simulator must
      // not be the bottleneck: it shares the machine's cores with the shipper).
      let count = 0;
      for (let at = body.indexOf('{"time":'); at !== -1; at = body.indexOf('{"time":', at + 8)) count++;
      if (count === 0) return this.send(res, 400, { text: 'No data', code: 5 }, log);
      this.eventCount += lose ? 0 : count;
      log.events = count;
      return this.ackOrSuccess(res, log, channelText, lose);
    }
    const text = body.toString('utf8');
    if (text.trim() === '') return this.send(res, 400, { text: 'No data', code: 5 }, log);

    const accepted: HecEventRecord[] = [];
    let failure: { code: number; text: string; index: number } | undefined;
    let index = 0;
    for (const item of splitConcatenated(text)) {
      if (item === undefined) {
        failure = { code: 6, text: 'Invalid data format', index };
        break;
      }
      const record = item as HecEventRecord;
      if (!('event' in record)) {
        failure = { code: 12, text: 'Event field is required', index };
        break;
      }
      if (
        record.fields !== undefined &&
        Object.values(record.fields).some((v) => typeof v === 'object' && v !== null && !Array.isArray(v))
      ) {
        failure = { code: 15, text: 'Error in handling indexed fields', index };
        break;
      }
      const idx = record.index ?? this.options.defaultIndex ?? 'main';
      if (this.options.indexes && !this.options.indexes.includes(idx)) {
        failure = { code: 7, text: 'Incorrect index', index };
        break;
      }
      if (record.event === '' || record.event === null) {
        failure = { code: 13, text: 'Event field cannot be blank', index };
        break;
      }
      if (this.options.poisonText !== undefined && JSON.stringify(record.event).includes(this.options.poisonText)) {
        failure = { code: 6, text: 'Invalid data format', index };
        break;
      }
      accepted.push({ ...record, ...(channelText === undefined ? {} : { channel: channelText }) });
      index++;
    }
    // Splunk indexes the events before an invalid one.
    if (!lose) {
      this.eventCount += accepted.length;
      this.events.push(...accepted);
    }
    log.events = accepted.length;
    if (cut) {
      this.cutRequests++;
      this.cutEvents += accepted.length;
      req.socket.destroy();
      return;
    }
    if (failure)
      return this.send(
        res,
        400,
        { text: failure.text, code: failure.code, 'invalid-event-number': failure.index },
        log,
      );
    return this.ackOrSuccess(res, log, channelText, lose);
  }

  private ackOrSuccess(
    res: ServerResponse,
    log: { status: number; code?: number },
    channel: string | undefined,
    lose: boolean,
  ): void {
    if (this.options.ack && channel !== undefined) {
      const ackId = this.nextAckId++;
      const table = this.acks.get(channel) ?? new Map<number, { readyAt: number; lost: boolean }>();
      table.set(ackId, { readyAt: Date.now() + (this.options.ackDelayMs ?? 0), lost: lose });
      this.acks.set(channel, table);
      this.send(res, 200, { text: 'Success', code: 0, ackId }, log);
      return;
    }
    this.send(res, 200, { text: 'Success', code: 0 }, log);
  }
}

/** Splits `{...}{...} {...}` into parsed objects; undefined marks the first unparsable one. */
function* splitConcatenated(text: string): Generator {
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) {
        try {
          yield JSON.parse(text.slice(start, i + 1)) as unknown;
        } catch {
          yield undefined;
          return;
        }
      }
    } else if (depth === 0 && !/\s/.test(c ?? '')) {
      yield undefined;
      return;
    }
  }
  if (depth !== 0) yield undefined;
}
