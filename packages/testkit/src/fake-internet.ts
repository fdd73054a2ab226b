/**
 * Test-only: a fake internet in a network namespace the test makes, reached from the host over
 * a veth pair, so network-posture tests send no packet off this machine. Inside: HTTP servers
 * (port 80) and TLS (port 443) on 203.0.113.10 (allowed.test), .20 (other.test), .30 (a shared
 * address: one.shared.test and two.shared.test), a fake metadata
 * service on 169.254.169.254, and 2001:db8::10 for IPv6; a DNS server for the `.test` zone on
 * 203.0.113.53 (fake-internet-server.ts). Every server answers with the address it was reached
 * on, so a test sees where a connection landed, except for paths found under `files` (a
 * directory the test fills: a package index, say), served as they are.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FakeInternet {
  /** Host-side address of the link (a host address: sandboxes must not reach it). */
  hostAddress: string;
  addresses: { allowed: string; other: string; shared: string; metadata: string; v6: string };
  /** The fake internet's DNS server (an upstream for the server's resolver). */
  dns: { host: string; port: number };
  /** Every name its DNS server was asked so far. */
  dnsLog(): Promise<string[]>;
  stop(): Promise<void>;
}

const SERVER = fileURLToPath(new URL('./fake-internet-server.js', import.meta.url));

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * The fake internet's addresses are fixed (203.0.113.0/24, a host route to 169.254.169.254),
 * so two test processes (test files run in parallel, other checkouts on this host) take turns:
 * a lock directory holding the owner's pid, taken over when that process is gone.
 */
const LOCK = '/tmp/mitos-test-fake-internet.lock';

async function takeLock(deadlineMs = 15 * 60_000): Promise<() => void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(`${LOCK}/pid`, String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(`${LOCK}/pid`, 'utf8'));
    } catch {
      // Just made, pid not written yet: wait.
    }
    if (owner > 0 && !alive(owner)) {
      rmSync(LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the fake internet stayed in use by pid ${owner}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startFakeInternet(options: { files?: string } = {}): Promise<FakeInternet> {
  const release = await takeLock();
  const tag = (process.pid % 100_000).toString(36);
  const ns = `mitos-test-inet-${tag}`;
  const hostIf = `mtinet${tag}`;
  const peer = `mtinetp${tag}`;
  ip('netns', 'add', ns);
  let server: ChildProcess | undefined;
  const tlsDir = mkdtempSync(join(tmpdir(), 'mitos-test-inet-tls-'));
  const stop = async () => {
    rmSync(tlsDir, { recursive: true, force: true });
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
    release();
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
    const args = [`--net=/run/netns/${ns}`, '--', process.execPath, SERVER];
    // One self-signed certificate for every name: clients in tests check names, not trust.
    const [key, cert] = [join(tlsDir, 'key.pem'), join(tlsDir, 'cert.pem')];
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
    const subject = ['-subj', '/CN=fake-internet.test'];
    execFileSync('openssl', ['req', '-x509', ...ec, ...subject, '-keyout', key, '-out', cert], { stdio: 'ignore' });
    server = spawn('nsenter', [...args, ...(options.files ? [options.files] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FAKE_TLS_KEY: key, FAKE_TLS_CERT: cert },
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
    dns: { host: '203.0.113.53', port: 53 },
    dnsLog: () =>
      new Promise<string[]>((resolve, reject) => {
        const req = get({ host: '203.0.113.10', path: '/dns-log', agent: false, timeout: 5000 }, (res) => {
          let body = '';
          res.on('data', (d) => {
            body += d;
          });
          res.on('end', () => resolve(JSON.parse(body) as string[]));
        });
        req.on('timeout', () => req.destroy(new Error('fake internet did not answer /dns-log')));
        req.on('error', reject);
      }),
    stop,
  };
}
