import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SANDBOX_ID_PATTERN, sandboxIdFor, templateIdFor, warmSandboxId } from './ids.js';

describe('sandbox and template ids', () => {
  it('derives a valid id from namespace and name: deterministic, readable, unique per namespace', () => {
    assert.match(sandboxIdFor('default', 'sandbox-1a2b3c4d'), /^sandbox-1a2b3c4d-[0-9a-f]{10}$/);
    const long = `claim.${'x'.repeat(80)}`;
    assert.equal(sandboxIdFor('ns', long), sandboxIdFor('ns', long));
    assert.notEqual(sandboxIdFor('ns', long), sandboxIdFor('ns', `${long}y`));
    assert.notEqual(sandboxIdFor('team-a', 'agent-1'), sandboxIdFor('team-b', 'agent-1'));
    for (const name of [long, 'a.b', '.leading', '']) assert.match(sandboxIdFor('ns', name), SANDBOX_ID_PATTERN, name);
  });

  it('makes warm ids valid for any pool name', () => {
    assert.match(warmSandboxId('mitos-default-python-3.12-slim'), SANDBOX_ID_PATTERN);
    assert.match(warmSandboxId('p'.repeat(253)), SANDBOX_ID_PATTERN);
  });

  it('maps images onto engine template ids', () => {
    assert.equal(templateIdFor('python'), 'python');
    assert.equal(templateIdFor('python:3.12-slim'), 'python-3-12-slim');
    assert.equal(templateIdFor('Node:20'), 'node-20');
    assert.equal(templateIdFor(':::'), 'base');
  });
});
