import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DockerfileError, parseDockerfile } from './dockerfile.js';
import { Template } from './template.js';

describe('Template builder', () => {
  test('toSpec emits the seed example exactly (crd-v1.md 13.1)', () => {
    const spec = new Template()
      .fromImage('python:3.12')
      .workdir('/app')
      .copy('app/', '/app')
      .env('PORT', '8080')
      .run('pip install -r requirements.txt')
      .setStart('python app.py')
      .cpu('2')
      .memory('1Gi')
      .toSpec();
    assert.deepEqual(spec, {
      image: 'python:3.12',
      buildSteps: [
        { type: 'workdir', workdir: '/app' },
        { type: 'copy', source: 'app/', dest: '/app' },
        { type: 'env', envName: 'PORT', envValue: '8080' },
        { type: 'run', run: 'pip install -r requirements.txt' },
      ],
      command: ['python', 'app.py'],
      resources: { cpu: '2', memory: '1Gi' },
    });
  });

  test('toTemplate wraps the spec; no image is an error; start strings split like a shell', () => {
    const obj = new Template().fromImage('node:24').run('npm ci').toTemplate('web');
    assert.deepEqual(obj, {
      apiVersion: 'mitos.run/v1alpha1',
      kind: 'SandboxTemplate',
      metadata: { name: 'web' },
      spec: { image: 'node:24', buildSteps: [{ type: 'run', run: 'npm ci' }] },
    });
    assert.throws(() => new Template().run('x').toSpec(), /base image/);
    const t = new Template().fromImage('base').setStart(`sh -c 'echo "a b"'`).setReady({ port: 8080 });
    assert.deepEqual(t.toSpec().command, ['sh', '-c', 'echo "a b"']);
    assert.deepEqual(t.toSpec().ready, { port: 8080 });
  });
});

describe('Dockerfile subset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mitos-test-dockerfile-'));
  const write = (text: string) => {
    const file = join(dir, 'Dockerfile');
    writeFileSync(file, text);
    return file;
  };

  test('two stages: COPY --from names the earlier stage by its template id', () => {
    const file = write(`# build
ARG VERSION=1
FROM base AS builder
WORKDIR /src
RUN echo v\${VERSION} > out.txt && \\
    echo more >> out.txt
FROM python
ENV GREETING="hello world" MODE=prod
COPY --from=builder /src/out.txt /app/
COPY app.py requirements.txt /app
USER nobody
CMD ["python", "/app/app.py"]
`);
    const parsed = parseDockerfile(file, { stageId: (n) => `t-stage-${n}` });
    assert.equal(parsed.stages.length, 2);
    assert.deepEqual(parsed.stages[0]?.spec.buildSteps, [
      { type: 'workdir', workdir: '/src' },
      { type: 'run', run: 'echo v1 > out.txt &&     echo more >> out.txt' },
    ]);
    const final = parsed.stages[1];
    assert.deepEqual(final?.needs, ['builder']);
    assert.deepEqual(final?.spec.buildSteps, [
      { type: 'env', envName: 'GREETING', envValue: 'hello world' },
      { type: 'env', envName: 'MODE', envValue: 'prod' },
      { type: 'copy', source: '/src/out.txt', dest: '/app/', from: 't-stage-builder' },
      { type: 'copy', source: 'app.py', dest: '/app/' },
      { type: 'copy', source: 'requirements.txt', dest: '/app/' },
      { type: 'user', user: 'nobody' },
    ]);
    assert.deepEqual(final?.spec.command, ['python', '/app/app.py']);
  });

  test('anything outside the subset is refused naming file, line and instruction', () => {
    const file = write('FROM base\nRUN true\nHEALTHCHECK CMD true\n');
    assert.throws(
      () => parseDockerfile(file),
      (err: unknown) =>
        err instanceof DockerfileError &&
        err.line === 3 &&
        err.instruction === 'HEALTHCHECK' &&
        err.message.startsWith(`${file}:3:`),
    );
    assert.throws(() => parseDockerfile(write('FROM base\nADD https://x.example/a /a\n')), /2: ADD: only local/);
    assert.throws(() => parseDockerfile(write('FROM base\nCOPY --chown=1 a /a\n')), /2: COPY: the flag --chown=1/);
    rmSync(dir, { recursive: true, force: true });
  });
});
