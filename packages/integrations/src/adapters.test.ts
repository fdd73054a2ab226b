/**
 * Each adapter driven by its framework's own machinery with a scripted model (no LLM, no
 * network) against a real server and engine: the model asks for a tool call, the call runs in
 * a real sandbox, and the framework hands the result back to the model.
 *
 * The Claude Agent SDK's loop runs a separate agent binary that talks to Anthropic's API, which
 * these machines cannot reach; its tools are tested through the in-process MCP server object
 * that `query()` would receive, with the MCP SDK's client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createCompute } from '@computesdk/provider';
import { AIMessage, HumanMessage, type ToolMessage } from '@langchain/core/messages';
import type { Sandbox } from '@mitos/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  Agent,
  type Model,
  type ModelRequest,
  type ModelResponse,
  run,
  setTracingDisabled,
  Usage,
} from '@openai/agents';
import { VibeKit } from '@vibe-kit/sdk';
import { generateText, stepCountIs } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { mitosTools } from './ai.js';
import { mitosMcpServer } from './claude-agent.js';
import { mitos } from './computesdk.js';
import { mitosStructuredTools } from './langchain.js';
import { mitosFunctionTools } from './openai-agents.js';
import { type LiveServer, liveServer } from './test-support/live.js';
import { ScriptedChatModel } from './test-support/scripted-chat-model.js';
import { createMitosProvider, type MitosSandboxInstance } from './vibekit.js';

const PNG_CELL = `
import base64
class Dot:
    def _repr_png_(self):
        return base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')
Dot()
`;

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

describe('framework adapters against a real sandbox', { timeout: 300_000 }, () => {
  let live: LiveServer;
  let sandbox: Sandbox;

  before(async () => {
    live = await liveServer();
    sandbox = live.sandbox;
  });
  after(() => live.stop());

  test('Vercel AI SDK: generateText runs run_code for the mock model and hands the PNG back as an image', async () => {
    const model = new MockLanguageModelV3({
      doGenerate: async (options) => {
        if (!options.prompt.some((m) => m.role === 'tool')) {
          return {
            content: [
              { type: 'tool-call', toolCallId: 'c1', toolName: 'run_code', input: JSON.stringify({ code: PNG_CELL }) },
            ],
            finishReason: { unified: 'tool-calls', raw: undefined },
            usage,
            warnings: [],
          };
        }
        return {
          content: [{ type: 'text', text: 'drew a dot' }],
          finishReason: { unified: 'stop', raw: undefined },
          usage,
          warnings: [],
        };
      },
    });
    const tools = mitosTools(sandbox);
    assert.deepEqual(Object.keys(tools).sort(), ['exec', 'fork', 'list_files', 'read_file', 'run_code', 'write_file']);
    const result = await generateText({ model, tools, prompt: 'draw', stopWhen: stepCountIs(3) });
    assert.equal(result.text, 'drew a dot');
    const second = model.doGenerateCalls[1];
    const toolMessage = second?.prompt.find((m) => m.role === 'tool');
    const output = toolMessage?.role === 'tool' ? toolMessage.content[0] : undefined;
    assert.ok(output?.type === 'tool-result' && output.output.type === 'content', 'tool result reached the model');
    const parts = output.output.type === 'content' ? output.output.value : [];
    assert.ok(parts.some((p) => p.type === 'image-data' && p.mediaType === 'image/png'));
  });

  test('OpenAI Agents: run() calls exec for a custom Model and returns its output to the model', async () => {
    setTracingDisabled(true);
    const requests: ModelRequest[] = [];
    const scripted: Model = {
      async getResponse(request): Promise<ModelResponse> {
        requests.push(request);
        const sawResult = JSON.stringify(request.input).includes('function_call_result');
        return {
          usage: new Usage(),
          output: sawResult
            ? [
                {
                  type: 'message',
                  role: 'assistant',
                  status: 'completed',
                  content: [
                    {
                      type: 'output_text',
                      text: `the sandbox said ${/stdout:\\n(\d+)/.exec(JSON.stringify(request.input))?.[1]}`,
                    },
                  ],
                },
              ]
            : [
                {
                  type: 'function_call',
                  callId: 'call-1',
                  name: 'exec',
                  arguments: JSON.stringify({ command: 'echo $((6 * 7))' }),
                  status: 'completed',
                },
              ],
        };
      },
      // biome-ignore lint/correctness/useYield: this scripted model never streams
      async *getStreamedResponse() {
        throw new Error('not used');
      },
    };
    const agent = new Agent({
      name: 'coder',
      instructions: 'use the sandbox',
      model: scripted,
      tools: mitosFunctionTools(sandbox),
    });
    const result = await run(agent, 'what is 6 * 7?');
    assert.equal(result.finalOutput, 'the sandbox said 42');
    assert.equal(requests.length, 2);
  });

  test('Claude Agent SDK: the in-process MCP server lists the tools and runs them (via the MCP client, no agent binary)', async () => {
    const config = mitosMcpServer(sandbox);
    assert.equal(config.type, 'sdk');
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await config.instance.connect(serverSide);
    const client = new Client({ name: 'claude-agent-test', version: '0.0.0' });
    await client.connect(clientSide);
    const { tools } = await client.listTools();
    assert.equal(tools.find((t) => t.name === 'read_file')?.annotations?.readOnlyHint, true);
    const out = (await client.callTool({ name: 'exec', arguments: { command: 'echo claude' } })) as CallToolResult;
    assert.equal((out.structuredContent as { stdout: string }).stdout, 'claude\n');
    const cell = (await client.callTool({ name: 'run_code', arguments: { code: PNG_CELL } })) as CallToolResult;
    assert.ok(cell.content.some((c) => c.type === 'image' && c.mimeType === 'image/png'));
    const forked = (await client.callTool({ name: 'fork', arguments: {} })) as CallToolResult;
    const [child] = (forked.structuredContent as { child_ids: string[] }).child_ids;
    const stranger = (await client.callTool({
      name: 'read_file',
      arguments: { path: '/etc/hostname', sandbox_id: 'someone-else' },
    })) as CallToolResult;
    assert.equal(stranger.isError, true);
    assert.equal((stranger.structuredContent as { error: { code: string } }).error.code, 'not_found');
    await client.close();
    assert.ok(child && (await live.api.listSandboxes()).some((s) => s.id === child));
    await (await import('@mitos/sdk')).Sandbox.connect(child, { baseUrl: live.url }).then((s) => s.terminate());
  });

  test('LangChain: a fake tool-calling chat model asks for write_file, the structured tool runs, the ToolMessage goes back', async () => {
    const tools = mitosStructuredTools(sandbox);
    const byName = new Map(tools.map((t) => [t.name, t]));
    const model = new ScriptedChatModel([
      new AIMessage({
        content: '',
        tool_calls: [
          {
            type: 'tool_call',
            id: 'lc-1',
            name: 'write_file',
            args: { path: '/workspace/lc.txt', content: 'from langchain' },
          },
        ],
      }),
      new AIMessage('written'),
    ]);
    const bound = model.bindTools(tools);
    const history = [new HumanMessage('write a file')];
    const first = await bound.invoke(history);
    assert.equal(first.tool_calls?.length, 1);
    const call = first.tool_calls?.[0];
    assert.ok(call);
    const toolMessage = (await byName.get(call.name)?.invoke(call)) as ToolMessage;
    assert.equal(toolMessage.tool_call_id, 'lc-1');
    assert.match(String(toolMessage.content), /wrote 14 bytes/);
    const second = await bound.invoke([...history, first, toolMessage]);
    assert.equal(second.content, 'written');
    assert.equal((model.seen[1]?.at(-1) as ToolMessage | undefined)?.tool_call_id, 'lc-1');
    assert.equal(await sandbox.files.read('/workspace/lc.txt'), 'from langchain');
  });

  test('VibeKit: executeCommand creates a mitos sandbox through the provider, with secrets as env, and kill ends it', async () => {
    const kit = new VibeKit()
      .withAgent({ type: 'codex', provider: 'openai', apiKey: 'unused-no-model-call', model: 'unused' })
      .withSandbox(createMitosProvider({ baseUrl: live.url, templateId: 'python' }))
      .withSecrets({ GREETING: 'hello-vibekit' })
      .withWorkingDirectory('/workspace/vibe');
    const result = (await kit.executeCommand('echo $GREETING && pwd')) as {
      sandboxId: string;
      stdout: string;
      exitCode: number;
    };
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, 'hello-vibekit\n/workspace/vibe\n');
    assert.ok((await live.api.listSandboxes()).some((s) => s.id === result.sandboxId));
    const instance = (await kit.agent.getSandbox()) as MitosSandboxInstance;
    const [copy] = await instance.fork(1);
    assert.equal((await copy?.commands.run('echo $GREETING'))?.stdout, 'hello-vibekit\n');
    await copy?.kill();
    await kit.kill();
    assert.ok(!(await live.api.listSandboxes()).some((s) => s.id === result.sandboxId));
  });

  test('ComputeSDK: createCompute with the mitos provider creates, runs, moves files and destroys; unknown options are refused', async () => {
    const compute = createCompute({ defaultProvider: mitos({ baseUrl: live.url }) });
    const sb = await compute.sandbox.create({ templateId: 'python', envs: { ANSWER: '42' } });
    assert.equal(sb.provider, 'mitos');
    const out = await sb.runCommand('echo $ANSWER');
    assert.equal(out.stdout, '42\n');
    const streamed: string[] = [];
    await sb.runCommand('echo streamed', { onStdout: (d) => streamed.push(d) });
    assert.equal(streamed.join(''), 'streamed\n');
    await sb.filesystem.writeFile('/workspace/c.txt', 'compute');
    assert.equal(await sb.filesystem.readFile('/workspace/c.txt'), 'compute');
    assert.ok((await sb.filesystem.readdir('/workspace')).some((e) => e.name === 'c.txt' && e.type === 'file'));
    assert.equal((await sb.getInfo()).status, 'running');
    const [child] = await (sb.getInstance() as Sandbox).fork(1);
    assert.equal(await child?.files.read('/workspace/c.txt'), 'compute');
    await child?.terminate();
    await sb.destroy();
    assert.ok(!(await live.api.listSandboxes()).some((s) => s.id === sb.sandboxId));
    await assert.rejects(compute.sandbox.create({ snapshotId: 'snap-1' }), (err: Error) =>
      /snapshotId/.test(err.message),
    );
  });
});
