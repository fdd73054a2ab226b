import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code } from '@connectrpc/connect';
import { ERROR_CATALOGUE, type ErrorCode, MitosError } from '@mitos/protocol';
import { makeTestApp, type TestApp, withSandbox } from '@mitos/testkit/server';
import { CONNECT_SERVICE_PREFIX, connectCodeFor } from './codes.js';
import { argvCommand } from './command.js';
import { Sandbox } from './gen/sandbox/v1/sandbox_pb.js';
import { CONNECT_PATH_PREFIX } from './mount.js';
import { regularFileBytes } from './upload.js';

const KEY = 'connect-test-key-31';

function frame(message: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(message));
  const header = Buffer.alloc(5);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

async function unary(t: TestApp, method: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await t.app.request(`http://localhost/sandbox.v1.Sandbox/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
}

async function stream(t: TestApp, method: string, message: unknown, headers: Record<string, string> = {}) {
  const res = await t.app.request(`http://localhost/sandbox.v1.Sandbox/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/connect+json', ...headers },
    body: frame(message),
  });
  const body = Buffer.from(await res.arrayBuffer());
  const frames: Array<{ flags: number; json: Record<string, unknown> }> = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    frames.push({ flags: body[at] as number, json: JSON.parse(body.subarray(at + 5, at + 5 + length).toString()) });
    at += 5 + length;
  }
  return { status: res.status, frames };
}

/** The Connect error in a stream's end-of-stream frame. */
function streamError(reply: { frames: Array<{ json: Record<string, unknown> }> }) {
  return reply.frames.at(-1)?.json.error as { code?: string; message?: string } | undefined;
}

describe('Connect sandbox.v1.Sandbox over the fake engine', () => {
  it('serves under the service path the error responder recognises', () => {
    assert.equal(CONNECT_PATH_PREFIX, CONNECT_SERVICE_PREFIX);
    assert.equal(Sandbox.typeName, 'sandbox.v1.Sandbox');
  });

  it('maps every catalogue code to a Connect code a client can branch on', () => {
    const expected: Partial<Record<ErrorCode, Code>> = {
      not_found: Code.NotFound,
      exec_timeout: Code.DeadlineExceeded,
      unauthorized: Code.Unauthenticated,
      too_many_streams: Code.ResourceExhausted,
      sandbox_not_running: Code.FailedPrecondition,
      not_implemented: Code.Unimplemented,
      invalid_json: Code.InvalidArgument,
      timeout_too_large: Code.InvalidArgument,
    };
    for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
      const mapped = connectCodeFor(new MitosError(code));
      assert.ok(mapped >= Code.Canceled && mapped <= Code.Unauthenticated, code);
      if (expected[code] !== undefined) assert.equal(mapped, expected[code], code);
    }
  });

  it('answers auth failures in Connect shape, and the header names the sandbox for tokens', async () => {
    const keyed = makeTestApp({ apiKeys: [KEY] });
    await withSandbox(keyed);
    const refused = await unary(keyed, 'List', { parent: '/' }, { 'X-Sandbox-Id': 'sb-1' });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.code, 'unauthenticated');
    const ok = await unary(keyed, 'List', { parent: '/' }, { 'X-Sandbox-Id': 'sb-1', Authorization: `Bearer ${KEY}` });
    assert.equal(ok.status, 200);

    const tokens = makeTestApp({ sandboxTokens: { verify: (id, token) => token === `token-of-${id}` } });
    await withSandbox(tokens, 'sb-1');
    await withSandbox(tokens, 'sb-2');
    const other = await unary(
      tokens,
      'Mkdir',
      { path: '/x' },
      { 'X-Sandbox-Id': 'sb-2', Authorization: 'Bearer token-of-sb-1' },
    );
    assert.equal(other.status, 401);
    assert.match(other.body.message ?? '', /sb-2/);
    const own = await unary(
      tokens,
      'Mkdir',
      { path: '/x' },
      { 'X-Sandbox-Id': 'sb-1', Authorization: 'Bearer token-of-sb-1' },
    );
    assert.equal(own.status, 200);
  });

  it('refuses a paused sandbox, a full stream cap and a missing header before starting work', async () => {
    const t = makeTestApp({ maxStreamsPerSandbox: 1 });
    await withSandbox(t);
    const noHeader = await stream(t, 'ExecStream', { command: 'true' });
    assert.equal(streamError(noHeader)?.code, 'invalid_argument');

    let release: () => void = () => {};
    t.engine.onExec = () =>
      new Promise((resolve) => {
        release = () =>
          resolve({ exitCode: 0, timedOut: false, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), durationMs: 1 });
      });
    const held = stream(t, 'ExecStream', { command: 'sleep 1' }, { 'X-Sandbox-Id': 'sb-1' });
    await new Promise((r) => setImmediate(r));
    const second = await stream(t, 'ExecStream', { command: 'true' }, { 'X-Sandbox-Id': 'sb-1' });
    assert.equal(streamError(second)?.code, 'resource_exhausted');
    release();
    // proto3 JSON leaves a zero exitCode out; the clients read it as 0.
    assert.deepEqual((await held).frames.at(-2)?.json, { exit: { execTimeMs: 1 } });

    await t.engine.pause('sb-1');
    const paused = await stream(t, 'RunCodeStream', { code: '1' }, { 'X-Sandbox-Id': 'sb-1' });
    assert.equal(streamError(paused)?.code, 'failed_precondition');
    assert.match(streamError(paused)?.message ?? '', /sandbox_not_running/);
  });

  it('reads the sandbox once per stream call: the lookup of the engine call, none by the route first', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const reads = async (method: string, message: unknown) => {
      const before = t.engine.lookups;
      const reply = await stream(t, method, message, { 'X-Sandbox-Id': 'sb-1' });
      assert.equal(streamError(reply), undefined);
      return t.engine.lookups - before;
    };
    assert.deepEqual(
      [await reads('ExecStream', { command: 'true' }), await reads('RunCodeStream', { code: '1' })],
      [1, 1],
    );
    const unknown = await stream(t, 'ExecStream', { command: 'true' }, { 'X-Sandbox-Id': 'ghost' });
    assert.equal(streamError(unknown)?.code, 'not_found');
    assert.equal(t.engine.execCalls.length, 1);
  });

  it('quotes an argv so the shell runs it word for word', () => {
    assert.equal(argvCommand(['echo', "it's", '$HOME']), `exec 'echo' 'it'\\''s' '$HOME'`);
  });

  it('reads tar headers and refuses what is not a tar', () => {
    const header = Buffer.alloc(512);
    header.write('f', 0);
    header.write('0000644\0', 100);
    header.write('00000000005\0', 124);
    header[156] = '0'.charCodeAt(0);
    header.write('ustar\0', 257);
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    const archive = Buffer.concat([header, Buffer.alloc(512, 0), Buffer.alloc(1024)]);
    archive.write('hello', 512);
    assert.equal(regularFileBytes(archive), 5);
    const notTar = (err: unknown) => err instanceof MitosError && /not a tar/.test(err.detail);
    assert.throws(() => regularFileBytes(Buffer.alloc(700, 1)), notTar);
    assert.throws(() => regularFileBytes(Buffer.alloc(0)), notTar);
  });
});
