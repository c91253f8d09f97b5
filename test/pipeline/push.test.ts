/**
 * The Logpush receiver of `run`, driven as Logpush drives it: gzip'd NDJSON POSTs with the shared
 * secret in a header, into a HEC simulator (acks) and a file output. Every event exactly once,
 * including a batch pushed twice and a batch pushed while HEC is down (503, then 200 after it is
 * back); the validation upload; a wrong secret; a gzip bomb; a body over max_body; too many pushes
 * at once; lines that are not events.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type IncomingMessage, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TLSSocket } from 'node:tls';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';
import { sharedAccessIdentity } from '../../src/datasets/access-requests/identity.js';
import { PUSHED_FIELDS } from '../../src/datasets/access-requests/pushed.js';
import { collect, runCli, spawnCli } from '../support/cli.js';
import { ACCOUNT_A, readLines, tempDir, waitFor, writeConfig } from '../support/harness.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { freePort, Rsyslog } from '../support/rsyslog.js';
import { parseCef } from '../support/cef-parser.js';
import { makePki } from '../support/tls-certs.js';

const SECRET = 'push-secret-0123456789abcdef';

function post(
  port: number,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
  tls?: { ca: Buffer },
): Promise<{ status: number; text: string; fingerprint?: string }> {
  return new Promise((resolve, reject) => {
    const options = {
      host: '127.0.0.1',
      port,
      path,
      method: 'POST',
      headers: { 'content-length': body.length, ...headers },
      agent: false as const,
    };
    const onResponse = (res: IncomingMessage): void => {
      const fingerprint = res.socket instanceof TLSSocket ? res.socket.getPeerCertificate().fingerprint256 : undefined;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString(),
          ...(fingerprint ? { fingerprint } : {}),
        }),
      );
    };
    const req = tls ? httpsRequest({ ...options, ca: tls.ca }, onResponse) : request(options, onResponse);
    // A refused body may be cut while it is still being sent: the answer was read, or it is a reset.
    req.on('error', (error) =>
      /EPIPE|ECONNRESET/.test((error as NodeJS.ErrnoException).code ?? '')
        ? resolve({ status: 0, text: String(error) })
        : reject(error),
    );
    req.end(body);
  });
}

const FORMATS = [
  '1714557600123456789',
  1714557600,
  '2024-05-01T10:00:00Z',
  '2024-05-01T10:00:00.123Z',
  '2024-05-01T10:00:00.123456789Z',
];

/** `n` http_requests records as Logpush writes them, the timestamp formats taking turns. */
function httpRecords(n: number, tag: string): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    ClientIP: `203.0.113.${i % 250}`,
    ClientRequestHost: 'wiki.example.com',
    ClientRequestMethod: i % 7 === 0 ? 'POST' : 'GET',
    ClientRequestURI: `/page/${tag}/${i}`,
    ClientRequestUserAgent: 'Mozilla/5.0',
    EdgeStartTimestamp: FORMATS[i % FORMATS.length],
    EdgeResponseStatus: i % 10 === 0 ? 403 : 200,
    EdgeResponseBytes: 1000 + i,
    RayID: `${tag}${i.toString(16).padStart(8, '0')}`,
    RequestHeaders: { 'cf-access-user': `user${i % 50}@example.com` },
  }));
}
/** A polled event as Logpush's access_requests writes it: PascalCase, no app_name/app_type, the time in turns of format. */
function asLogpush(event: AccessEvent, i: number): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  const pascal = Object.fromEntries(Object.entries(PUSHED_FIELDS).map(([p, a]) => [a, p]));
  for (const [field, value] of Object.entries(event)) {
    const name = pascal[field];
    if (name === undefined) continue; // app_name, app_type: not in the Logpush dataset
    record[name] = value;
  }
  const ms = Date.parse(String(event.created_at));
  const seconds = Math.floor(ms / 1000);
  record.CreatedAt = [
    new Date(seconds * 1000).toISOString().replace('.000Z', 'Z'), // rfc3339
    seconds, // unix
    `${String(event.created_at).replace(/Z$/, '').padEnd(29, '0').replace(/\.?$/, '')}Z`, // rfc3339ns
    new Date(ms).toISOString(), // rfc3339ms
  ][i % 4];
  return record;
}
const ndjson = (records: readonly unknown[]) => gzipSync(records.map((r) => JSON.stringify(r)).join('\n') + '\n');

describe('Logpush receiver in `run`', function () {
  this.timeout(180_000);
  let api: AccessApiSimulator;
  let hec: HecSimulator;
  let child: ChildProcess | undefined;
  let done: ReturnType<typeof collect> | undefined;
  let dir: string;
  let port: number;
  let stderr = '';
  const headers = { 'content-encoding': 'gzip', 'x-logpush-secret': SECRET, 'content-type': 'application/x-ndjson' };

  async function start(extraPush = '', outputs?: string, pollExtra?: string, seed?: () => void): Promise<void> {
    api = await new AccessApiSimulator().start();
    seed?.();
    hec = await new HecSimulator({ ack: true, ackDelayMs: 20 }).start();
    dir = tempDir('push-');
    port = await freePort();
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      statePath: join(dir, 'state.json'),
      ...(pollExtra === undefined ? {} : { pollExtra }),
      outputs:
        outputs ??
        [
          `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", format: json, ack: true, ack_poll_interval: 100ms }`,
          `  - { name: archive, type: file, path: "${join(dir, 'out.ndjson')}", format: json }`,
        ].join('\n'),
      extra: `metrics: { listen: "127.0.0.1:0" }\npush:\n  listen: 127.0.0.1:${port}\n  max_body: 1MiB\n  slice_events: 500\n${extraPush}  endpoints:\n    - { name: http, dataset: http_requests, secret: ${SECRET} }\n    - { name: access, dataset: access_requests, secret: ${SECRET}, account_id: 0123456789abcdef0123456789abcdef }\n`,
    });
    child = spawnCli(['run', '--config', config]);
    done = collect(child, { timeoutMs: 170_000 });
    stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => stderr.includes('Logpush receiver on'), 30_000);
  }

  afterEach(async () => {
    child?.kill('SIGTERM');
    const result = await done;
    child = undefined;
    await api.stop();
    await hec.stop();
    assert.equal(result?.code, 0, result?.stderr.slice(-2000));
  });

  const scrape = async (): Promise<string> => {
    const metricsPort = /metrics and health on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1];
    return (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  };
  const indexed = () => hec.events.map((e) => e.event as { RayID?: string; ray_id?: string });
  const archived = () => (existsSync(join(dir, 'out.ndjson')) ? readLines(join(dir, 'out.ndjson')) : []);

  it('ships every event once to every output; the same batch again is dropped; the validation upload ships nothing', async () => {
    await start();
    assert.equal((await post(port, '/logpush/http', gzipSync('{"content":"tests"}'), headers)).status, 200);
    assert.equal((await post(port, '/logpush/http', Buffer.from('test'), { 'x-logpush-secret': SECRET })).status, 200);
    const batch = ndjson(httpRecords(2000, 'a'));
    const first = await post(port, '/logpush/http', batch, headers);
    assert.equal(first.status, 200, first.text);
    const again = await post(port, '/logpush/http', batch, headers);
    assert.equal(again.status, 200, again.text);
    const rays = indexed().map((e) => e.RayID);
    console.log(
      `      pushed 2,000 twice: indexed ${rays.length} (${new Set(rays).size} distinct), archived ${archived().length}; sourcetype ${hec.events[0]?.sourcetype}`,
    );
    assert.equal(rays.length, 2000);
    assert.equal(new Set(rays).size, 2000);
    assert.equal(archived().length, 2000);
    assert.equal(hec.events[0]?.sourcetype, 'cf_access_shipper:http_requests:json');
    // A pushed access_requests record lands in the polled shape.
    const access = {
      Action: 'login',
      Allowed: true,
      CreatedAt: 1714557600,
      Email: 'alice@example.com',
      RayID: 'acc1',
      AppDomain: 'wiki.example.com',
    };
    assert.equal((await post(port, '/logpush/access', ndjson([access]), headers)).status, 200);
    const last = hec.events.at(-1);
    assert.deepEqual(last?.event, {
      action: 'login',
      allowed: true,
      created_at: '2024-05-01T10:00:00Z',
      user_email: 'alice@example.com',
      ray_id: 'acc1',
      app_domain: 'wiki.example.com',
      account_id: '0123456789abcdef0123456789abcdef',
    });
    assert.equal(last.sourcetype, 'cf_access_shipper:access_requests:json');
    const metrics = await scrape();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(metrics)?.[1]);
    assert.equal(value('cfas_push_requests_total{endpoint="http",status="200"}'), 4, 'two validations, two pushes');
    assert.equal(value('cfas_push_events_total{endpoint="http",output="splunk",result="shipped"}'), 2000);
    assert.equal(value('cfas_push_events_total{endpoint="http",output="archive",result="duplicate"}'), 2000);
    assert.equal(value('cfas_push_requests_total{endpoint="access",status="200"}'), 1);
  });

  it('HEC down: 503 to the pusher; after it is back the same batch gets 200, and no output holds an event twice', async () => {
    await start();
    const hecPort = hec.port;
    await hec.outage();
    const batch = ndjson(httpRecords(1500, 'b'));
    const down = await post(port, '/logpush/http', batch, headers);
    assert.equal(down.status, 503, down.text);
    await hec.start(hecPort);
    const up = await post(port, '/logpush/http', batch, headers);
    assert.equal(up.status, 200, up.text);
    const rays = indexed().map((e) => e.RayID);
    const files = archived();
    console.log(
      `      1,500 pushed while HEC was down (503), then again (200): indexed ${rays.length}, distinct ${new Set(rays).size}; archived ${files.length}`,
    );
    assert.equal(rays.length, 1500);
    assert.equal(new Set(rays).size, 1500);
    assert.equal(files.length, 1500, 'the file had it from the first push; the retry was dropped for it');
  });

  it('poll and push of one account side by side: each Access event once per output, whichever came first', async () => {
    const now = Date.now();
    const polledFirst = spreadEvents(300, now - 30 * 60_000, now - 20 * 60_000, 41);
    await start('', undefined, '  schedule: "* * * * * *"', () => api.addEvents(ACCOUNT_A, polledFirst));
    // Until the poll has confirmed them at both outputs (HEC's acks, too): only confirmed events
    // enter the shared windows, so a push racing the ack would ship them again (arrivals.ts).
    const confirmed = async (output: string): Promise<number> =>
      [
        ...(await scrape()).matchAll(
          new RegExp(`^cfas_events_shipped_total\\{[^}]*output="${output}"[^}]*\\} (\\d+)`, 'gm'),
        ),
      ]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    const deadline = Date.now() + 30_000;
    while ((await confirmed('splunk')) < 300 || (await confirmed('archive')) < 300) {
      assert.ok(Date.now() < deadline, 'the poll confirmed the first 300 events in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Polled first, pushed after: the receiver must drop them.
    assert.equal((await post(port, '/logpush/access', ndjson(polledFirst.map(asLogpush)), headers)).status, 200);
    // Pushed first (their times a little ahead), shown by the API after: the poll must skip them.
    const t = Date.now();
    const pushedFirst = spreadEvents(300, t + 1000, t + 4000, 42);
    assert.equal((await post(port, '/logpush/access', ndjson(pushedFirst.map(asLogpush)), headers)).status, 200);
    const servedBefore = api.requests.reduce((n, r) => n + r.rows, 0);
    api.addEvents(ACCOUNT_A, pushedFirst);
    // Past settle (1 s) and the API's whole-second clock, then a few more polls.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, t + 4000 - Date.now()) + 6000));
    const servedAfter = api.requests.reduce((n, r) => n + r.rows, 0);
    const expected = new Set([...polledFirst, ...pushedFirst].map((e) => sharedAccessIdentity(e)));
    const keys = (events: readonly Record<string, unknown>[]) =>
      events.map(({ account_id: _, ...event }) => sharedAccessIdentity(event));
    const inHec = keys(hec.events.map((e) => e.event as Record<string, unknown>));
    const inFile = keys(archived().map((l) => JSON.parse(l) as Record<string, unknown>));
    console.log(
      `      300 polled then pushed, 300 pushed then polled (the poll read ${servedAfter - servedBefore} rows after): HEC ${inHec.length} (${new Set(inHec).size} distinct), file ${inFile.length} (${new Set(inFile).size} distinct)`,
    );
    assert.ok(servedAfter - servedBefore >= 300, 'the poll read the pushed events');
    for (const [name, got] of [
      ['HEC', inHec],
      ['file', inFile],
    ] as const) {
      assert.equal(got.length, 600, `${name}: each event once`);
      assert.deepEqual(new Set(got), expected, `${name}: every event`);
    }
    const validate = await runCli(['validate', '--config', join(dir, 'config.yaml')]);
    assert.match(validate.stdout, /push endpoint access: account 0123456789abcdef0123456789abcdef is also polled/);
  });

  it('refuses a wrong secret (401), a bomb and a body over max_body (413), bad gzip (400); dead-letters lines that are not events', async () => {
    await start();
    const body = ndjson(httpRecords(10, 'c'));
    assert.equal((await post(port, '/logpush/http', body, { ...headers, 'x-logpush-secret': 'wrong' })).status, 401);
    const { 'x-logpush-secret': _, ...noSecret } = headers;
    assert.equal((await post(port, '/logpush/http', body, noSecret)).status, 401);
    assert.equal((await post(port, '/logpush/nothing', body, headers)).status, 404);
    // A body still arriving when the refusal is sent: the client reads the refusal, not a reset (linger.ts).
    const large = Buffer.alloc(4 * 2 ** 20, '\n');
    assert.equal((await post(port, '/logpush/http', large, { ...headers, 'x-logpush-secret': 'wrong' })).status, 401);
    assert.equal(
      (await post(port, '/logpush/http', gzipSync(Buffer.alloc(64 * 2 ** 20, '\n')), headers)).status,
      413,
      'bomb',
    );
    assert.equal(
      (await post(port, '/logpush/http', Buffer.alloc(2 * 2 ** 20, 'x'), { 'x-logpush-secret': SECRET })).status,
      413,
      'max_body',
    );
    assert.equal((await post(port, '/logpush/http', Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]), headers)).status, 400);
    assert.equal(hec.events.length, 0);
    const mixed = gzipSync(
      [
        '{"RayID":"g1","EdgeStartTimestamp":1714557600}',
        '{not json',
        '[1,2]',
        '{"RayID":"g2"}',
        '{"RayID":"g3","EdgeStartTimestamp":"2024-05-01T10:00:00Z"}',
      ].join('\n'),
    );
    const answer = await post(port, '/logpush/http', mixed, headers);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(
      indexed().map((e) => e.RayID),
      ['g1', 'g3'],
    );
    const dead = readLines(join(dir, 'dead-letter', 'push-http.ndjson')).map(
      (l) => JSON.parse(l) as { line: number; reason: string },
    );
    assert.deepEqual(
      dead.map((d) => [d.line, d.reason.split(' (')[0]]),
      [
        [2, 'not JSON'],
        [3, 'not a JSON object'],
        [4, 'no readable time'],
      ],
    );
    const metrics = await scrape();
    assert.match(metrics, /^cfas_push_requests_total\{endpoint="http",status="401"\} 3$/m);
    assert.match(metrics, /^cfas_push_requests_total\{endpoint="http",status="413"\} 2$/m);
    assert.match(metrics, /^cfas_push_requests_total\{endpoint="http",status="400"\} 1$/m);
    assert.match(metrics, /^cfas_push_bad_lines_total\{endpoint="http"\} 3$/m);
  });

  it('more pushes at once than max_concurrent: 429 with Retry-After, and the first is still shipped', async () => {
    await start('  max_concurrent: 1\n');
    hec.faults.push({ kind: 'delay', ms: 1500 });
    const slow = post(port, '/logpush/http', ndjson(httpRecords(20, 'd')), headers);
    await new Promise((r) => setTimeout(r, 300));
    const busy = await post(port, '/logpush/http', ndjson(httpRecords(20, 'e')), headers);
    assert.equal(busy.status, 429, busy.text);
    assert.equal((await slow).status, 200);
    assert.deepEqual([...new Set(indexed().map((e) => e.RayID?.slice(0, 1)))], ['d']);
  });
  it('over https (push.tls) into a real rsyslogd: each event once, the cfhttp SD; SIGHUP takes a renewed certificate', async () => {
    const pki = makePki(tempDir('push-tls-'));
    const certDir = tempDir('push-cert-');
    copyFileSync(pki.serverCert, join(certDir, 'cert.pem'));
    copyFileSync(pki.serverKey, join(certDir, 'key.pem'));
    const rsyslog = await new Rsyslog(tempDir('push-rsyslog-'), {
      ca: pki.caCert,
      cert: pki.serverCert,
      key: pki.serverKey,
    }).start();
    try {
      await start(
        `  tls: { cert_file: "${join(certDir, 'cert.pem')}", key_file: "${join(certDir, 'key.pem')}" }\n`,
        `  - { name: siem, type: syslog, host: 127.0.0.1, port: ${rsyslog.tcpPort}, transport: tcp, format: cef, structured_data: true }`,
      );
      const ca = { ca: pki.read(pki.caCert) };
      const records = httpRecords(300, 'f');
      const first = await post(port, '/logpush/http', ndjson(records), headers, ca);
      assert.equal(first.status, 200, first.text);
      const received = await rsyslog.waitFor(300);
      const ids = received.map((r) => new Map(parseCef(r.msg).extension).get('externalId'));
      console.log(
        `      300 pushed over https: rsyslogd parsed ${received.length} records, ${new Set(ids).size} distinct`,
      );
      assert.equal(new Set(ids).size, 300);
      assert.ok(
        received.every((r) => r.sd.startsWith('[cfhttp@32473 RayID=')),
        received[0]?.sd,
      );
      assert.ok(received.every((r) => r.msg.startsWith('CEF:0|Cloudflare|HTTP|')));
      // Renewed certificate (here: the self-signed one) in place, then SIGHUP: new connections get it.
      copyFileSync(pki.selfSignedCert, join(certDir, 'cert.pem'));
      copyFileSync(pki.selfSignedKey, join(certDir, 'key.pem'));
      child?.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 500));
      const renewed = await post(port, '/logpush/http', gzipSync('{"content":"tests"}'), headers, {
        ca: pki.read(pki.selfSignedCert),
      });
      assert.equal(renewed.status, 200);
      assert.notEqual(renewed.fingerprint, first.fingerprint);
    } finally {
      await rsyslog.stop();
    }
  });
});
