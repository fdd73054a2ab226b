/**
 * The MCP endpoint under attack, on the real server and engine: `/mcp` without a key or with a
 * wrong one, a stolen session id presented with another key, one session reaching for another
 * session's sandboxes (or ones made over /v1), a web page driving it cross-origin, malformed
 * and oversized bodies, and a session abandoned without goodbye.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createMcpHttpHandler } from '@mitos/mcp';
import { create, SandboxServer } from '@mitos/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Recorder } from './figures.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';

const rec = new Recorder('mcp', 'The MCP endpoint (/mcp)', 8);
const KEY_A = `mcp-a-${randomBytes(12).toString('hex')}`;
const KEY_B = `mcp-b-${randomBytes(12).toString('hex')}`;
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attacker', version: '0' } },
};
const MCP_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

async function session(url: string, key: string, path = '/mcp') {
  const transport = new StreamableHTTPClientTransport(new URL(path, url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: 'hardening', version: '0' });
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult & {
      structuredContent: Record<string, unknown>;
    };
  return { client, transport, call };
}

const codeOf = (r: { structuredContent: Record<string, unknown> }) =>
  (r.structuredContent.error as { code?: string })?.code;

describe('the MCP endpoint holds', { timeout: 300_000 }, () => {
  let live: LiveServer;
  let url = '';

  before(async () => {
    const mcp = createMcpHttpHandler({ apiUrl: () => url });
    const idle = createMcpHttpHandler({ apiUrl: () => url, idleTimeoutMs: 300 });
    live = await liveServer({
      apiKeys: [KEY_A, KEY_B],
      serverOptions: {
        mounts: [
          { path: '/mcp', fetch: mcp.handle, close: mcp.close },
          { path: '/mcp-idle', fetch: idle.handle, close: idle.close },
        ],
      },
    });
    url = live.url;
  });

  after(() => stopAndCheck(live, rec, [KEY_A, KEY_B]));

  test('no key, a wrong key or a mangled key: 401 before any MCP handling', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { Authorization: 'Bearer wrong-key-123' },
      { Authorization: `Basic ${Buffer.from(`x:${KEY_A}`).toString('base64')}` },
      { Authorization: `Bearer ${KEY_A}x` },
      { Authorization: KEY_A },
    ];
    for (const headers of attempts) {
      for (const method of ['POST', 'GET', 'DELETE']) {
        const res = await fetch(new URL('/mcp', url), {
          method,
          headers: { ...MCP_HEADERS, ...headers, 'mcp-session-id': 'a-guessed-session' },
          body: method === 'POST' ? JSON.stringify(INIT) : undefined,
        });
        rec.count('attacks');
        assert.equal(res.status, 401, `${method} ${JSON.stringify(headers).slice(0, 40)}`);
        const body = await res.text();
        assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'unauthorized');
        assert.ok(!body.includes(KEY_A));
      }
    }
    rec.check('/mcp with no, wrong or mangled keys (POST, GET, DELETE)', '401 unauthorized');
  });

  test('a session id is bound to its key: another valid key presenting it is told the session does not exist', async () => {
    const a = await session(url, KEY_A);
    const id = (await a.call('create_sandbox', {})).structuredContent.sandbox_id as string;
    const stolen = a.transport.sessionId as string;
    const hijack = await fetch(new URL('/mcp', url), {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        Authorization: `Bearer ${KEY_B}`,
        'mcp-session-id': stolen,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'terminate', arguments: {} },
      }),
    });
    rec.count('attacks');
    assert.equal(hijack.status, 404);
    const del = await fetch(new URL('/mcp', url), {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${KEY_B}`, 'mcp-session-id': stolen },
    });
    rec.count('attacks');
    assert.equal(del.status, 404);
    // The owner's session and sandbox are untouched.
    assert.equal((await a.call('exec', { command: 'echo alive' })).structuredContent.stdout, 'alive\n');
    assert.ok((await new SandboxServer({ baseUrl: url, apiKey: KEY_A }).listSandboxes()).some((s) => s.id === id));
    await a.transport.terminateSession();
    await a.client.close();
    rec.check('stolen mcp-session-id used with another valid key (tools/call, DELETE)', '404, nothing done');
  });

  test("one session cannot read, run in, fork or terminate another session's sandboxes, or ones made over /v1", async () => {
    const owner = await session(url, KEY_A);
    const mine = (await owner.call('create_sandbox', {})).structuredContent.sandbox_id as string;
    await owner.call('write_file', { path: '/workspace/secret.txt', content: 'owner-only' });
    const direct = await create('python', { baseUrl: url, apiKey: KEY_A });
    const intruder = await session(url, KEY_A);
    for (const target of [mine, direct.id]) {
      const attempts: Array<[string, Record<string, unknown>]> = [
        ['read_file', { path: '/workspace/secret.txt', sandbox_id: target }],
        ['exec', { command: 'rm -rf /workspace', sandbox_id: target }],
        ['run_code', { code: 'open("/workspace/x","w").write("x")', sandbox_id: target }],
        ['write_file', { path: '/workspace/secret.txt', content: 'pwned', sandbox_id: target }],
        ['list_files', { path: '/workspace', sandbox_id: target }],
        ['fork', { sandbox_id: target }],
        ['terminate', { sandbox_id: target }],
      ];
      for (const [name, args] of attempts) {
        const r = await intruder.call(name, args);
        rec.count('attacks');
        assert.equal(r.isError, true, `${name} on ${target}`);
        assert.equal(codeOf(r), 'not_found', `${name} on ${target}`);
      }
    }
    const listed = (await intruder.call('list_sandboxes')).structuredContent.sandboxes as unknown[];
    assert.deepEqual(listed, []);
    assert.equal(
      (await owner.call('read_file', { path: '/workspace/secret.txt' })).structuredContent.content,
      'owner-only',
    );
    assert.equal(await direct.files.read('/workspace/secret.txt').catch(() => 'absent'), 'absent');
    await intruder.transport.terminateSession();
    await owner.transport.terminateSession();
    await direct.terminate();
    rec.check(
      "tools on another session's sandbox ids, and on /v1 sandboxes",
      'not_found tool errors; nothing read or changed',
    );
  });

  test('cross-origin pages, malformed and oversized bodies are refused without harm', async () => {
    const evil = await fetch(new URL('/mcp', url), {
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: `Bearer ${KEY_A}`, Origin: 'http://evil.example' },
      body: JSON.stringify(INIT),
    });
    rec.count('attacks');
    assert.equal(evil.status, 403);
    for (const body of ['{', '[]', 'null', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })]) {
      const res = await fetch(new URL('/mcp', url), {
        method: 'POST',
        headers: { ...MCP_HEADERS, Authorization: `Bearer ${KEY_A}` },
        body,
      });
      rec.count('attacks');
      assert.ok(res.status >= 400 && res.status < 500, `${body}: ${res.status}`);
    }
    const huge = await fetch(new URL('/mcp', url), {
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: `Bearer ${KEY_A}` },
      body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"${'x'.repeat(80 * 1024 * 1024)}"}}`,
    });
    rec.count('attacks');
    assert.equal(huge.status, 413);
    // Still serving.
    const ok = await session(url, KEY_A);
    assert.ok((await ok.client.listTools()).tools.length > 0);
    await ok.transport.terminateSession();
    rec.check(
      'Origin of another site; bodies: broken JSON, non-initialize first call, 80 MiB',
      '403; 4xx; 413; server keeps serving',
    );
  });

  test('a session abandoned without DELETE is closed after its idle time, and its sandboxes with it', async () => {
    const gone = await session(url, KEY_A, '/mcp-idle');
    const id = (await gone.call('create_sandbox', {})).structuredContent.sandbox_id as string;
    const api = new SandboxServer({ baseUrl: url, apiKey: KEY_A });
    // Polled rather than slept on: done as soon as the idle timer (300 ms) has ended the session.
    for (let i = 0; i < 200 && (await api.listSandboxes()).some((s) => s.id === id); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(!(await api.listSandboxes()).some((s) => s.id === id), 'the abandoned session kept its sandbox');
    await assert.rejects(gone.client.listTools(), /404|not found/i);
    rec.check('session abandoned without DELETE', 'closed after the idle timeout; its sandboxes terminated');
  });
});
