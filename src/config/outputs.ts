/** Output (sink) configuration schemas, one per `type`. */
import { z } from 'zod';
import { boolean, byteSize, duration, httpUrl, integer, nonEmpty, oneOf, outputName, proxySetting } from './primitives.js';
import { facilityCode } from './syslog-codes.js';

const recordFormat = oneOf(['cef', 'json', 'ecs', 'rfc5424', 'rfc3164'] as const);
const messageFormat = oneOf(['cef', 'json', 'ecs'] as const);

/** Options of the syslog header, shared by the syslog output and stdout/file in rfc formats. */
const syslogHeader = {
  facility: facilityCode.optional(),
  app_name: nonEmpty('an app name (printable ASCII, up to 48 characters)').optional(),
  hostname: nonEmpty('a host name (printable ASCII, up to 255 characters)').optional(),
  structured_data: boolean().optional(),
};

const clientTls = {
  ca_file: nonEmpty('a path to a PEM CA bundle').optional(),
  verify: boolean().default(true),
  cert_file: nonEmpty('a path to a PEM client certificate').optional(),
  key_file: nonEmpty('a path to a PEM private key').optional(),
};

function pairedCertKey(tls: { cert_file?: string | undefined; key_file?: string | undefined }, ctx: z.RefinementCtx): void {
  if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    ctx.addIssue({ code: 'custom', path: [tls.cert_file === undefined ? 'cert_file' : 'key_file'], message: 'cert_file and key_file go together: set both for mutual TLS, or neither' });
  }
}

export const stdoutOutput = z.strictObject({
  name: outputName,
  type: z.literal('stdout'),
  format: recordFormat.default('json'),
  ...syslogHeader,
});

export const fileOutput = z.strictObject({
  name: outputName,
  type: z.literal('file'),
  path: nonEmpty('a file path'),
  format: recordFormat.default('json'),
  ...syslogHeader,
});

export const splunkHecOutput = z.strictObject({
  name: outputName,
  type: z.literal('splunk_hec'),
  /** One HEC base URL, or several (indexers, or load balancers) to spread batches over. */
  url: z.union([
    httpUrl('the HEC base URL, e.g. https://splunk.example.com:8088'),
    z.array(httpUrl('an HEC base URL, e.g. https://idx1.example.com:8088')).min(1, { error: 'must list at least one URL' }),
  ]),
  token: nonEmpty('a HEC token (or use token_file)'),
  format: messageFormat.default('json'),
  index: nonEmpty('a Splunk index name').optional(),
  source: nonEmpty('a source name').default('cloudflare:access'),
  sourcetype: nonEmpty('a sourcetype').optional(),
  host: nonEmpty('a host name').optional(),
  gzip: boolean().default(true),
  ack: z
    .union([z.literal('auto'), z.boolean(), z.enum(['true', 'false'])], { error: 'must be auto, true or false' })
    .transform((v) => (v === 'auto' ? 'auto' : v === true || v === 'true'))
    .default('auto'),
  ack_timeout: duration('"5m"', 1000).prefault('5m'),
  ack_poll_interval: duration('"10s"', 100).prefault('10s'),
  channel: z.uuid({ error: 'must be a GUID such as 0d9f6c2e-4b1a-4c55-9d41-8a3e2f1b7c60' }).optional(),
  batch: z
    .strictObject({
      max_events: integer(1, 100_000).default(500),
      max_bytes: byteSize(1024, 100 * 1024 * 1024).default(1024 * 1024),
      max_wait: duration('"1s"').prefault('1s'),
    })
    .prefault({}),
  tls: z.strictObject(clientTls).superRefine(pairedCertKey).prefault({}),
  request_timeout: duration('"30s"', 100).prefault('30s'),
  /** The HTTP proxy to HEC: a URL, or none; absent: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment. */
  proxy: proxySetting().optional(),
});

export const elasticsearchOutput = z
  .strictObject({
    name: outputName,
    type: z.literal('elasticsearch'),
    /** One Elasticsearch URL, or several nodes of the cluster (the client spreads requests). */
    url: z.union([
      httpUrl('an Elasticsearch URL, e.g. https://es.example.com:9200'),
      z.array(httpUrl('an Elasticsearch URL, e.g. https://es1.example.com:9200')).min(1, { error: 'must list at least one URL' }),
    ]),
    /** An API key (the base64 "encoded" form), or username + password. */
    api_key: nonEmpty('an API key (or use api_key_file)').optional(),
    username: nonEmpty('a user name').optional(),
    password: nonEmpty('a password (or use password_file)').optional(),
    /** Default: logs-cloudflare_access.<dataset>-default. */
    data_stream: nonEmpty('a data stream name such as logs-cloudflare_access.access_requests-default').optional(),
    gzip: boolean().default(true),
    batch: z
      .strictObject({
        max_events: integer(1, 100_000).default(1000),
        max_bytes: byteSize(1024, 100 * 1024 * 1024).default(5 * 1024 * 1024),
      })
      .prefault({}),
    /** Bulk requests in flight at once. */
    concurrency: integer(1, 16).default(2),
    tls: z.strictObject(clientTls).superRefine(pairedCertKey).prefault({}),
    request_timeout: duration('"30s"', 100).prefault('30s'),
    /** The HTTP proxy to Elasticsearch: a URL, or none; absent: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment. */
    proxy: proxySetting().optional(),
  })
  .superRefine((out, ctx) => {
    if (out.api_key !== undefined && (out.username !== undefined || out.password !== undefined))
      ctx.addIssue({ code: 'custom', path: ['api_key'], message: 'set either api_key or username + password, not both' });
    if ((out.username === undefined) !== (out.password === undefined))
      ctx.addIssue({ code: 'custom', path: [out.username === undefined ? 'username' : 'password'], message: 'username and password go together' });
    if (out.data_stream !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(out.data_stream))
      ctx.addIssue({ code: 'custom', path: ['data_stream'], message: 'must be a data stream name: lower case letters, digits, ".", "_" and "-", such as logs-cloudflare_access.access_requests-default' });
  });

export const syslogOutput = z
  .strictObject({
    name: outputName,
    type: z.literal('syslog'),
    host: nonEmpty('a host name or IP address'),
    port: integer(1, 65535).optional(),
    transport: oneOf(['udp', 'tcp', 'tls', 'relp'] as const).default('tcp'),
    framing: oneOf(['octet-counting', 'lf'] as const).optional(),
    rfc: z
      .union([z.literal(5424), z.literal(3164), z.enum(['5424', '3164'])], { error: 'must be 5424 or 3164' })
      .transform((v) => (Number(v) === 3164 ? 3164 : 5424))
      .default(5424),
    format: messageFormat.default('cef'),
    ...syslogHeader,
    max_message_bytes: byteSize(480, 1024 * 1024).optional(),
    tls: z
      .strictObject({ ...clientTls, servername: nonEmpty('the server name to verify').optional() })
      .superRefine(pairedCertKey)
      .prefault({}),
    connect_timeout: duration('"10s"', 100).prefault('10s'),
    /** A write the peer does not take within this long (it stopped reading) fails and is retried. */
    write_timeout: duration('"30s"', 100).prefault('30s'),
    /** Everything written within this long before a drop is sent again (it may sit unread in kernel buffers). */
    resend_window: duration('"10s"').prefault('10s'),
    queue_size: integer(1, 1_000_000).default(10_000),
  })
  .superRefine((out, ctx) => {
    if (out.framing === 'lf' && out.transport === 'tls') {
      ctx.addIssue({ code: 'custom', path: ['framing'], message: 'RFC 5425 (syslog over TLS) requires octet-counting framing; remove framing or use transport tcp' });
    }
    if (out.transport === 'udp' && out.max_message_bytes !== undefined && out.max_message_bytes > 65507) {
      ctx.addIssue({ code: 'custom', path: ['max_message_bytes'], message: 'must be at most 65507 for udp (the largest UDP datagram); one message is never split across datagrams' });
    }
    if (out.framing !== undefined && out.transport === 'relp') {
      ctx.addIssue({ code: 'custom', path: ['framing'], message: 'RELP frames every message itself: remove framing' });
    }
    if (out.framing !== undefined && out.transport === 'udp') {
      ctx.addIssue({ code: 'custom', path: ['framing'], message: 'framing applies to tcp and tls only: a UDP datagram is one message' });
    }
  });

export const output = z.discriminatedUnion('type', [stdoutOutput, fileOutput, splunkHecOutput, elasticsearchOutput, syslogOutput], {
  error: 'must have a type of stdout, file, splunk_hec, elasticsearch or syslog',
});

export type OutputConfig = z.output<typeof output>;
export type StdoutOutputConfig = z.output<typeof stdoutOutput>;
export type FileOutputConfig = z.output<typeof fileOutput>;
export type SplunkHecOutputConfig = z.output<typeof splunkHecOutput>;
export type SyslogOutputConfig = z.output<typeof syslogOutput>;
export type ElasticsearchOutputConfig = z.output<typeof elasticsearchOutput>;
