/**
 * `mitos serve` as a user runs it serves MCP at /mcp behind its API keys: an MCP client
 * creates a sandbox and runs a command through it, and ending the session ends the sandbox.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { SandboxServer } from '@mitos/sdk';
import { testEngineEnv } from '@mitos/testkit';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { freePort, spawnServe, waitHealthy } from './fixtures.js';

describe('end to end: /mcp on mitos serve', { timeout: 300_000 }, () => {
  const env = testEngineEnv();
  after(() => env.cleanup());

  test('an MCP client with the key creates and runs in a sandbox; without it, 401', async () => {
    const key = `e2e-${randomBytes(12).toString('hex')}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = spawnServe(env, port, ['--api-key', key, '--warm-pool', '0']);
    try {
      await waitHealthy(url, 30_000, key);
      const refused = await fetch(`${url}/mcp`, { method: 'POST', body: '{}' });
      assert.equal(refused.status, 401);
      const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
        requestInit: { headers: { Authorization: `Bearer ${key}` } },
      });
      const client = new Client({ name: 'e2e', version: '0' });
      await client.connect(transport);
      const created = (await client.callTool({ name: 'create_sandbox', arguments: {} })) as CallToolResult;
      const id = (created.structuredContent as { sandbox_id: string }).sandbox_id;
      const out = (await client.callTool({ name: 'exec', arguments: { command: 'echo via-serve' } })) as CallToolResult;
      assert.equal((out.structuredContent as { stdout: string }).stdout, 'via-serve\n');
      await transport.terminateSession();
      await client.close();
      const api = new SandboxServer({ baseUrl: url, apiKey: key });
      assert.ok(!(await api.listSandboxes()).some((s) => s.id === id), 'the session sandbox outlived its session');
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  });
});
