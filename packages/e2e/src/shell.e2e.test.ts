// Drives `mitos sandbox shell` in tmux as a person would: type, read the screen, resize, exit.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { CLI, type LiveServer, liveServer } from './fixtures.js';

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });

describe('end to end: mitos sandbox shell in a real terminal', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let sb: Sandbox;
  const session = `mitos-e2e-${process.pid}`;
  const screen = () => tmux('capture-pane', '-p', '-t', session);
  const waitFor = async (re: RegExp, what: string) => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (re.test(screen())) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`screen never showed ${what}:\n${screen()}`);
  };

  before(async () => {
    live = await liveServer();
    sb = await create('python', { baseUrl: live.url });
  });
  after(async () => {
    try {
      tmux('kill-session', '-t', session);
    } catch {
      // already gone: the shell exited
    }
    await sb?.terminate().catch(() => {});
    await live.stop();
  });

  test('type a command, read the screen, resize, exit with a code', async () => {
    const status = `/tmp/mitos-e2e-shell-${process.pid}.status`;
    tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '100',
      '-y',
      '30',
      `${process.execPath} ${CLI} --base-url ${live.url} sandbox shell ${sb.id}; echo "exit=$?" > ${status}; sleep 30`,
    );
    await waitFor(/[#$] *$/m, 'a prompt');
    tmux('send-keys', '-t', session, 'echo hello-from-$(hostname)', 'Enter');
    await waitFor(new RegExp(`hello-from-${sb.id}`), 'the command output');
    tmux('send-keys', '-t', session, 'stty size', 'Enter');
    await waitFor(/^30 100\s*$/m, 'the initial size');
    tmux('resize-window', '-t', session, '-x', '120', '-y', '40');
    await new Promise((r) => setTimeout(r, 300));
    tmux('send-keys', '-t', session, 'clear; stty size', 'Enter');
    await waitFor(/^40 120\s*$/m, 'the new size');
    tmux('send-keys', '-t', session, 'exit 7', 'Enter');
    const { readFileSync, rmSync } = await import('node:fs');
    const deadline = Date.now() + 10_000;
    let text = '';
    while (Date.now() < deadline) {
      try {
        text = readFileSync(status, 'utf8');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    rmSync(status, { force: true });
    assert.equal(text.trim(), 'exit=7');
  });
});
