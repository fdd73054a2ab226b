import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { E2bBuildStartSchema, mapE2bBuild, templateIdOf } from './template-steps.js';

const HASH = 'a'.repeat(64);
const uploads = (hash: string) =>
  hash === HASH ? { 'app/x.txt': { sha256: 'b'.repeat(64), mode: 0o644 } } : undefined;

function refusedWith(code: string, pattern: RegExp) {
  return (err: unknown) =>
    err instanceof MitosError && err.code === code && pattern.test(`${err.message} ${err.detail}`);
}

test('E2B steps become build steps that run as user, with per-step users restored after', () => {
  const body = E2bBuildStartSchema.parse({
    fromTemplate: 'base',
    startCmd: 'serve',
    readyCmd: 'true',
    steps: [
      { type: 'RUN', args: ['make'] },
      { type: 'RUN', args: ['apt-get install x', 'root'] },
      { type: 'COPY', args: ['app', '/opt/app', '', '0600'], filesHash: HASH },
      { type: 'ENV', args: ['A', '1', 'B', '2'] },
      { type: 'WORKDIR', args: ['/opt'] },
    ],
  });
  const { spec, context, force } = mapE2bBuild(body, 'base', uploads);
  assert.equal(spec.image, 'base');
  assert.deepEqual(spec.command, ['/bin/sh', '-c', 'serve']);
  assert.deepEqual(spec.ready, { command: 'true' });
  assert.equal(force, false);
  const steps = spec.buildSteps ?? [];
  assert.equal(steps[0]?.type, 'run', 'the account is made first');
  assert.deepEqual(steps.slice(1), [
    { type: 'user', user: 'user' },
    { type: 'workdir', workdir: '/home/user' },
    { type: 'run', run: 'make' },
    { type: 'user', user: 'root' },
    { type: 'run', run: 'apt-get install x' },
    { type: 'user', user: 'user' },
    { type: 'copy', source: 'step-3/app', dest: '/opt/app' },
    { type: 'env', envName: 'A', envValue: '1' },
    { type: 'env', envName: 'B', envValue: '2' },
    { type: 'workdir', workdir: '/opt' },
    { type: 'user', user: 'root' },
  ]);
  assert.deepEqual(context.files, { 'step-3/app/x.txt': { sha256: 'b'.repeat(64), mode: 0o600 } });
});

test('what cannot be mapped is refused', () => {
  const map = (raw: unknown) => mapE2bBuild(E2bBuildStartSchema.parse(raw), 'base', uploads);
  assert.throws(
    () => map({ steps: [{ type: 'COPY', args: ['*.txt', '/x'], filesHash: HASH }] }),
    refusedWith('not_implemented', /wildcards/),
  );
  assert.throws(
    () => map({ steps: [{ type: 'COPY', args: ['app', '/x'], filesHash: 'c'.repeat(64) }] }),
    refusedWith('invalid_request', /not uploaded/),
  );
  assert.throws(() => map({ steps: [{ type: 'ARG', args: ['x'] }] }), refusedWith('not_implemented', /ARG/));
  assert.throws(() => map({ steps: [{ type: 'ENV', args: ['A'] }] }), refusedWith('invalid_request', /pairs/));
  assert.throws(() => map({ fromImageRegistry: { type: 'aws' } }), refusedWith('not_implemented', /registry/));
  assert.throws(() => map({ readyCmd: 'true' }), refusedWith('invalid_request', /startCmd/));
  assert.equal(map({ steps: [{ type: 'RUN', args: ['x'], force: true }] }).force, true);
});

test('template names: a tag other than the default is refused where only a name is taken; ids are checked', () => {
  assert.equal(templateIdOf('my-tmpl'), 'my-tmpl');
  assert.equal(templateIdOf('my-tmpl:latest'), 'my-tmpl');
  assert.throws(() => templateIdOf('my-tmpl:v2'), refusedWith('invalid_request', /tag/));
  assert.throws(() => templateIdOf('../x'), refusedWith('invalid_request', /must match/));
});
