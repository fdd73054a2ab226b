import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BEARER_SUBPROTOCOL_PREFIX } from '@mitos/protocol';
import type { FakeProcess } from '@mitos/testkit';
import { type LiveServer, makeTestApp, startLiveServer, waitFor, withSandbox } from '@mitos/testkit/server';
import { WebSocket } from 'ws';
import { PTY_SUBPROTOCOL } from '../pty/websocket.js';
import { TERMINAL_COMMAND } from './pty.js';

const KEY = 'pty-test-key-77';
const auth = { headers: { Authorization: `Bearer ${KEY}` } };

type Frame = { kind: string; data?: string; exit_code?: number; error?: string };

/** Opens a terminal and collects its frames; `ws.next()` waits for the next one. */
async function openTerminal(url: string, options: { headers?: Record<string, string> } = auth) {
  const ws = new WebSocket(url, [PTY_SUBPROTOCOL], options);
  const frames: Frame[] = [];
  const waiting: Array<(frame: Frame) => void> = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    const waiter = waiting.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  await once(ws, 'open');
  return {
    ws,
    next: (): Promise<Frame> =>
      frames.length > 0 ? Promise.resolve(frames.shift() as Frame) : new Promise((resolve) => waiting.push(resolve)),
  };
}

/** The HTTP answer to an upgrade that the server refused before switching protocols. */
async function refusal(url: string, headers: Record<string, string> = auth.headers) {
  const ws = new WebSocket(url, [PTY_SUBPROTOCOL], { headers });
  ws.on('error', () => {});
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  let text = '';
  for await (const chunk of res) text += chunk;
  ws.terminate();
  return { status: res.statusCode, body: JSON.parse(text) as { error: { code: string; context?: object } } };
}

describe('GET /v1/pty', () => {
  let live: LiveServer;
  let wsBase: string;
  const shells: FakeProcess[] = [];

  before(async () => {
    live = await startLiveServer({ apiKeys: [KEY], maxStreamsPerSandbox: 2 });
    wsBase = `${live.url.replace('http://', 'ws://')}/v1/pty`;
    live.engine.onStartProcess = (shell) => {
      shells.push(shell);
      // A terminal echoes what is typed.
      shell.onInput = (data) => shell.emit('stdout', data);
    };
  });
  after(() => live.close());

  it('selects the mitos.pty.v1 subprotocol and starts a login shell under a pty of the asked size', async () => {
    const lookups = live.engine.lookups;
    const { ws } = await openTerminal(`${wsBase}?sandbox=sb-1&cols=132&rows=40`);
    assert.equal(ws.protocol, PTY_SUBPROTOCOL);
    // The engine's lookup is the only read of the sandbox (routes/lookups.test.ts has the others).
    assert.equal(live.engine.lookups - lookups, 1);
    const shell = shells.at(-1) as FakeProcess;
    const { onAccepted, ...options } = shell.options;
    assert.equal(typeof onAccepted, 'function');
    assert.deepEqual(options, {
      command: TERMINAL_COMMAND,
      env: { TERM: 'xterm-256color' },
      timeoutMs: 0,
      pty: { cols: 132, rows: 40 },
      stdin: true,
    });
    ws.close();
    await once(ws, 'close');
  });

  it('round-trips input and output, applies resizes, and ends with the exit frame and close 1000', async () => {
    const term = await openTerminal(`${wsBase}?sandbox=sb-1`);
    const shell = shells.at(-1) as FakeProcess;
    assert.deepEqual(shell.options.pty, { cols: 80, rows: 24 });
    term.ws.send(JSON.stringify({ kind: 'input', data: Buffer.from('ls\r').toString('base64') }));
    const echoed = await term.next();
    assert.deepEqual(echoed, { kind: 'output', data: Buffer.from('ls\r').toString('base64') });
    term.ws.send(JSON.stringify({ kind: 'resize', cols: 100, rows: 30 }));
    term.ws.send('not json');
    term.ws.send(JSON.stringify({ kind: 'resize', cols: 0, rows: 30 }));
    term.ws.send(JSON.stringify({ kind: 'input', data: Buffer.from('x').toString('base64') }));
    await term.next();
    assert.deepEqual(shell.resizes, [{ cols: 100, rows: 30 }]);

    const closed = once(term.ws, 'close');
    shell.exit(0);
    assert.deepEqual(await term.next(), { kind: 'exit', exit_code: 0 });
    const [code] = await closed;
    assert.equal(code, 1000);
  });

  it('kills the shell when the client closes, and frees the stream slot', async () => {
    const a = await openTerminal(`${wsBase}?sandbox=sb-1`);
    const b = await openTerminal(`${wsBase}?sandbox=sb-1`);
    const capped = await refusal(`${wsBase}?sandbox=sb-1`);
    assert.equal(capped.status, 429);
    assert.equal(capped.body.error.code, 'too_many_streams');

    const shellA = shells.at(-2) as FakeProcess;
    a.ws.close();
    await waitFor(() => shellA.exited);
    assert.deepEqual(shellA.signals, [9]);
    const c = await openTerminal(`${wsBase}?sandbox=sb-1`);
    for (const term of [b, c]) {
      term.ws.close();
      await once(term.ws, 'close');
    }
  });

  it('refuses before the upgrade with envelopes: 400, 401, 404, 409', async () => {
    const missing = await refusal(`${wsBase}?cols=80`);
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'invalid_json');
    const unauthenticated = await refusal(`${wsBase}?sandbox=sb-1`, {});
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.body.error.code, 'unauthorized');
    const unknown = await refusal(`${wsBase}?sandbox=ghost`);
    assert.equal(unknown.status, 404);
    await live.engine.create({ id: 'sb-paused', templateId: 'python' });
    await live.engine.pause('sb-paused');
    const paused = await refusal(`${wsBase}?sandbox=sb-paused`);
    assert.equal(paused.status, 409);
    assert.equal(paused.body.error.code, 'sandbox_not_running');
  });

  it('ends the terminal with an error exit frame when the sandbox is terminated', async () => {
    await live.engine.create({ id: 'sb-doomed', templateId: 'python' });
    const term = await openTerminal(`${wsBase}?sandbox=sb-doomed`);
    live.engine.onStartProcess = undefined;
    const closed = once(term.ws, 'close');
    await live.engine.terminate('sb-doomed');
    const exit = await term.next();
    assert.equal(exit.kind, 'exit');
    assert.equal(exit.exit_code, 1);
    assert.match(exit.error ?? '', /^pty stream failed: /);
    assert.equal((await closed)[0], 1000);
  });

  it('answers an unknown path upgrade with a 404 envelope', async () => {
    const res = await refusal(`${live.url.replace('http://', 'ws://')}/v1/nowhere`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
  });

  it('takes the key a browser offers as a bearer subprotocol, and never selects that subprotocol', async () => {
    const offered = (key: string) => `${BEARER_SUBPROTOCOL_PREFIX}${Buffer.from(key).toString('base64url')}`;
    const ws = new WebSocket(`${wsBase}?sandbox=sb-1`, [PTY_SUBPROTOCOL, offered(KEY)]);
    await once(ws, 'open');
    assert.equal(ws.protocol, PTY_SUBPROTOCOL);
    ws.close();
    await once(ws, 'close');
    for (const protocols of [
      [PTY_SUBPROTOCOL, offered('wrong-key')],
      [PTY_SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}%%%`],
    ]) {
      const refused = new WebSocket(`${wsBase}?sandbox=sb-1`, protocols);
      refused.on('error', () => {});
      const [, res] = (await once(refused, 'unexpected-response')) as [unknown, IncomingMessage];
      assert.equal(res.statusCode, 401);
      refused.terminate();
    }
  });

  it('reads the subprotocol key only on upgrades: a plain request carrying it is refused', async () => {
    const res = await fetch(`${live.url}/v1/health`, {
      headers: { 'Sec-WebSocket-Protocol': `${BEARER_SUBPROTOCOL_PREFIX}${Buffer.from(KEY).toString('base64url')}` },
    });
    assert.equal(res.status, 401);
  });
});

describe('GET /v1/pty without an upgrade', () => {
  it('answers 400 and starts nothing', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const res = await t.call('/v1/pty?sandbox=sb-1');
    assert.equal(res.status, 400);
    assert.equal(t.engine.processes.size, 0);
  });
});

describe('terminals at server shutdown', () => {
  it('are cut and their shells killed when the server closes', async () => {
    const live = await startLiveServer();
    const term = await openTerminal(`${live.url.replace('http://', 'ws://')}/v1/pty?sandbox=sb-1`, {});
    const shell = [...live.engine.processes.values()][0] as FakeProcess;
    const closed = once(term.ws, 'close');
    await live.close();
    await closed;
    await waitFor(() => shell.exited);
  });
});
