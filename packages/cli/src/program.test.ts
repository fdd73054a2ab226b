import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildProgram, COMMANDS, commandNamed } from './program.js';

const argv = (...words: string[]) => ['node', 'mitos', ...words];

test('the command named on the line is found past global options and their values', () => {
  assert.equal(commandNamed(argv('--base-url', 'http://x', '--json', 'run', '--', 'ls'))?.name, 'run');
  assert.equal(commandNamed(argv('--api-key', 'sandbox', 'template', 'ls'))?.name, 'template');
  assert.equal(commandNamed(argv('--help')), undefined);
  assert.equal(commandNamed(argv('bogus')), undefined);
});

test('only the named command is loaded; help loads every one', async () => {
  const one = await buildProgram(argv('run', '--', 'true'));
  assert.deepEqual(
    one.commands.map((c) => c.name()),
    ['run'],
  );
  const all = await buildProgram(argv('--help'));
  assert.deepEqual(
    all.commands.map((c) => c.name()),
    COMMANDS.map((c) => c.name),
  );
  assert.equal((await buildProgram(argv('--version'))).commands.length, 0);
});
