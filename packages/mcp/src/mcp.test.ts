/**
 * The MCP endpoint on a real server and engine, driven by the MCP SDK's own client over
 * Streamable HTTP and over stdio (`mitos mcp`): tools and their annotations, create, exec (progress, truncation to a file),
 * run_code with a PNG as image content, fork, terminate, errors as tool results carrying our
 * code, API keys, and sandboxes ending with their session.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SandboxServer } from '@mitos/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type LiveMcpServer, liveMcpServer } from './test-support/live.js';

const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '../../cli/dist/main.cjs');
const API_KEY = `mcp-key-${randomBytes(12).toString('hex')}`;
/** A 1x1 PNG written by the cell itself, so the test needs no plotting library. */
const PNG_CELL = `
import base64
class Dot:
    def _repr_png_(self):
        return base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')
    def _repr_html_(self):
        return '<b>dot</b>'
Dot()
`;

async function connect(url: string, apiKey?: string) {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
    requestInit: apiKey ? { headers: { Authorization: `Bearer ${apiKey}` } } : {},
  });
  const client = new Client({ name: 'mitos-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, transport };
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  return (await client.callTool({ name, arguments: args })) as CallToolResult & {
    structuredContent: Record<string, unknown>;
  };
}

describe('MCP over Streamable HTTP at /mcp', { timeout: 300_000 }, () => {
  let live: LiveMcpServer;
  let api: SandboxServer;

  before(async () => {
    live = await liveMcpServer({ apiKeys: [API_KEY] });
    api = new SandboxServer({ baseUrl: live.url, apiKey: API_KEY });
  });
  /** A clean environment for `mitos mcp`; its code cache goes under the server's state dir, not ~/.cache. */
  const cliEnv = () => ({
    PATH: process.env.PATH ?? '',
    MITOS_BASE_URL: live.url,
    MITOS_API_KEY: API_KEY,
    XDG_CACHE_HOME: join(live.env.stateDir, 'cli-cache'),
  });
  after(async () => {
    await live.stop();
    assert.ok(!live.logs.join('\n').includes(API_KEY), 'the API key reached the server log');
  });

  test('lists every tool with a JSON input schema and read-only / destructive hints', async () => {
    const { client, transport } = await connect(live.url, API_KEY);
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ['create_sandbox', 'exec', 'run_code', 'read_file', 'write_file', 'list_files', 'fork']) {
      assert.ok(byName.has(name), `missing tool ${name}`);
    }
    for (const name of ['list_sandboxes', 'list_templates', 'terminate']) assert.ok(byName.has(name));
    assert.equal(byName.get('read_file')?.annotations?.readOnlyHint, true);
    assert.equal(byName.get('terminate')?.annotations?.destructiveHint, true);
    assert.equal(byName.get('exec')?.inputSchema.type, 'object');
    const execProps = byName.get('exec')?.inputSchema.properties as Record<string, { description?: string }>;
    assert.match(execProps.timeout_seconds?.description ?? '', /seconds/);
    await transport.terminateSession();
    await client.close();
  });

  test('create, exec, run_code with a PNG, files, fork and terminate through one session', async () => {
    const { client, transport } = await connect(live.url, API_KEY);
    const created = await call(client, 'create_sandbox', { template: 'python' });
    assert.equal(created.isError, undefined, JSON.stringify(created.content));
    const id = created.structuredContent.sandbox_id as string;

    // No sandbox_id: the session's default sandbox.
    const echo = await call(client, 'exec', { command: 'echo hello from $(hostname) && echo oops >&2' });
    assert.equal(echo.structuredContent.exit_code, 0);
    assert.match(echo.structuredContent.stdout as string, /^hello from /);
    assert.equal(echo.structuredContent.stderr, 'oops\n');

    const progress: number[] = [];
    const slow = (await client.callTool(
      { name: 'exec', arguments: { command: 'for i in 1 2 3; do echo line $i; sleep 0.2; done' } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    )) as CallToolResult & { structuredContent: Record<string, unknown> };
    assert.equal(slow.structuredContent.stdout, 'line 1\nline 2\nline 3\n');
    assert.ok(progress.length >= 1, 'no progress notification arrived');
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress must not go backwards',
    );

    const big = await call(client, 'exec', { command: 'seq 1 20000' });
    const files = big.structuredContent.full_output_files as { stdout: string };
    assert.ok(files?.stdout, 'long output names the file holding all of it');
    assert.match(big.structuredContent.stdout as string, /characters omitted/);
    const whole = await call(client, 'read_file', { path: files.stdout, length: 1_000_000 });
    assert.equal((whole.structuredContent.content as string).split('\n').length, 20001);

    const cell = await call(client, 'run_code', { code: PNG_CELL });
    assert.equal(cell.isError, undefined, JSON.stringify(cell.content));
    const image = cell.content.find((c) => c.type === 'image');
    assert.equal(image?.type === 'image' && image.mimeType, 'image/png');
    const png = Buffer.from(image?.type === 'image' ? image.data : '', 'base64');
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    const html = cell.content.find((c) => c.type === 'resource');
    assert.equal(html?.type === 'resource' && html.resource.mimeType, 'text/html');

    await call(client, 'write_file', { path: '/workspace/state.txt', content: 'parent' });
    await call(client, 'run_code', { code: 'counter = 41' });
    const forked = await call(client, 'fork', { count: 2 });
    const children = forked.structuredContent.child_ids as string[];
    assert.equal(children.length, 2);
    const [a, b] = children as [string, string];
    await call(client, 'write_file', { path: '/workspace/state.txt', content: 'child a', sandbox_id: a });
    const seenByB = await call(client, 'read_file', { path: '/workspace/state.txt', sandbox_id: b });
    assert.equal(seenByB.structuredContent.content, 'parent');
    const carried = await call(client, 'run_code', { code: 'counter + 1', sandbox_id: b });
    assert.equal(carried.structuredContent.text, '42');
    const listing = await call(client, 'list_files', { path: '/workspace', sandbox_id: a });
    assert.ok((listing.structuredContent.entries as Array<{ name: string }>).some((e) => e.name === 'state.txt'));

    const mine = await call(client, 'list_sandboxes');
    assert.deepEqual(
      (mine.structuredContent.sandboxes as Array<{ sandbox_id: string }>).map((s) => s.sandbox_id).sort(),
      [id, a, b].sort(),
    );
    const gone = await call(client, 'terminate', { sandbox_id: a });
    assert.equal(gone.isError, undefined);
    assert.ok(!(await api.listSandboxes()).some((s) => s.id === a));

    await transport.terminateSession();
    await client.close();
    const left = (await api.listSandboxes()).map((s) => s.id);
    for (const sid of [id, b]) assert.ok(!left.includes(sid), `${sid} outlived its MCP session`);
  });

  test('a bad argument or an unknown sandbox is a tool error with our code and a remediation', async () => {
    const { client, transport } = await connect(live.url, API_KEY);
    const noSandbox = await call(client, 'exec', { command: 'true' });
    assert.equal(noSandbox.isError, true);
    assert.equal((noSandbox.structuredContent.error as { code: string }).code, 'invalid_request');
    assert.match((noSandbox.structuredContent.error as { remediation: string }).remediation, /create_sandbox/);

    await call(client, 'create_sandbox', { keep: true });
    const tooLong = await call(client, 'exec', { command: 'true', timeout_seconds: 10_000_000 });
    assert.equal(tooLong.isError, true);
    const err = tooLong.structuredContent.error as { code: string; remediation: string; context: { field: string } };
    assert.equal(err.code, 'invalid_request');
    assert.equal(err.context.field, 'timeout_seconds');

    const stranger = await call(client, 'read_file', { path: '/etc/hostname', sandbox_id: 'not-mine-1' });
    assert.equal((stranger.structuredContent.error as { code: string }).code, 'not_found');
    const missing = await call(client, 'read_file', { path: '/workspace/none.txt' });
    assert.equal((missing.structuredContent.error as { code: string }).code, 'not_found');
    assert.ok((missing.content[0] as { text: string }).text.includes('remediation:'));

    // keep=true outlives the session.
    const kept = (await call(client, 'list_sandboxes')).structuredContent.sandboxes as Array<{ sandbox_id: string }>;
    await transport.terminateSession();
    await client.close();
    const keptId = kept[0]?.sandbox_id as string;
    assert.ok((await api.listSandboxes()).some((s) => s.id === keptId));
    await (await import('@mitos/sdk')).Sandbox.connect(keptId, { baseUrl: live.url, apiKey: API_KEY }).then((s) =>
      s.terminate(),
    );
  });

  test('the endpoint refuses a missing or wrong API key', async () => {
    await assert.rejects(connect(live.url), /401|nauthori/);
    await assert.rejects(connect(live.url, 'wrong-key'), /401|nauthori/);
    const res = await fetch(new URL('/mcp', live.url), { method: 'POST', body: '{}' });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unauthorized');
  });

  test('stdio: `mitos mcp` creates, runs, forks and terminates, and ends its sandboxes when the client goes', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'mcp'],
      env: cliEnv(),
      stderr: 'pipe',
    });
    const client = new Client({ name: 'mitos-test-stdio', version: '0.0.0' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'run_code'));
    const id = (await call(client, 'create_sandbox', {})).structuredContent.sandbox_id as string;
    const out = await call(client, 'exec', { command: 'echo stdio-ok' });
    assert.equal(out.structuredContent.stdout, 'stdio-ok\n');
    const cell = await call(client, 'run_code', { code: PNG_CELL });
    assert.ok(cell.content.some((c) => c.type === 'image' && c.mimeType === 'image/png'));
    const forked = await call(client, 'fork', {});
    const [child] = forked.structuredContent.child_ids as string[];
    const bad = await call(client, 'fork', { count: 0 });
    assert.equal((bad.structuredContent.error as { code: string }).code, 'invalid_request');
    const gone = await call(client, 'terminate', { sandbox_id: child });
    assert.equal(gone.isError, undefined);
    await client.close();
    // The process ends its session (terminating `id`) before it exits.
    assert.ok(!(await api.listSandboxes()).some((s) => s.id === id), `${id} outlived the stdio session`);
  });

  test('stdio: `mitos mcp --sandbox ID` works in an existing sandbox by default and leaves it running', async () => {
    const { create } = await import('@mitos/sdk');
    const existing = await create('python', { baseUrl: live.url, apiKey: API_KEY });
    await existing.files.write('/workspace/mine.txt', 'already here');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'mcp', '--sandbox', existing.id],
      env: cliEnv(),
      stderr: 'pipe',
    });
    const client = new Client({ name: 'mitos-test-adopt', version: '0.0.0' });
    await client.connect(transport);
    const read = await call(client, 'read_file', { path: '/workspace/mine.txt' });
    assert.equal(read.structuredContent.content, 'already here');
    await client.close();
    assert.ok(
      (await api.listSandboxes()).some((s) => s.id === existing.id),
      'a given sandbox was terminated',
    );
    await existing.terminate();
  });
});
