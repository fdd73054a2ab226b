/** A GET to our server with a chosen Host header (what a DNS wildcard for the E2B domain would give). */
import { request } from 'node:http';

export function getViaHost(serverUrl: string, host: string, path = '/'): Promise<{ status: number; body: string }> {
  const url = new URL(serverUrl);
  return new Promise((resolve, reject) => {
    const req = request({ hostname: url.hostname, port: url.port, path, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
