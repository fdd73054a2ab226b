import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registryError } from './pull.js';

const ref = '127.0.0.1:40113/team/nope:v9';
const said = (tail: string) =>
  `time="2026-12-07T14:00:00Z" level=fatal msg="Error parsing image name \\"docker://${ref}\\": ${tail}"`;

test('a registry port or digest holding 401/403/404 does not decide the class; skopeo words do', () => {
  assert.equal(
    registryError(ref, said('reading manifest v9 in 127.0.0.1:40113/team/nope: manifest unknown')).code,
    'image_not_found',
  );
  assert.equal(
    registryError(ref, said('reading manifest v9 in 127.0.0.1:40113/team/nope: unauthorized: authentication required'))
      .code,
    'registry_auth',
  );
  const digest = '127.0.0.1:5000/a@sha256:4013404401aa';
  assert.equal(registryError(digest, `pinging ${digest}: connection refused`).code, 'template_build_failed');
  assert.equal(registryError(ref, 'received unexpected HTTP status: 403 Forbidden').code, 'registry_auth');
  assert.equal(registryError(ref, 'received unexpected HTTP status: 404 Not Found').code, 'image_not_found');
});
