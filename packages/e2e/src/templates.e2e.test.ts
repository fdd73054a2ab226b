import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SandboxServer, Template, type TemplateBuildOptions } from '@mitos/sdk';
import { type LiveServer, liveServer, runCli } from './fixtures.js';

const APP = `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
        self.wfile.write((os.environ["GREETING"] + " from " + os.getcwd()).encode())
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`;
const GET = `python3 -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8080').read().decode())"`;

/** The SDK example: a copied server, env, a compile step, a start command gated by its port. */
function webTemplate(): Template {
  return new Template()
    .fromImage('python')
    .workdir('/srv')
    .copy('app', '/srv')
    .env('GREETING', 'hello')
    .env('PORT', '8080')
    .run('python3 -m py_compile server.py && echo compiled-ok')
    .setStart('python3 server.py')
    .setReady({ port: 8080 });
}

describe('end to end: templates as code over HTTP, the SDK and the CLI', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let server: SandboxServer;
  const dir = mkdtempSync('/tmp/mitos-test-ctx-');
  before(async () => {
    live = await liveServer();
    server = new SandboxServer({ baseUrl: live.url });
    await server.createTemplate('python');
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'app', 'server.py'), APP);
  });
  after(async () => {
    await live.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('Template.build uploads the context, streams progress, and the template serves its start command', async () => {
    const events: Parameters<NonNullable<TemplateBuildOptions['onEvent']>>[0][] = [];
    const logs: string[] = [];
    const built = await webTemplate().build('sdk-web', {
      server,
      contextDir: dir,
      onEvent: (e) => events.push(e),
      onLogs: (l) => logs.push(l),
    });
    assert.equal(built.id, 'sdk-web');
    assert.match(built.digest, /^[0-9a-f]{64}$/);
    assert.ok(logs.includes('compiled-ok'), logs.join('\n'));
    assert.deepEqual(
      events.filter((e) => e.type === 'step').map((e) => (e.type === 'step' ? `${e.step}/${e.total}` : '')),
      ['1/5', '2/5', '3/5', '4/5', '5/5'],
    );
    const sandbox = await server.fork('sdk-web');
    try {
      assert.equal((await sandbox.exec(GET)).stdout, 'hello from /srv\n');
    } finally {
      await sandbox.terminate();
    }
    // The second build uploads nothing new and takes every step from the cache.
    const again: typeof events = [];
    await webTemplate().build('sdk-web', { server, contextDir: dir, onEvent: (e) => again.push(e) });
    assert.ok(again.filter((e) => e.type === 'step_done').every((e) => e.type === 'step_done' && e.cached));
  });

  test('the build stream replays a finished build; DELETE removes a template; the plain {id} form still works', async () => {
    const res = await fetch(`${live.url}/v1/templates/sdk-web/build`);
    assert.equal(res.status, 200);
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    assert.equal(lines.at(-1)?.type, 'done');
    const plain = await fetch(`${live.url}/v1/templates`, { method: 'POST', body: JSON.stringify({ id: 'python' }) });
    assert.equal(plain.status, 200);
    assert.equal(((await plain.json()) as { id: string }).id, 'python');
    await server.deleteTemplate('sdk-web');
    await assert.rejects(server.deleteTemplate('sdk-web'), { code: 'not_found' });
    await assert.rejects(server.fork('sdk-web'), { code: 'not_found' });
  });

  test('mitos template build -f: a two-stage Dockerfile, progress per step, CACHED on the rebuild', async () => {
    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM base AS builder
WORKDIR /src
RUN echo built-in-stage-one > artifact.txt
FROM python
ARG WHO=world
COPY --from=builder /src/artifact.txt /opt/
COPY app/server.py /opt/server.py
ENV GREETING="hi \${WHO}" PORT=8080
WORKDIR /opt
CMD ["python3", "/opt/server.py"]
`,
    );
    const args = ['--base-url', live.url, 'template', 'build', '-f', join(dir, 'Dockerfile'), dir, '-t', 'two-stage'];
    const first = await runCli([...args, '--build-arg', 'WHO=cli']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /\[two-stage-stage-builder 2\/2\] RUN echo built-in-stage-one > artifact.txt\s+\d+\.\ds/,
    );
    assert.match(first.stdout, /built template two-stage \([0-9a-f]{64}\)/);
    const second = await runCli([...args, '--build-arg', 'WHO=cli']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /\[two-stage 5\/5\] WORKDIR \/opt\s+CACHED/);
    const sandbox = await server.fork('two-stage');
    try {
      assert.equal((await sandbox.exec('cat /opt/artifact.txt; pwd')).stdout, 'built-in-stage-one\n/opt\n');
      // The CMD became the start command; without a ready check it is started, not awaited.
      let out = '';
      for (let i = 0; i < 100 && !out.includes('hi cli'); i++) {
        out = (await sandbox.exec(`${GET} 2>/dev/null || sleep 0.1`)).stdout;
      }
      assert.equal(out, 'hi cli from /opt\n');
    } finally {
      await sandbox.terminate();
    }
  });

  test('SDK fromDockerfile builds every stage; a copied file over 32 MiB goes up in parts', async () => {
    const big = randomBytes(40 * 1024 * 1024);
    writeFileSync(join(dir, 'big.bin'), big);
    const file = join(dir, 'Multi.dockerfile');
    writeFileSync(
      file,
      'FROM base AS gen\nRUN echo from-stage > /stage.txt\nFROM base\nCOPY --from=gen /stage.txt /opt/\nCOPY big.bin /opt/big.bin\n',
    );
    const template = new Template().fromDockerfile(file).run('sha256sum /opt/big.bin > /opt/big.sum');
    assert.deepEqual(
      template.toSpecs('sdk-multi').map((t) => t.id),
      ['sdk-multi-stage-gen', 'sdk-multi'],
    );
    assert.throws(() => template.toSpec(), /several stages/);
    await template.build('sdk-multi', { server, contextDir: dir });
    const sandbox = await server.fork('sdk-multi');
    try {
      const out = (await sandbox.exec('cat /opt/stage.txt; cut -d" " -f1 /opt/big.sum')).stdout;
      assert.equal(out, `from-stage\n${createHash('sha256').update(big).digest('hex')}\n`);
    } finally {
      await sandbox.terminate();
    }
  });

  test('a Dockerfile instruction outside the subset is refused naming file, line and instruction', async () => {
    const file = join(dir, 'Bad.dockerfile');
    writeFileSync(file, 'FROM base\nEXPOSE 80\n');
    const r = await runCli(['--base-url', live.url, 'template', 'build', '-f', file, dir, '-t', 'bad']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`${file}:2: EXPOSE: this instruction is not supported`));
  });
});
