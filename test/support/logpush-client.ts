/** Posts a gzip'd Logpush batch as Logpush does (the secret as a header); resolves to the HTTP status. */
import { request } from 'node:http';

export function postLogpush(port: number, body: Buffer, secret: string, path = '/logpush/http'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { 'content-encoding': 'gzip', 'content-length': body.length, 'x-logpush-secret': secret },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
