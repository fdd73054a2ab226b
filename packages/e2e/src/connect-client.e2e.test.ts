/**
 * A Connect client generated from the same proto (@connectrpc/connect-node over HTTP/1.1)
 * drives every RPC the server implements against the real server on the real engine, with
 * the JSON and the binary codec, and the terminal over the WebSocket the clients use.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { type Client, Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { CONNECT_WS_SUBPROTOCOL, Sandbox } from '@mitos/server/connect';
import { WebSocket } from 'ws';
import { END_STREAM, envelope, parseFrames } from './connect-wire.js';
import { type LiveServer, liveServer } from './fixtures.js';

type SandboxClient = Client<typeof Sandbox>;

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error('the call succeeded');
}

async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString('utf8');

describe('end to end: a generated Connect client, both codecs', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let sandboxId: string;
  const clients = new Map<string, SandboxClient>();
  const headers = () => ({ headers: { 'X-Sandbox-Id': sandboxId } });

  before(async () => {
    live = await liveServer();
    await fetch(`${live.url}/v1/templates`, { method: 'POST', body: JSON.stringify({ id: 'python' }) });
    const res = await fetch(`${live.url}/v1/fork`, { method: 'POST', body: JSON.stringify({ template: 'python' }) });
    sandboxId = ((await res.json()) as { id: string }).id;
    for (const useBinaryFormat of [false, true]) {
      const transport = createConnectTransport({ baseUrl: live.url, httpVersion: '1.1', useBinaryFormat });
      clients.set(useBinaryFormat ? 'binary' : 'json', createClient(Sandbox, transport));
    }
  });
  after(() => live?.stop());

  for (const codec of ['json', 'binary']) {
    const client = () => clients.get(codec) as SandboxClient;

    test(`${codec}: ExecStream with argv, env and cwd; bidi Exec feeding stdin`, async () => {
      const replies = await drain(
        client().execStream(
          {
            command: 'sh',
            args: ['-c', 'echo "$GREETING $1" from $(pwd)', 'sh', "a 'quoted' $word"],
            env: [{ key: 'GREETING', value: 'hi' }],
            cwd: '/tmp',
          },
          headers(),
        ),
      );
      const out = replies.flatMap((r) => (r.msg.case === 'stdout' ? [r.msg.value] : []));
      assert.equal(text(out), "hi a 'quoted' $word from /tmp\n");
      const exit = replies.at(-1)?.msg;
      assert.equal(exit?.case, 'exit');
      assert.equal(exit?.case === 'exit' && exit.value.exitCode, 0);

      async function* input() {
        yield { msg: { case: 'open' as const, value: { command: 'cat; echo done >&2' } } };
        yield { msg: { case: 'stdin' as const, value: Buffer.from('through stdin') } };
        yield { msg: { case: 'stdinClose' as const, value: true } };
      }
      const bidi = await drain(client().exec(input(), headers()));
      assert.equal(text(bidi.flatMap((r) => (r.msg.case === 'stdout' ? [r.msg.value] : []))), 'through stdin');
      assert.equal(text(bidi.flatMap((r) => (r.msg.case === 'stderr' ? [r.msg.value] : []))), 'done\n');
    });

    test(`${codec}: RunCode and RunCodeStream share the interpreter`, async () => {
      async function* open() {
        yield { msg: { case: 'open' as const, value: { code: `v_${codec} = 6 * 7` } } };
      }
      const first = await drain(client().runCode(open(), headers()));
      assert.deepEqual(first.at(-1)?.msg, { case: 'exitCode', value: 0 });
      const second = await drain(client().runCodeStream({ code: `v_${codec}`, language: 'python' }, headers()));
      const result = second.find((r) => r.msg.case === 'result')?.msg;
      assert.equal(result?.case === 'result' && result.value.text, '42');
      assert.equal(result?.case === 'result' && Buffer.from(result.value.data['text/plain'] ?? []).toString(), '42');
    });

    test(`${codec}: WriteFile in chunks, ReadFile in chunks, Stat, List pages, Mkdir, Remove`, async () => {
      const dir = `/workspace/${codec}`;
      await client().mkdir({ path: `${dir}/sub` }, headers());
      const big = Buffer.alloc(600 * 1024, 'x');
      async function* write() {
        yield { msg: { case: 'open' as const, value: { path: `${dir}/big.bin`, mode: 0o640 } } };
        yield { msg: { case: 'data' as const, value: big.subarray(0, 300_000) } };
        yield { msg: { case: 'data' as const, value: big.subarray(300_000) } };
      }
      assert.equal((await client().writeFile(write(), headers())).bytesWritten, BigInt(big.length));
      const chunks = await drain(client().readFile({ path: `${dir}/big.bin` }, headers()));
      assert.ok(chunks.length > 1);
      assert.deepEqual(Buffer.concat(chunks.map((c) => c.data)), big);
      assert.deepEqual(
        chunks.map((c) => c.eof),
        [...chunks.slice(1).map(() => false), true],
      );
      const info = await client().stat({ path: `${dir}/big.bin` }, headers());
      assert.equal(info.size, BigInt(big.length));
      assert.equal(info.mode & 0o777, 0o640);
      assert.equal(info.isDir, false);

      for (const name of ['a', 'b', 'c']) {
        async function* small() {
          yield { msg: { case: 'open' as const, value: { path: `${dir}/${name}.txt` } } };
        }
        await client().writeFile(small(), headers());
      }
      const page1 = await client().list({ parent: dir, pageSize: 3 }, headers());
      const page2 = await client().list({ parent: dir, pageSize: 3, pageToken: page1.nextPageToken }, headers());
      assert.deepEqual(
        [...page1.entries, ...page2.entries].map((e) => e.name),
        ['a.txt', 'b.txt', 'big.bin', 'c.txt', 'sub'],
      );
      assert.equal(page2.nextPageToken, '');
      const dirs = await client().list({ parent: dir, filter: 'is_dir=true' }, headers());
      assert.deepEqual(
        dirs.entries.map((e) => e.path),
        [`${dir}/sub`],
      );

      await client().remove({ path: dir, recursive: true }, headers());
      assert.equal((await rejection(client().stat({ path: dir }, headers()))).code, Code.NotFound);
    });

    test(`${codec}: Upload extracts a tar inside the sandbox`, async () => {
      const made = await drain(
        client().execStream(
          { command: 'mkdir -p /tmp/src/d && printf abc > /tmp/src/d/f && tar -cf - -C /tmp/src d | base64 -w0' },
          headers(),
        ),
      );
      const tar = Buffer.from(text(made.flatMap((r) => (r.msg.case === 'stdout' ? [r.msg.value] : []))), 'base64');
      async function* up() {
        yield { msg: { case: 'open' as const, value: { dest: `/workspace/up-${codec}` } } };
        yield { msg: { case: 'chunk' as const, value: tar.subarray(0, 700) } };
        yield { msg: { case: 'chunk' as const, value: tar.subarray(700) } };
      }
      assert.equal((await client().upload(up(), headers())).bytesWritten, 3n);
      const read = await drain(client().readFile({ path: `/workspace/up-${codec}/d/f` }, headers()));
      assert.equal(text(read.map((c) => c.data)), 'abc');
      async function* notTar() {
        yield { msg: { case: 'open' as const, value: { dest: '/workspace/x' } } };
        yield { msg: { case: 'chunk' as const, value: Buffer.alloc(1024, 1) } };
      }
      assert.equal((await rejection(client().upload(notTar(), headers()))).code, Code.InvalidArgument);
    });

    test(`${codec}: errors: missing file, unknown sandbox, no header, unserved RPC, stdin to a cell`, async () => {
      const missing = await rejection(drain(client().readFile({ path: '/workspace/none' }, headers())));
      assert.equal(missing.code, Code.NotFound);
      assert.equal(missing.metadata.get('mitos-error-code'), 'not_found');
      const unknown = await rejection(
        client().list({ parent: '/' }, { headers: { 'X-Sandbox-Id': 'sandbox-nobody' } }),
      );
      assert.equal(unknown.code, Code.NotFound);
      assert.equal((await rejection(client().mkdir({ path: '/x' }))).code, Code.InvalidArgument);
      assert.equal(
        (await rejection(drain(client().archive({ path: '/workspace' }, headers())))).code,
        Code.Unimplemented,
      );
      async function* withStdin() {
        yield { msg: { case: 'open' as const, value: { code: 'import time; time.sleep(3)' } } };
        yield { msg: { case: 'stdin' as const, value: Buffer.from('x') } };
      }
      assert.equal((await rejection(drain(client().runCode(withStdin(), headers())))).code, Code.Unimplemented);
    });
  }

  test('terminal: the Connect Exec over a WebSocket, as the clients open it', async () => {
    const url = `${live.url.replace('http://', 'ws://')}/sandbox.v1.Sandbox/Exec?sandbox=${sandboxId}`;
    const ws = new WebSocket(url, [CONNECT_WS_SUBPROTOCOL]);
    let output = '';
    const frames: Array<{ flags: number; json: { exit?: { exitCode?: number } } }> = [];
    ws.on('message', (data: Buffer) => {
      for (const frame of parseFrames(data)) {
        frames.push(frame);
        const json = frame.json as { stdout?: string };
        if (json.stdout) output += Buffer.from(json.stdout, 'base64').toString();
      }
    });
    await once(ws, 'open');
    assert.equal(ws.protocol, CONNECT_WS_SUBPROTOCOL);
    ws.send(envelope({ open: { pty: { size: { cols: 100, rows: 30 } } } }));
    ws.send(envelope({ stdin: Buffer.from('stty size\n').toString('base64') }));
    while (!output.includes('30 100')) await once(ws, 'message');
    ws.send(envelope({ resize: { cols: 120, rows: 40 } }));
    ws.send(envelope({ stdin: Buffer.from('stty size; exit 7\n').toString('base64') }));
    const [code] = await once(ws, 'close');
    assert.equal(code, 1000);
    assert.match(output, /40 120/);
    const last = frames.at(-1);
    assert.equal(last?.flags, END_STREAM);
    assert.equal(last?.json.exit?.exitCode, 7);

    const refused = new WebSocket(url.replace(sandboxId, 'sandbox-nobody'), [CONNECT_WS_SUBPROTOCOL]);
    refused.on('error', () => {});
    const [, res] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 404);
    refused.terminate();
  });
});
