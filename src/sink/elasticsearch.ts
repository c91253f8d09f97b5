/**
 * Elasticsearch output: ECS documents into a data stream through `_bulk` with `create`, each
 * document's `_id` its content hash. A retried request, a replay after a crash or a re-read page
 * can therefore never index an event twice — Elasticsearch answers 409 for an id it has, which
 * counts as delivered. Per item: busy answers (429, rejected execution) are retried alone with
 * backoff, mapping errors are dead-lettered, missing privileges or data streams stop the output.
 * The official client (@elastic/elasticsearch) carries the requests: auth, TLS, gzip, node
 * selection; its own retries are off, the pipeline's delivery rules decide.
 */
import { Client, errors, HttpConnection } from '@elastic/elasticsearch';
import type { ElasticsearchOutputConfig } from '../config/outputs.js';
import { outputRoute } from '../config/proxies.js';
import type { Logger } from '../logging.js';
import { routeAgents } from '../net/proxy-agent.js';
import type { ProxyEnv } from '../net/proxy.js';
import { type BulkChunk, bulkChunks, bulkItems, itemVerdict } from './es-bulk.js';
import { isCertificateError } from './syslog-connection.js';
import { readTlsFiles } from './tls-files.js';
import type { DeliveryResult, OutputRecord, RejectedRecord, Sink } from './types.js';

/** Busy items retried within one delivery before the pipeline's own backoff takes over. */
const ITEM_RETRIES = 5;

export interface ElasticsearchSinkOptions {
  logger: Logger;
  /** The dataset of records that do not name theirs; each dataset goes to its own data stream unless `data_stream` is set. */
  dataset: string;
  /** Events Elasticsearch already had (409 on create): a retry or replay it absorbed. */
  onAlreadyIndexed?: (count: number) => void;
  /** For tests: waits between item retries. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Where HTTPS_PROXY / NO_PROXY are read (default the process environment). */
  env?: ProxyEnv;
}

export const esUrls = (config: ElasticsearchOutputConfig): string[] =>
  (Array.isArray(config.url) ? config.url : [config.url]).map((u) => u.replace(/\/+$/, ''));

export const defaultDataStream = (dataset: string): string => `logs-cloudflare_access.${dataset}-default`;

const abortableSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

type Failure = Exclude<DeliveryResult, { status: 'delivered' }>;

/**
 * The client's error is an HTTP proxy refusing (or wanting) credentials: in a CONNECT tunnel (the
 * proxy agent's message, which the client's ConnectionError repeats) or, over plain http, as the
 * answer the proxy forwarded.
 */
export function proxyAuthRefused(error: unknown): boolean {
  if (error instanceof errors.ResponseError) return error.statusCode === 407;
  return error instanceof Error && /^the proxy \S+ answered HTTP 407\b/.test(error.message);
}

/**
 * Builds the client for an output (also used by `check` and `setup elasticsearch`). Direct, it
 * uses the client's default (undici) connection; when a URL goes through an HTTP proxy, the
 * client's node:http connection with the proxy agents HEC uses (a CONNECT tunnel, the server's
 * certificate verified end to end, credentials from the proxy URL, 407 said plainly).
 */
export function elasticsearchClient(
  name: string,
  config: ElasticsearchOutputConfig,
  env: ProxyEnv = process.env,
): Client {
  const tls = readTlsFiles(name, config.tls);
  const urls = esUrls(config);
  const routes = new Map(urls.map((u) => [new URL(u).origin, outputRoute({ name, proxy: config.proxy }, u, env)]));
  const proxied = [...routes.values()].some((r) => r.kind === 'proxy');
  return new Client({
    node: urls,
    ...(proxied
      ? {
          Connection: HttpConnection,
          agent: (options: { url: URL }) => {
            const route = routes.get(options.url.origin) ?? { kind: 'direct' as const, why: 'not listed' };
            const agents = routeAgents(route, Infinity, { ...tls, rejectUnauthorized: config.tls.verify });
            return options.url.protocol === 'https:' ? agents.https : agents.http;
          },
        }
      : {}),
    ...(config.api_key !== undefined
      ? { auth: { apiKey: config.api_key } }
      : config.username !== undefined && config.password !== undefined
        ? { auth: { username: config.username, password: config.password } }
        : {}),
    tls: { ...tls, rejectUnauthorized: config.tls.verify },
    compression: config.gzip,
    maxRetries: 0,
    requestTimeout: config.request_timeout,
    sniffOnStart: false,
  });
}

export class ElasticsearchSink implements Sink {
  readonly exactlyOnce = true;
  readonly concurrency: number;
  private client: Client | undefined;
  /**
   * Ids Elasticsearch took in a delivery that still returned `retry`: the pipeline offers that
   * batch again, and these are left out of it (they would only come back 409). Emptied per batch
   * once it is delivered, so it holds at most the batches being retried.
   */
  private readonly confirmed = new Set<string>();
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(
    readonly name: string,
    private readonly config: ElasticsearchOutputConfig,
    private readonly options: ElasticsearchSinkOptions,
  ) {
    this.concurrency = config.concurrency;
    this.sleep = options.sleep ?? abortableSleep;
    const plain = esUrls(config).filter((u) => u.startsWith('http:'));
    if (plain.length > 0 && (config.api_key !== undefined || config.password !== undefined))
      options.logger.warn(`output ${name}: plain http to ${plain.join(', ')}: the credentials travel unencrypted`, {
        output: name,
      });
    if (!config.tls.verify)
      options.logger.warn(`output ${name}: TLS verification is off (tls.verify: false)`, { output: name });
  }

  open(): Promise<void> {
    this.client ??= elasticsearchClient(this.name, this.config, this.options.env);
    return Promise.resolve();
  }

  position(): undefined {
    return undefined;
  }

  reopen(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }

  async deliver(records: readonly OutputRecord[], signal?: AbortSignal): Promise<DeliveryResult> {
    await this.open();
    const rejected: RejectedRecord[] = [];
    let progressed = false;
    const streams = new Map<string, OutputRecord[]>();
    for (const record of records) {
      if (this.confirmed.has(record.id)) continue;
      const stream = this.streamOf(record);
      const list = streams.get(stream);
      if (list) list.push(record);
      else streams.set(stream, [record]);
    }
    const chunks = [...streams].flatMap(([stream, list]) =>
      bulkChunks(list, this.config.batch.max_events, this.config.batch.max_bytes).map((chunk) => ({ stream, chunk })),
    );
    for (const { stream, chunk } of chunks) {
      const outcome = await this.deliverChunk(stream, chunk, rejected, signal);
      if (outcome === 'progressed') progressed = true;
      else if (outcome !== 'done') {
        if (outcome.status !== 'retry') return outcome;
        // Dead letters found so far are found again on the retry (the same answer for the same document).
        return { ...outcome, progressed: progressed || (outcome.progressed ?? false) };
      }
    }
    for (const record of records) this.confirmed.delete(record.id);
    return rejected.length > 0 ? { status: 'delivered', rejected } : { status: 'delivered' };
  }

  /** The data stream a record goes to. */
  streamOf(record: OutputRecord): string {
    return this.config.data_stream ?? defaultDataStream(record.dataset ?? this.options.dataset);
  }

  /** One bulk body until every item is done or rejected; 'progressed' when something was indexed. */
  private async deliverChunk(
    stream: string,
    chunk: BulkChunk,
    rejected: RejectedRecord[],
    signal: AbortSignal | undefined,
  ): Promise<'done' | 'progressed' | Failure> {
    let pending = chunk;
    let progressed = false;
    for (let attempt = 0; ; attempt++) {
      const answer = await this.send(stream, pending, signal);
      if ('status' in answer) {
        if (answer.status === 'split') {
          // 413: the body is over the cluster's http.max_content_length.
          if (pending.records.length === 1) {
            rejected.push({
              record: pending.records[0] as OutputRecord,
              reason: 'larger than the cluster accepts (413)',
            });
            return progressed ? 'progressed' : 'done';
          }
          const half = Math.ceil(pending.records.length / 2);
          for (const part of [pending.records.slice(0, half), pending.records.slice(half)]) {
            const outcome = await this.deliverChunk(
              stream,
              bulkChunks(part, part.length, Infinity)[0] as BulkChunk,
              rejected,
              signal,
            );
            if (outcome === 'progressed') progressed = true;
            else if (outcome !== 'done') return outcome.status === 'retry' ? { ...outcome, progressed } : outcome;
          }
          return progressed ? 'progressed' : 'done';
        }
        return answer.status === 'retry' ? { ...answer, progressed } : answer;
      }
      const again: OutputRecord[] = [];
      let already = 0;
      let busy = '';
      for (const [i, item] of answer.items.entries()) {
        const record = pending.records[i] as OutputRecord;
        const verdict = itemVerdict(item);
        if (verdict.kind === 'done') {
          progressed = true;
          this.confirmed.add(record.id);
          if (verdict.already) already++;
        } else if (verdict.kind === 'retry') {
          again.push(record);
          busy = verdict.reason;
        } else if (verdict.kind === 'rejected') rejected.push({ record, reason: verdict.reason });
        else
          return { status: 'fatal', error: new Error(`output ${this.name}: Elasticsearch refused: ${verdict.reason}`) };
      }
      if (already > 0) {
        this.options.onAlreadyIndexed?.(already);
        this.options.logger.info(
          `output ${this.name}: ${already} event(s) were in ${stream} already (sent again after a retry or restart; not indexed twice)`,
          { output: this.name },
        );
      }
      if (again.length === 0) return progressed ? 'progressed' : 'done';
      if (attempt >= ITEM_RETRIES || signal?.aborted === true)
        return {
          status: 'retry',
          error: new Error(`output ${this.name}: ${again.length} event(s) not indexed yet (${busy})`),
          progressed,
          busy: true,
        };
      await this.sleep(Math.min(5000, 100 * 2 ** attempt), signal);
      pending = bulkChunks(again, again.length, Infinity)[0] as BulkChunk;
    }
  }

  /** One `_bulk` request: its items, or what the whole request's failure means. */
  private async send(
    stream: string,
    chunk: BulkChunk,
    signal: AbortSignal | undefined,
  ): Promise<{ items: ReturnType<typeof bulkItems> } | Failure | { status: 'split' }> {
    const client = this.client as Client;
    try {
      const response = await client.transport.request(
        { method: 'POST', path: `/${encodeURIComponent(stream)}/_bulk`, bulkBody: chunk.body },
        { maxRetries: 0, ...(signal ? { signal } : {}) },
      );
      return { items: bulkItems(response, chunk.records.length) };
    } catch (error) {
      return this.failure(error, stream);
    }
  }

  private failure(error: unknown, stream: string): Failure | { status: 'split' } {
    const where = `output ${this.name}`;
    if (proxyAuthRefused(error))
      return {
        status: 'fatal',
        error: new Error(
          error instanceof errors.ResponseError
            ? // Over plain http a proxy forwards the request itself, and its refusal is the answer.
              `${where}: the HTTP proxy answered 407: it wants credentials (or refused them): put them in outputs.${this.name}.proxy or HTTP_PROXY (http://user:password@host:port, percent-encoded)`
            : `${where}: ${(error as Error).message}`,
        ),
      };
    if (error instanceof errors.ResponseError) {
      const status = error.statusCode ?? 0;
      const reason = responseReason(error);
      if (status === 413) return { status: 'split' };
      if (status === 401)
        return {
          status: 'fatal',
          error: new Error(
            `${where}: Elasticsearch refused the credentials (401 ${reason}): check api_key or username/password`,
          ),
        };
      if (status === 403)
        return {
          status: 'fatal',
          error: new Error(
            `${where}: not allowed to write (403 ${reason}): give the key or user create_doc on ${stream}`,
          ),
        };
      if (status === 404)
        return {
          status: 'fatal',
          error: new Error(
            `${where}: /${stream}/_bulk answered 404 (${reason}): check url (the Elasticsearch endpoint, not Kibana)`,
          ),
        };
      if (status === 429)
        return { status: 'retry', error: new Error(`${where}: Elasticsearch is busy (429 ${reason})`), busy: true };
      return { status: 'retry', error: new Error(`${where}: Elasticsearch answered ${status} (${reason})`) };
    }
    if (error instanceof errors.ProductNotSupportedError)
      return {
        status: 'fatal',
        error: new Error(
          `${where}: the server at ${esUrls(this.config).join(', ')} is not Elasticsearch (no X-Elastic-Product header): check url`,
        ),
      };
    const message = error instanceof Error ? error.message : String(error);
    const cause = (error as { cause?: unknown } | null)?.cause;
    if (isCertificateError(error) || isCertificateError(cause) || /certificate/i.test(message))
      return {
        status: 'fatal',
        error: new Error(
          `${where}: the server's TLS certificate is not trusted (${message}): set tls.ca_file to the CA that signed it`,
        ),
      };
    return { status: 'retry', error: new Error(`${where}: ${message}`) };
  }
}

function responseReason(error: InstanceType<typeof errors.ResponseError>): string {
  const body = error.body as { error?: { type?: string; reason?: string } | string } | undefined;
  const detail = typeof body?.error === 'string' ? body.error : (body?.error?.reason ?? body?.error?.type);
  return (detail ?? error.message).slice(0, 300);
}
