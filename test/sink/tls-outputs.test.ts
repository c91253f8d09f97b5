import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { splunkHecOutput, syslogOutput } from '../../src/config/outputs.js';
import { createLogger } from '../../src/ops/logger.js';
import { SplunkHecSink } from '../../src/sink/splunk-hec.js';
import { accessSyslogFields } from '../../src/datasets/access-requests/syslog.js';
import { SyslogSink } from '../../src/sink/syslog.js';
import type { OutputRecord } from '../../src/sink/types.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { tempDir } from '../support/harness.js';
import { makePki, type TestPki } from '../support/tls-certs.js';
import { ACCOUNT, ALLOWED_LOGIN } from '../support/sample-events.js';

const record: OutputRecord = {
  text: JSON.stringify(ALLOWED_LOGIN),
  event: ALLOWED_LOGIN,
  epochMs: 1714557600123,
  accountId: ACCOUNT,
  id: 'tls-record',
};

describe('TLS of the network outputs', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let logs: string;
  const logger = () => {
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => (logs += d.toString()));
    return createLogger({ level: 'debug', format: 'text', stream });
  };
  before(() => {
    pki = makePki(tempDir('tls-'));
  });
  beforeEach(() => {
    logs = '';
  });

  it('HEC over https: verified with tls.ca_file, with a client certificate (mutual TLS); refused without the CA', async () => {
    const hec = await new HecSimulator({
      tls: { key: pki.read(pki.serverKey), cert: pki.read(pki.serverCert), clientCa: pki.read(pki.caCert) },
    }).start();
    try {
      const base = { name: 'splunk', type: 'splunk_hec', url: hec.url, token: hec.token };
      const trusted = new SplunkHecSink(
        'splunk',
        splunkHecOutput.parse({
          ...base,
          tls: { ca_file: pki.caCert, cert_file: pki.clientCert, key_file: pki.clientKey },
        }),
        { logger: logger() },
      );
      await trusted.open();
      assert.deepEqual(await trusted.deliver([record]), { status: 'delivered' });
      assert.equal(hec.events.length, 1);
      const noClientCert = new SplunkHecSink(
        'splunk',
        splunkHecOutput.parse({ ...base, tls: { ca_file: pki.caCert } }),
        { logger: logger() },
      );
      await noClientCert.open();
      assert.equal((await noClientCert.deliver([record])).status, 'retry', 'the server demands a client certificate');
      const untrusted = new SplunkHecSink('splunk', splunkHecOutput.parse(base), { logger: logger() });
      await untrusted.open();
      const refused = await untrusted.deliver([record]);
      assert.equal(refused.status, 'fatal', 'an untrusted certificate stops the output');
      assert.match(
        'error' in refused ? refused.error.message : '',
        /not trusted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE).*set outputs\.splunk\.tls\.ca_file/,
      );
      assert.equal(hec.events.length, 1, 'nothing sent without verification');
      for (const sink of [trusted, noClientCert, untrusted]) await sink.close();
    } finally {
      await hec.stop();
    }
  });

  it('HEC with tls.verify false works but warns loudly at start', async () => {
    const hec = await new HecSimulator({
      tls: { key: pki.read(pki.selfSignedKey), cert: pki.read(pki.selfSignedCert) },
    }).start();
    try {
      const sink = new SplunkHecSink(
        'splunk',
        splunkHecOutput.parse({
          name: 'splunk',
          type: 'splunk_hec',
          url: hec.url,
          token: hec.token,
          tls: { verify: false },
        }),
        { logger: logger() },
      );
      await sink.open();
      assert.match(logs, /warn output splunk: TLS certificate verification is OFF/);
      assert.deepEqual(await sink.deliver([record]), { status: 'delivered' });
      await sink.close();
    } finally {
      await hec.stop();
    }
  });

  it('syslog over TLS with a client certificate: the server sees our certificate; without it the handshake fails', async () => {
    const peers: string[] = [];
    const received: string[] = [];
    const server = createTlsServer(
      {
        key: pki.read(pki.serverKey),
        cert: pki.read(pki.serverCert),
        ca: pki.read(pki.caCert),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket: TLSSocket) => {
        peers.push(String(socket.getPeerCertificate().subject.CN));
        socket.on('data', (d: Buffer) => received.push(d.toString()));
      },
    );
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const syslogOptions = {
      facility: 16,
      severity: { allowed: 6, denied: 4 },
      appName: 'cf-access',
      hostname: 'h',
      procId: '1',
      structuredData: false,
    };
    try {
      const base = { name: 'siem', type: 'syslog', host: '127.0.0.1', port, transport: 'tls', format: 'json' };
      const mutual = new SyslogSink(
        'siem',
        syslogOutput.parse({
          ...base,
          tls: { ca_file: pki.caCert, cert_file: pki.clientCert, key_file: pki.clientKey },
        }),
        { logger: logger(), syslog: syslogOptions, fields: accessSyslogFields },
      );
      await mutual.open();
      assert.deepEqual(await mutual.deliver([record]), { status: 'delivered' });
      await mutual.close();
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(peers, ['cf-access-shipper']);
      assert.match(received.join(''), /^\d+ <134>1 2024-05-01T10:00:00\.123456Z h cf-access 1 login - \{"user_email"/);
      const anonymous = new SyslogSink('siem', syslogOutput.parse({ ...base, tls: { ca_file: pki.caCert } }), {
        logger: logger(),
        syslog: syslogOptions,
        fields: accessSyslogFields,
      });
      await anonymous.open();
      const refused = await anonymous.deliver([record]);
      assert.notEqual(refused.status, 'delivered');
      await anonymous.close();
    } finally {
      server.close();
    }
  });
});
