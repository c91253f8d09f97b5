import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hecBase, hecRequest, keepAliveAgents } from '../../src/sink/hec-http.js';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('sink/hec-http', () => {
  const endpoint = (port: number, timeoutMs = 2000) => ({
    base: `http://127.0.0.1:${port}`,
    token: 't0k',
    channel: '11111111-2222-5333-8444-555555555555',
    timeoutMs,
    verify: true,
    tls: {},
  });

  it('sends the token, channel, body and extra headers; returns status, headers and body text', async () => {
    let seen: { method?: string; url?: string; headers: Record<string, unknown>; body: string } = {
      headers: {},
      body: '',
    };
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() };
        res.writeHead(503, { 'retry-after': '7', 'content-type': 'application/json' });
        res.end('{"text":"Server is busy","code":9}');
      });
    });
    const port = await listen(server);
    const agents = keepAliveAgents(2);
    try {
      const response = await hecRequest(
        { ...endpoint(port), agents },
        '/services/collector/event',
        'POST',
        Buffer.from('{"event":"é"}'),
        { 'content-encoding': 'gzip' },
      );
      assert.equal(response.statusCode, 503);
      assert.equal(response.headers['retry-after'], '7');
      assert.equal(response.body, '{"text":"Server is busy","code":9}');
      assert.equal(seen.method, 'POST');
      assert.equal(seen.url, '/services/collector/event');
      assert.equal(seen.headers.authorization, 'Splunk t0k');
      assert.equal(seen.headers['x-splunk-request-channel'], '11111111-2222-5333-8444-555555555555');
      assert.equal(seen.headers['content-encoding'], 'gzip');
      assert.equal(seen.headers['content-length'], String(Buffer.byteLength('{"event":"é"}')));
      assert.equal(seen.body, '{"event":"é"}');
    } finally {
      agents.http.destroy();
      server.close();
    }
  });

  it('gives up after request_timeout with ETIMEDOUT, and passes connection errors with their code', async () => {
    const server = createServer(() => undefined); // never answers
    const port = await listen(server);
    try {
      await assert.rejects(
        hecRequest(endpoint(port, 200), '/services/collector/health', 'GET'),
        (error: NodeJS.ErrnoException) => {
          assert.equal(error.code, 'ETIMEDOUT');
          assert.match(error.message, /within 200 ms \(request_timeout\)/);
          return true;
        },
      );
    } finally {
      server.closeAllConnections();
      server.close();
    }
    await assert.rejects(hecRequest(endpoint(port), '/services/collector/health', 'GET'), { code: 'ECONNREFUSED' });
  });

  it('normalizes the base URL', () => {
    assert.equal(hecBase('https://splunk:8088/'), 'https://splunk:8088');
    assert.equal(hecBase('https://splunk:8088/services/collector/event'), 'https://splunk:8088');
    assert.equal(hecBase('http://[::1]:8088/services/collector'), 'http://[::1]:8088');
  });
});
