/**
 * deepagents' own agent loop (createDeepAgent, on LangGraph) with a scripted chat model and
 * the mitos backend: the model asks for `execute`, `write_file` and `read_file`, deepagents
 * runs them through the backend in a real sandbox, and the results come back as tool messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AIMessage, type ToolMessage } from '@langchain/core/messages';
import type { Sandbox } from '@mitos/sdk';
import { createDeepAgent } from 'deepagents';
import { MitosSandboxBackend } from './deepagents.js';
import { type LiveServer, liveServer } from './test-support/live.js';
import { ScriptedChatModel } from './test-support/scripted-chat-model.js';

const call = (id: string, name: string, args: Record<string, unknown>) =>
  new AIMessage({ content: '', tool_calls: [{ type: 'tool_call', id, name, args }] });

describe('deepagents sandbox backend', { timeout: 300_000 }, () => {
  let live: LiveServer;
  let sandbox: Sandbox;

  before(async () => {
    live = await liveServer();
    sandbox = live.sandbox;
  });
  after(() => live.stop());

  test('createDeepAgent runs execute, write_file and read_file in the sandbox for a scripted model', async () => {
    const model = new ScriptedChatModel([
      call('d1', 'execute', { command: 'echo out; echo err >&2; exit 3' }),
      call('d2', 'write_file', { file_path: '/workspace/notes.md', content: 'line one\nline two\n' }),
      call('d3', 'read_file', { file_path: '/workspace/notes.md' }),
      new AIMessage('done'),
    ]);
    const backend = new MitosSandboxBackend(sandbox);
    const agent = createDeepAgent({ model, backend });
    const result = await agent.invoke({ messages: [{ role: 'user', content: 'work in the sandbox' }] });
    assert.equal(result.messages.at(-1)?.content, 'done');
    const tools = result.messages.filter((m): m is ToolMessage => m.getType() === 'tool');
    const byId = new Map(
      tools.map((m) => [m.tool_call_id, typeof m.content === 'string' ? m.content : JSON.stringify(m.content)]),
    );
    assert.match(byId.get('d1') ?? '', /out\nerr/);
    assert.match(byId.get('d1') ?? '', /exit code 3/);
    assert.match(byId.get('d3') ?? '', /line two/);
    assert.equal(await sandbox.files.read('/workspace/notes.md'), 'line one\nline two\n');
  });

  test('file primitives report the protocol errors, and fork gives independent backends', async () => {
    const backend = new MitosSandboxBackend(sandbox);
    const [missing] = await backend.downloadFiles(['/workspace/absent.txt']);
    assert.equal(missing?.error, 'file_not_found');
    const [up] = await backend.uploadFiles([['/workspace/up.bin', new Uint8Array([0, 1, 2, 255])]]);
    assert.equal(up?.error, null);
    const [down] = await backend.downloadFiles(['/workspace/up.bin']);
    assert.deepEqual([...(down?.content ?? [])], [0, 1, 2, 255]);
    const [child] = await backend.fork(1);
    assert.ok(child);
    await child.uploadFiles([['/workspace/up.bin', new Uint8Array([9])]]);
    assert.deepEqual([...((await backend.downloadFiles(['/workspace/up.bin']))[0]?.content ?? [])], [0, 1, 2, 255]);
    await child.sandbox.terminate();
  });
});
