/**
 * Test-only: a fake internet in a network namespace the test makes, reached from the host over
 * a veth pair, so network-posture tests send no packet off this machine. Inside: HTTP servers
 * on 203.0.113.10 (allowed.test), .20 (other.test), .30 (a shared address), a fake metadata
 * service on 169.254.169.254, and 2001:db8::10 for IPv6. Every server answers with the
 * address it was reached on, so a test sees where a connection landed, except for paths
 * found under `files` (a directory the test fills: a package index, say), served as they are.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

export interface FakeInternet {
  /** Host-side address of the link (a host address: sandboxes must not reach it). */
  hostAddress: string;
  addresses: { allowed: string; other: string; shared: string; metadata: string; v6: string };
  stop(): Promise<void>;
}

const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const files = process.argv[1];
const server = http.createServer((req, res) => {
  if (files) {
    const rel = path.normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^[/.]+/, '');
    let file = path.join(files, rel);
    if (file.startsWith(files) && fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (file.startsWith(files) && fs.existsSync(file)) {
      if (file.endsWith('.html')) res.setHeader('content-type', 'text/html');
      return void fs.createReadStream(file).pipe(res);
    }
  }
  res.end('fake-internet ' + req.socket.localAddress.replace('::ffff:', ''));
});
server.listen({ port: 80, host: '::', ipv6Only: false }, () => process.stdout.write('ready\\n'));
`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function startFakeInternet(options: { files?: string } = {}): Promise<FakeInternet> {
  const tag = (process.pid % 100_000).toString(36);
  const ns = `mitos-test-inet-${tag}`;
  const hostIf = `mtinet${tag}`;
  const peer = `mtinetp${tag}`;
  ip('netns', 'add', ns);
  let server: ChildProcess | undefined;
  const stop = async () => {
    if (server?.pid) {
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {}
    }
    try {
      ip('link', 'del', hostIf);
    } catch {}
    try {
      ip('route', 'del', '169.254.169.254/32', 'dev', hostIf);
    } catch {}
    try {
      ip('netns', 'del', ns);
    } catch {}
  };
  try {
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
    ip('addr', 'add', '203.0.113.254/24', 'dev', hostIf);
    ip('addr', 'add', '2001:db8::fe/64', 'dev', hostIf, 'nodad');
    ip('link', 'set', hostIf, 'up');
    ip('route', 'add', '169.254.169.254/32', 'dev', hostIf);
    const inside = (...args: string[]) => ip('-n', ns, ...args);
    inside('link', 'set', 'lo', 'up');
    inside('link', 'set', peer, 'name', 'eth0');
    for (const a of ['203.0.113.10/24', '203.0.113.20/32', '203.0.113.30/32', '203.0.113.53/32', '169.254.169.254/32'])
      inside('addr', 'add', a, 'dev', 'eth0');
    inside('addr', 'add', '2001:db8::10/64', 'dev', 'eth0', 'nodad');
    inside('link', 'set', 'eth0', 'up');
    inside('route', 'add', 'default', 'via', '203.0.113.254');
    inside('route', 'add', 'default', 'via', '2001:db8::fe');
    // nsenter enters the network namespace only: `ip netns exec` would also make a mount
    // namespace, a copy of every mount on the host at that moment (other tests' loop-backed
    // storage included) that keeps their loop devices busy until this server ends.
    const args = [`--net=/run/netns/${ns}`, '--', process.execPath, '-e', SERVER];
    server = spawn('nsenter', [...args, ...(options.files ? [options.files] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      server?.stdout?.once('data', () => resolve());
      server?.once('exit', (code) => reject(new Error(`fake internet server exited ${code}`)));
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    hostAddress: '203.0.113.254',
    addresses: {
      allowed: '203.0.113.10',
      other: '203.0.113.20',
      shared: '203.0.113.30',
      metadata: '169.254.169.254',
      v6: '2001:db8::10',
    },
    stop,
  };
}
