import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { API_ROUTES, OPENAPI_DOC_PATH, renderOpenApiDocument } from '@mitos/protocol';
import { makeTestApp } from '@mitos/testkit/server';

const repoRoot = new URL('../../../../', import.meta.url);

describe('GET /v1/openapi.json', () => {
  it('serves an OpenAPI 3.1 document with every /v1 route the app answers, and no other', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, '3.1.0');
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    const served = [
      ...new Set(
        t.app.routes
          .filter((r) => r.path.startsWith('/v1/') && ['GET', 'POST', 'PUT', 'DELETE'].includes(r.method))
          .map((r) => `${r.method} ${r.path}`),
      ),
    ].sort();
    assert.deepEqual(documented, served, 'protocol/src/openapi.ts API_ROUTES and the app disagree');
    assert.equal(API_ROUTES.length, served.length);
  });

  it('documents request bodies from the zod schemas (the exec body names sandbox and command)', async () => {
    const t = makeTestApp();
    const doc = (await t.call('/v1/openapi.json')).body as {
      paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: unknown }> } } }>;
    };
    const schema = doc.paths['/v1/exec']?.post?.requestBody?.content['application/json']?.schema as {
      required?: string[];
    };
    assert.ok(schema.required?.includes('sandbox') && schema.required.includes('command'), JSON.stringify(schema));
  });

  it('docs/openapi.json is what the schemas render (run node scripts/gen-contract.mjs after a change)', () => {
    const committed = readFileSync(new URL(OPENAPI_DOC_PATH, repoRoot), 'utf8');
    assert.equal(committed, renderOpenApiDocument(), `${OPENAPI_DOC_PATH} is out of date`);
  });
});
