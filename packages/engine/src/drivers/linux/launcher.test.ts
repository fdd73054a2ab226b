import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { installInitProgram, mappableInitProgram } from './launcher.js';

const dir = mkdtempSync(join(tmpdir(), 'mitos-test-launcher-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the mappable init is the installed program's bytes, copied again after a reinstall of the same size", () => {
  const agent = join(dir, 'agent');
  writeFileSync(agent, 'build-one');
  const init = installInitProgram(agent, dir);
  const mappable = mappableInitProgram(init);
  assert.equal(readFileSync(mappable, 'utf8'), 'build-one');
  assert.equal(statSync(mappable).mode & 0o777, 0o755);
  assert.equal(statSync(init).mode & 0o777, 0o711);

  // A rebuilt agent of the same size, installed by a later engine open.
  const past = new Date(Date.now() - 60_000);
  utimesSync(mappable, past, past);
  writeFileSync(agent, 'build-two');
  installInitProgram(agent, dir);
  assert.equal(readFileSync(mappableInitProgram(init), 'utf8'), 'build-two');
});
