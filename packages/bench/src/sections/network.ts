/**
 * Network postures (issue 13): what a posture costs at create, how fast a sandbox sends to the
 * (fake) internet, and how fast the server's controlled resolver answers, asked from inside a
 * sandbox. The fake internet lives in a network namespace of this run (no packet leaves the
 * machine); the server's resolver forwards to its DNS server (run-bench.ts sets that up).
 * @module
 */
import { type Network, type Sandbox, SandboxServer, Template } from '@mitos/sdk';
import type { FakeInternet } from '@mitos/testkit';
import type { BenchEnv } from '../mitos/bench-env.js';
import { TEMPLATE } from '../mitos/client.js';
import type { Recorder } from '../results.js';
import { single, summarize } from '../stats.js';

export interface NetworkSizes {
  /** Create-to-first-exec pairs (network off, network on), alternated. */
  createRuns: number;
  /** DNS questions timed inside one sandbox (after as many warm-up questions / 10). */
  dnsQueries: number;
  /** MiB sent per throughput run, and runs. */
  sendMiB: number;
  sendRuns: number;
}

// Times `n` A questions for a name over UDP to the sandbox's nameserver; prints the
// milliseconds of each, one per line. Raw packets: the figure is the resolver, not libc.
const DNS_TIMER = `python3 -c '
import socket, struct, sys, time
name, n = sys.argv[1], int(sys.argv[2])
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
out = []
for i in range(n):
    pkt = struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", 1, 1)
    t = time.perf_counter()
    s.sendto(pkt, (ns, 53))
    r = s.recv(512)
    out.append((time.perf_counter() - t) * 1000)
    assert r[3] & 15 == 0 and struct.unpack(">H", r[6:8])[0] > 0, "no answer"
print("\\n".join("%.4f" % x for x in out))
'`;

// Sends MiB megabytes to the fake internet's discard port; prints the seconds it took until
// the far end counted every byte. With a name (argv[3]) an HTTP request head naming it goes
// first, so the allow_domains name check lets the connection through.
const SENDER = `python3 -c '
import socket, sys, time
host, mib = sys.argv[1], int(sys.argv[2])
head = ("POST / HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % sys.argv[3]).encode() if len(sys.argv) > 3 else b""
chunk = b"\\0" * (1 << 20)
s = socket.create_connection((host, 9), timeout=30)
t = time.perf_counter()
s.sendall(head)
for _ in range(mib):
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
got = int(s.recv(64).decode())
elapsed = time.perf_counter() - t
assert got == (mib << 20) + len(head), got
print("%.6f" % elapsed)
'`;

export async function runNetwork(rec: Recorder, env: BenchEnv, inet: FakeInternet, sizes: NetworkSizes): Promise<void> {
  const server = new SandboxServer({ baseUrl: env.url, apiKey: env.apiKey, timeoutMs: 0 });
  await createToFirstExec(rec, server, sizes.createRuns);
  await resolverAnswer(rec, server, sizes.dnsQueries);
  await sendThroughput(rec, server, inet, sizes);
}

/** The python image with egress allow as its own posture: its warm pool is plumbed ahead. */
const NET_TEMPLATE = 'bench-net';

const FIRST_EXEC = {
  off: { label: 'network off (python, posture deny: no link)', template: TEMPLATE, fork: '' },
  pooled: {
    label: 'network on (a template whose posture is egress allow: pooled, plumbed ahead)',
    template: NET_TEMPLATE,
    fork: '',
  },
  at_create: {
    label: 'network on (egress allow given at create: the link is plumbed then)',
    template: TEMPLATE,
    fork: ", { network: { egress: 'allow' } }",
  },
} as const;

async function createToFirstExec(rec: Recorder, server: SandboxServer, runs: number): Promise<void> {
  await new Template().fromImage(TEMPLATE).build(NET_TEMPLATE, { server, network: { egress: 'allow' } });
  const times = { off: [] as number[], pooled: [] as number[], at_create: [] as number[] };
  const kinds = Object.keys(FIRST_EXEC) as Array<keyof typeof FIRST_EXEC>;
  for (let i = 0; i < runs; i++) {
    for (const which of kinds) {
      const { template, fork } = FIRST_EXEC[which];
      const t = performance.now();
      const sb = await server.fork(template, fork ? { network: { egress: 'allow' } } : {});
      await sb.exec('true');
      times[which].push(performance.now() - t);
      await sb.terminate();
    }
  }
  for (const which of kinds) {
    const { label, template, fork } = FIRST_EXEC[which];
    rec.add({
      id: `network.first_exec.${which}`,
      section: 'network',
      subject: 'mitos',
      unit: 'ms',
      label: `create-to-first-exec, ${label}`,
      reproduce: `const sb = await server.fork('${template}'${fork}); await sb.exec('true')`,
      summary: summarize(times[which]),
    });
  }
}

async function withSandbox(server: SandboxServer, network: Network, fn: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = await server.fork(TEMPLATE, { network });
  try {
    await fn(sb);
  } finally {
    await sb.terminate().catch(() => {});
  }
}

async function resolverAnswer(rec: Recorder, server: SandboxServer, queries: number): Promise<void> {
  await withSandbox(server, { allowDomains: ['allowed.test:80'] }, async (sb) => {
    const run = async (n: number) => {
      const r = await sb.exec(`${DNS_TIMER} allowed.test ${n}`);
      if (r.exitCode !== 0) throw new Error(`DNS timer failed: ${r.stderr}`);
      return r.stdout.trim().split('\n').map(Number);
    };
    // The first answer asks the upstream and programs the grant into nftables.
    const [first] = await run(1);
    await run(Math.ceil(queries / 10));
    rec.add({
      id: 'network.dns.first',
      section: 'network',
      subject: 'mitos',
      unit: 'ms',
      label: 'first DNS answer for an allowed name, from inside a sandbox (upstream question + nftables grant)',
      reproduce: 'python3 raw UDP A question to the resolv.conf nameserver, allow_domains allowed.test:80',
      summary: single(first as number),
    });
    rec.add({
      id: 'network.dns.answer',
      section: 'network',
      subject: 'mitos',
      unit: 'ms',
      label: 'DNS answer from the controlled resolver, from inside a sandbox (allowed name, cached, grant live)',
      reproduce: `python3 raw UDP A question x${queries} to the resolv.conf nameserver, allow_domains allowed.test:80`,
      summary: summarize(await run(queries)),
    });
  });
}

async function sendThroughput(
  rec: Recorder,
  server: SandboxServer,
  inet: FakeInternet,
  sizes: NetworkSizes,
): Promise<void> {
  const paths: Array<{ id: string; network: Network; to: string; name: string; how: string }> = [
    { id: 'network.tcp.send', network: { egress: 'allow' }, to: inet.addresses.allowed, name: '', how: 'egress allow' },
    {
      id: 'network.tcp.send_named',
      network: { allowDomains: ['allowed.test:9'] },
      to: 'allowed.test',
      name: 'allowed.test',
      how: 'allow_domains: through the name check in the server process',
    },
  ];
  for (const path of paths) {
    await withSandbox(server, path.network, async (sb) => {
      const gbits: number[] = [];
      for (let i = 0; i < sizes.sendRuns; i++) {
        const r = await sb.exec(`${SENDER} ${path.to} ${sizes.sendMiB} ${path.name}`);
        if (r.exitCode !== 0) throw new Error(`sender failed: ${r.stderr}`);
        gbits.push((sizes.sendMiB * 8 * 2 ** 20) / Number(r.stdout.trim()) / 1e9);
      }
      rec.add({
        id: path.id,
        section: 'network',
        subject: 'mitos',
        unit: 'Gbit/s',
        label: `TCP throughput, sandbox to the fake internet (${path.how}; one connection, ${sizes.sendMiB} MiB per run)`,
        reproduce: `python3 sendall of ${sizes.sendMiB} MiB to ${path.to}:9 (discard, counts bytes) from inside the sandbox`,
        summary: summarize(gbits),
      });
    });
  }
}
