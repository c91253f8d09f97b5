/**
 * An Elasticsearch node as far as `_bulk` goes, following its documented behaviour: NDJSON action
 * / source pairs, `create` with `_id` (201, or 409 version_conflict_engine_exception when the id is
 * in the index), per-item statuses with `errors: true`, API-key or basic auth (401), gzip request
 * bodies, `http.max_content_length` (413), the `X-Elastic-Product` header the official client
 * insists on, and `GET /` info. Faults: a share of items answered 429 es_rejected_execution_exception,
 * a share of whole requests answered 429, documents that fail mapping, outages, and requests cut
 * after they were indexed (the client never hears the answer). Binds to 127.0.0.1 only.
 *
 * It counts what a test needs to judge exactly-once without trusting the ids: documents stored per
 * data stream, and `duplicated` = stored documents whose text equals another stored document's
 * (the same event indexed under two ids).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface EsSimulatorOptions {
  /** Required `Authorization` header value (e.g. `ApiKey abc`, `Basic …`); unset: none asked. */
  authorization?: string;
  /** Share (0–1) of items answered 429 es_rejected_execution_exception. */
  itemRejectShare?: number;
  /** Share (0–1) of whole requests answered 429. */
  requestBusyShare?: number;
  /** Documents for which this returns true fail with 400 document_parsing_exception. */
  mappingError?: (doc: Record<string, unknown>) => boolean;
  /** Bodies over this (bytes, decompressed) get 413. */
  maxContentLength?: number;
  /** Leave out the X-Elastic-Product header (a proxy or another product in front). */
  notElasticsearch?: boolean;
  seed?: number;
  /** Keep ids only (benches: a million documents without their text); `duplicated` is then 0. */
  countOnly?: boolean;
  /** https with this key and certificate. */
  tls?: { key: Buffer; cert: Buffer };
}

export interface StoredDoc {
  id: string;
  text: string;
  doc: Record<string, unknown>;
}

export class EsBulkSimulator {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  readonly streams = new Map<string, Map<string, StoredDoc>>();
  /** PUT _index_template/<name> bodies. */
  readonly templates = new Map<string, unknown>();
  requests = 0;
  /** `create` actions received (retries included). */
  creates = 0;
  conflicts = 0;
  gzipRequests = 0;
  /** The next N bulk requests are indexed, then their connection is cut before the answer. */
  cutAfterIndex = 0;
  private random: () => number;

  constructor(readonly options: EsSimulatorOptions = {}) {
    let a = (options.seed ?? 7) >>> 0;
    this.random = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Every stored document, all streams. */
  get docs(): StoredDoc[] {
    return [...this.streams.values()].flatMap((m) => [...m.values()]);
  }

  /** Stored documents whose text another stored document already has. */
  get duplicated(): number {
    const texts = new Set<string>();
    let dup = 0;
    for (const d of this.docs) {
      if (this.options.countOnly) break;
      if (texts.has(d.text)) dup++;
      texts.add(d.text);
    }
    return dup;
  }

  async start(port = 0): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.handle(req, res, Buffer.concat(chunks));
        } catch (error) {
          this.json(res, 500, { error: { type: 'simulator', reason: String(error) } });
        }
      });
    };
    const tls = this.options.tls;
    this.server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler) : createServer(handler);
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  /** Down (connections refused) until `start(port)` again; what was indexed stays. */
  async outage(): Promise<void> {
    await this.stop();
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (!this.options.notElasticsearch) headers['x-elastic-product'] = 'Elasticsearch';
    res.writeHead(status, headers);
    res.end(JSON.stringify(body));
  }

  private handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    this.requests++;
    if (this.options.authorization !== undefined && req.headers.authorization !== this.options.authorization) {
      this.json(res, 401, {
        error: { type: 'security_exception', reason: 'unable to authenticate user' },
        status: 401,
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://es');
    let body = raw;
    if (req.headers['content-encoding'] === 'gzip') {
      this.gzipRequests++;
      body = gunzipSync(raw);
    }
    if (req.method === 'GET' && url.pathname === '/') {
      this.json(res, 200, {
        name: 'sim',
        cluster_name: 'simulated',
        version: { number: '9.1.0' },
        tagline: 'You Know, for Search',
      });
      return;
    }
    const template = /^\/_index_template\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'PUT' && template) {
      const put = JSON.parse(body.toString('utf8')) as { index_patterns?: unknown; template?: unknown };
      if (!Array.isArray(put.index_patterns) || typeof put.template !== 'object') {
        this.json(res, 400, {
          error: { type: 'x_content_parse_exception', reason: 'index_patterns and template are required' },
        });
        return;
      }
      this.templates.set(decodeURIComponent(template[1] ?? ''), put);
      this.json(res, 200, { acknowledged: true });
      return;
    }
    const bulk = /^\/(?:([^/]+)\/)?_bulk$/.exec(url.pathname);
    if (req.method !== 'POST' || !bulk) {
      this.json(res, 404, { error: { type: 'no_handler', reason: `no handler for ${req.method} ${url.pathname}` } });
      return;
    }
    if (this.options.maxContentLength !== undefined && body.length > this.options.maxContentLength) {
      this.json(res, 413, { error: { type: 'content_too_long', reason: 'request entity too large' }, status: 413 });
      return;
    }
    if ((this.options.requestBusyShare ?? 0) > this.random()) {
      this.json(res, 429, {
        error: { type: 'es_rejected_execution_exception', reason: 'rejected execution (queue capacity 200)' },
        status: 429,
      });
      return;
    }
    const lines = body.toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    else {
      this.json(res, 400, {
        error: { type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline [\\n]' },
      });
      return;
    }
    const items: unknown[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i] ?? '') as { create?: { _index?: string; _id?: string } };
      const meta = action.create;
      if (!meta) throw new Error(`only create actions are expected, got ${lines[i]}`);
      const index = meta._index ?? bulk[1];
      const id = meta._id;
      if (index === undefined || id === undefined) throw new Error('create without _index or _id');
      this.creates++;
      const text = lines[i + 1] ?? '';
      const doc =
        this.options.countOnly && !this.options.mappingError ? {} : (JSON.parse(text) as Record<string, unknown>);
      const item = (status: number, extra: Record<string, unknown> = {}) => {
        if (status >= 300) errors = true;
        items.push({ create: { _index: `.ds-${index}-000001`, _id: id, status, ...extra } });
      };
      const stream = this.streams.get(index) ?? new Map<string, StoredDoc>();
      this.streams.set(index, stream);
      if ((this.options.itemRejectShare ?? 0) > this.random()) {
        item(429, { error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of write' } });
      } else if (this.options.mappingError?.(doc) === true) {
        item(400, { error: { type: 'document_parsing_exception', reason: 'failed to parse field [@timestamp]' } });
      } else if (stream.has(id)) {
        this.conflicts++;
        item(409, {
          error: {
            type: 'version_conflict_engine_exception',
            reason: `[${id}]: version conflict, document already exists`,
          },
        });
      } else {
        stream.set(id, this.options.countOnly ? { id, text: '', doc: {} } : { id, text, doc });
        item(201, { result: 'created', _version: 1 });
      }
    }
    if (this.cutAfterIndex > 0) {
      this.cutAfterIndex--;
      req.socket.destroy();
      return;
    }
    this.json(res, 200, { took: 1, errors, items });
  }
}
