/**
 * Test-only: the servers of the fake internet (fake-internet.ts), run inside its network
 * namespace. HTTP on port 80 of every address answers with the address it was reached on; a
 * directory given as the first argument is served as it is (files, a directory's index.html);
 * a DNS server on port 53 serves the `.test` zone below and remembers every name it was asked,
 * which `GET /dns-log` returns (so a test can show a refused name never left the host). TLS on
 * port 443 of every address (a self-signed certificate the test made) answers with the server
 * name the client sent and the address it was reached on; plain HTTP on port 443 is not served.
 * Port 9 discards what it is sent and, when the sender is done, answers with the byte count.
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { join, normalize } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { type FakeZone, startFakeDns } from './fake-dns.js';

const ZONE: FakeZone = {
  'allowed.test': [
    { name: 'allowed.test', type: 'A', ttl: 60, data: '203.0.113.10' },
    { name: 'allowed.test', type: 'AAAA', ttl: 60, data: '2001:db8::10' },
  ],
  'other.test': [{ name: 'other.test', type: 'A', ttl: 60, data: '203.0.113.20' }],
  // Two names on one (CDN-like) address: allowing one must not open the other.
  'one.shared.test': [{ name: 'one.shared.test', type: 'A', ttl: 60, data: '203.0.113.30' }],
  'two.shared.test': [{ name: 'two.shared.test', type: 'A', ttl: 60, data: '203.0.113.30' }],
  'api.wild.test': [{ name: 'api.wild.test', type: 'A', ttl: 60, data: '203.0.113.20' }],
  'alias.test': [
    { name: 'alias.test', type: 'CNAME', ttl: 60, data: 'cdn.allowed.test' },
    { name: 'cdn.allowed.test', type: 'A', ttl: 60, data: '203.0.113.30' },
    // Slipped in by a hostile upstream: about a name nobody asked for.
    { name: 'other.test', type: 'A', ttl: 60, data: '203.0.113.20' },
  ],
  // DNS rebinding: an allowed name that answers with metadata, loopback and private addresses.
  'rebind.test': [
    { name: 'rebind.test', type: 'A', ttl: 1, data: '169.254.169.254' },
    { name: 'rebind.test', type: 'A', ttl: 1, data: '127.0.0.1' },
    { name: 'rebind.test', type: 'A', ttl: 1, data: '10.0.0.1' },
  ],
};

const dns = await startFakeDns(ZONE, '203.0.113.53', 53);

/** A directory the test filled (argv[2]): its files are served as they are. */
const files = process.argv[2];

function servedFile(url: string): string | undefined {
  if (!files) return undefined;
  const rel = normalize(decodeURIComponent(new URL(url, 'http://x').pathname)).replace(/^[/.]+/, '');
  let file = join(files, rel);
  if (file.startsWith(files) && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  return file.startsWith(files) && existsSync(file) ? file : undefined;
}

const http = createServer((req, res) => {
  if (req.url === '/dns-log') return res.end(JSON.stringify(dns.asked));
  const file = servedFile(req.url ?? '/');
  if (file) {
    if (file.endsWith('.html')) res.setHeader('content-type', 'text/html');
    return void createReadStream(file).pipe(res);
  }
  res.end(`fake-internet ${req.socket.localAddress?.replace('::ffff:', '')}`);
});

const tls = createTlsServer(
  { key: readFileSync(process.env.FAKE_TLS_KEY as string), cert: readFileSync(process.env.FAKE_TLS_CERT as string) },
  (socket) => socket.end(`tls ${socket.servername || '-'} ${socket.localAddress?.replace('::ffff:', '')}\n`),
);
tls.on('tlsClientError', () => {});

const discard = createTcpServer((socket) => {
  let bytes = 0;
  socket.on('data', (d) => {
    bytes += d.length;
  });
  socket.on('end', () => socket.end(String(bytes)));
  socket.on('error', () => {});
});

await new Promise<void>((r) => discard.listen({ port: 9, host: '::', ipv6Only: false }, r));
await new Promise<void>((r) => tls.listen({ port: 443, host: '::', ipv6Only: false }, r));
http.listen({ port: 80, host: '::', ipv6Only: false }, () => process.stdout.write('ready\n'));
