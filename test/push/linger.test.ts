import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterLinger } from '../../src/push/linger.js';

/** Posts `size` bytes; once the connection is closed: the answer's status and text (0 when a reset came first), and the bytes sent. */
function post(port: number, size: number, headers: Record<string, string>) {
  return new Promise<{ status: number; text: string; sent: number }>((resolve, reject) => {
    const answer = { status: 0, text: '', sent: 0 };
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/logpush/http',
        method: 'POST',
        agent: false,
        headers: { 'content-length': String(size), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          answer.status = res.statusCode ?? 0;
          answer.text = Buffer.concat(chunks).toString();
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!/EPIPE|ECONNRESET/.test(error.code ?? '')) reject(error);
    });
    req.on('close', () => resolve({ ...answer, sent: req.socket?.bytesWritten ?? 0 }));
    // In 64 KiB writes as the socket drains, as a client streaming its upload does.
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let left = size;
    const write = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

// That a client still sending reads the answer and not a reset is tested against `run` in another
// process (test/pipeline/push.test.ts, "refuses a wrong secret"): in one process the client always
// read it, with or without the linger.
describe('push/linger: a refused body is drained before the connection closes', () => {
  it('stops reading at its byte limit and cuts the connection (an endless body costs a bounded read)', async () => {
    const drops: number[] = [];
    const server = createServer((req, res) => {
      res.writeHead(413, { 'content-length': '3', connection: 'close' });
      res.write('no\n');
      res.on('finish', () => req.socket.destroy());
      afterLinger(
        req,
        (dropped) => {
          drops.push(dropped);
          res.end();
        },
        { bytes: 2 ** 20, ms: 60_000 },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await post(port, 256 * 2 ** 20, {});
      assert.ok(answer.sent < 64 * 2 ** 20, `the client sent ${answer.sent} bytes before it was cut`);
      assert.equal(drops.length, 1);
      assert.ok((drops[0] ?? 0) > 2 ** 20 && (drops[0] ?? 0) < 2 ** 20 + 2 ** 17, `dropped ${drops[0]}`);
    } finally {
      server.close();
    }
  });
});
