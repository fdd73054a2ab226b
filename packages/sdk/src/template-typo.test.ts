import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorFromResponse } from './response-error.js';
import { closestTemplate, newTemplateWarning } from './template-typo.js';

test('a typo of a known template is named; an unrelated id is not', () => {
  assert.equal(closestTemplate('pyhton', ['python', 'node', 'base']), 'python');
  assert.equal(closestTemplate('nod', ['python', 'node']), 'node');
  assert.equal(closestTemplate('my-agent', ['python', 'node']), undefined);
  assert.match(newTemplateWarning('pyhton', 'python'), /did not exist.*did you mean "python"\?/);
});

test('an HTML page from another web server is not_mitos_server, summarised by its title', () => {
  const page = '<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>...</body></html>';
  const err = errorFromResponse(404, page, []);
  assert.equal(err.code, 'not_mitos_server');
  assert.match(err.errorCause, /Welcome to nginx!/);
  assert.doesNotMatch(err.errorCause, /<html/);
  assert.match(err.remediation, /base-url/);
  // A proxy's 502 page stays a server error, but is summarised too.
  const bad = errorFromResponse(502, page, []);
  assert.equal(bad.code, 'server_error');
  assert.doesNotMatch(bad.errorCause, /<html/);
});
