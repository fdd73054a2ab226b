import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Seen, useFakeServer } from '../test-support/fake-server.js';
import type { WsPeer } from '../test-support/ws-peer.js';

const KEY = 'sk-live-0123456789abcdef';
const { fake, cli } = useFakeServer({
  prefix: 'mitos-cli-shell-',
  sandboxes: { 'sb-1': 'python' },
  env: { MITOS_API_KEY: KEY },
});

/** A pretend shell: prints a prompt, answers `echo X`, ends on `exit N` or on Ctrl-D. */
function fakeShell(frames: Record<string, unknown>[]): (peer: WsPeer, req: Seen) => void {
  return (peer) => {
    const out = (s: string) => peer.send(JSON.stringify({ kind: 'output', data: Buffer.from(s).toString('base64') }));
    const exit = (code: number) => {
      peer.send(JSON.stringify({ kind: 'exit', exit_code: code }));
      peer.close(1000);
    };
    let line = '';
    out('$ ');
    peer.onMessage = (text) => {
      const frame = JSON.parse(text) as Record<string, unknown>;
      frames.push(frame);
      if (frame.kind !== 'input') return;
      for (const ch of Buffer.from(String(frame.data), 'base64').toString('utf8')) {
        if (ch === '\x04') return exit(0);
        if (ch !== '\n') {
          line += ch;
          continue;
        }
        const [cmd, ...rest] = line.split(' ');
        line = '';
        if (cmd === 'exit') return exit(Number(rest[0] ?? 0));
        if (cmd === 'echo') out(`${rest.join(' ')}\r\n$ `);
      }
    };
  };
}

describe('sandbox shell (stdin not a TTY)', () => {
  test('pipes stdin as input frames, prints output, exits with the shell status', async () => {
    const frames: Record<string, unknown>[] = [];
    fake.onPty = fakeShell(frames);
    const r = await cli(['sandbox', 'shell', 'sb-1'], { input: 'echo hi there\nexit 3\n' });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, '$ hi there\r\n$ ');
    assert.equal(r.stderr, '');
    const upgrade = fake.seen.find((s) => s.url.startsWith('/v1/pty'));
    assert.equal(upgrade?.url, '/v1/pty?sandbox=sb-1&cols=80&rows=24');
    assert.equal(upgrade?.headers['sec-websocket-protocol'], 'mitos.pty.v1');
    assert.equal(upgrade?.headers.authorization, `Bearer ${KEY}`);
    const typed = frames
      .filter((f) => f.kind === 'input')
      .map((f) => Buffer.from(String(f.data), 'base64').toString())
      .join('');
    assert.ok(typed.startsWith('echo hi there\nexit 3\n'));
  });

  test('the end of piped input is Ctrl-D, so the shell ends normally', async () => {
    fake.onPty = fakeShell([]);
    const r = await cli(['sandbox', 'shell', 'sb-1'], { input: 'echo bye\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '$ bye\r\n$ ');
  });

  test('a terminal that closes without an exit status exits 1 with the reason', async () => {
    fake.onPty = (peer) => peer.close(1011);
    const r = await cli(['sandbox', 'shell', 'sb-1'], { input: '' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[terminal_disconnected\]/);
  });
});
