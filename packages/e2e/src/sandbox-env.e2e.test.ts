// A sandbox's own env (`create({ env })`, `mitos sandbox create --env`), through the SDK and the
// CLI against a real server on the real engine: every way a sandbox runs something sees it, a
// call's own env wins, forks inherit it, GET shows it, and bad names are refused without the
// value (often a credential) appearing anywhere.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AgentRunError, create, type Sandbox } from '@mitos/sdk';
import { type LiveServer, liveServer, runCli } from './fixtures.js';

const SECRET = 'mitos-test-secret-6f1c2a';

/** A pino-shaped logger that keeps every line, to show no value reaches the server's log. */
function keepingLogger(lines: string[]) {
  const keep = (...args: unknown[]) =>
    lines.push(JSON.stringify(args, (_k, v) => (v instanceof Error ? String(v) : v)));
  const logger = { info: keep, warn: keep, error: keep, debug: keep, trace: keep, fatal: keep, child: () => logger };
  return Object.assign(logger, { level: 'trace' });
}

describe('end to end: per-sandbox env', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let sb: Sandbox;
  const made: Sandbox[] = [];
  const logged: string[] = [];
  const mitos = (...args: string[]) => runCli(['--base-url', live.url, ...args]);
  const poolReady = async () => {
    const deadline = Date.now() + 120_000;
    const ready = () => live.engine.pool?.status().templates.find((t) => t.template === 'python')?.ready ?? 0;
    while (ready() < 1) {
      assert.ok(Date.now() < deadline, 'the warm pool did not refill within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: a minimal stand-in for pino's Logger type
    live = await liveServer({
      serverOptions: { logger: keepingLogger(logged) as any },
      engineOptions: { warmPoolSize: 1, warmKernels: true },
    });
    sb = await create('python', { baseUrl: live.url, env: { GREETING: 'hello', API_TOKEN: SECRET } });
    made.push(sb);
  });
  after(async () => {
    for (const s of made) await s.terminate().catch(() => {});
    await live.stop();
  });

  test('exec, background processes, terminals and run_code see it; a call’s env wins', async () => {
    assert.equal((await sb.exec('echo "$GREETING $API_TOKEN"')).stdout, `hello ${SECRET}\n`);
    assert.equal((await sb.exec('echo "$GREETING"', { env: { GREETING: 'call' } })).stdout, 'call\n');
    const bg = await sb.execBackground('echo "bg $GREETING"');
    assert.equal((await bg.wait()).stdout, 'bg hello\n');
    let screen = '';
    const pty = await sb.createPty({ onData: (d) => (screen += Buffer.from(d).toString()) });
    pty.sendInput('echo "pty-$GREETING-end"; exit 0\n');
    assert.equal(await pty.wait(), 0);
    assert.match(screen, /pty-hello-end/);
    const py = await sb.runCode('import os\nos.environ["GREETING"]');
    assert.equal(py.error, undefined, JSON.stringify(py.error));
    assert.equal(py.text, "'hello'");
  });

  test('the javascript kernel sees it too (node template)', async () => {
    const node = await create('node', { baseUrl: live.url, env: { GREETING: 'from-env' } });
    made.push(node);
    const js = await node.runCode('process.env.GREETING', { language: 'javascript' });
    assert.equal(js.error, undefined, JSON.stringify(js.error));
    assert.match(js.text ?? '', /from-env/);
  });

  test('GET shows it, forks inherit it, and a sandbox from the pool gets its own', async () => {
    assert.deepEqual((await sb.info()).env, { GREETING: 'hello', API_TOKEN: SECRET });
    const [child] = await sb.fork(1);
    assert.ok(child);
    made.push(child);
    assert.equal((await child.exec('echo "$GREETING"')).stdout, 'hello\n');
    assert.deepEqual((await child.info()).env, { GREETING: 'hello', API_TOKEN: SECRET });
    // Two more creates of the same template: whichever comes from the warm pool (started before
    // anyone asked for this env) must run with its own env, not none and not another's.
    for (const value of ['one', 'two']) {
      const other = await create('python', { baseUrl: live.url, env: { GREETING: value } });
      made.push(other);
      assert.equal(
        (await other.exec('echo "$GREETING"; printenv API_TOKEN || echo unset')).stdout,
        `${value}\nunset\n`,
      );
      assert.equal((await other.runCode('import os; os.environ["GREETING"]')).text, `'${value}'`);
    }
    // A value is one value: a newline in it defines no second variable, in commands or the kernel.
    await poolReady();
    const tricky = await create('python', {
      baseUrl: live.url,
      env: { ONE: 'a\nINJECTED=1', Q: `x"}); import os; os.environ['INJECTED']=('` },
    });
    made.push(tricky);
    assert.equal((await tricky.exec('printenv INJECTED || echo none')).stdout, 'none\n');
    const inKernel = await tricky.runCode(
      'import os\n(os.environ.get("INJECTED"), os.environ["ONE"], os.environ["Q"])',
    );
    assert.equal(inKernel.text, `(None, 'a\\nINJECTED=1', 'x"}); import os; os.environ[\\'INJECTED\\']=(\\'')`);
    const plain = await create('python', { baseUrl: live.url });
    made.push(plain);
    assert.deepEqual((await plain.info()).env, {});
    assert.equal((await plain.exec('printenv GREETING || echo unset')).stdout, 'unset\n');
  });

  test('a bad name is a 400 naming it, and the value appears in no error or log', async () => {
    for (const env of [{ '1BAD': SECRET }, { 'A-B': SECRET }, { '': SECRET }, { OK: `a\0${SECRET}` }]) {
      const res = await fetch(`${live.url}/v1/fork`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ template: 'python', env }),
      });
      const text = await res.text();
      assert.equal(res.status, 400, text);
      assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'invalid_request');
      assert.ok(!text.includes(SECRET), text);
    }
    await assert.rejects(create('python', { baseUrl: live.url, env: { 'BAD NAME': SECRET } }), (err: unknown) => {
      assert.ok(err instanceof AgentRunError);
      assert.equal(err.status, 400);
      assert.match(err.message, /invalid env name "BAD NAME"/);
      assert.ok(!JSON.stringify({ ...err, message: err.message }).includes(SECRET));
      return true;
    });
    assert.ok(logged.length > 0, 'the server logged nothing at all');
    assert.ok(!logged.some((line) => line.includes(SECRET)), 'a value reached the server log');
    // Nothing was made by the refused creates.
    const ids = new Set(live.engine.list().map((s) => s.id));
    assert.deepEqual(
      [...ids].filter((id) => !made.some((s) => s.id === id)),
      [],
    );
  });

  test('mitos sandbox create --env, exec and info (names only, values with --json)', async () => {
    const created = await mitos('sandbox', 'create', '--env', 'A=1', '--env', 'B=x=y', '--env', `TOKEN=${SECRET}`);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    try {
      const r = await mitos('sandbox', 'exec', id, '--', 'echo "$A $B"');
      assert.equal(r.stdout, '1 x=y\n', r.stderr);
      const over = await mitos('sandbox', 'exec', '--env', 'A=2', id, '--', 'echo "$A"');
      assert.equal(over.stdout, '2\n', over.stderr);
      const info = await mitos('sandbox', 'info', id);
      assert.match(info.stdout, /env: +A, B, TOKEN/);
      assert.ok(!info.stdout.includes(SECRET), info.stdout);
      const json = JSON.parse((await mitos('--json', 'sandbox', 'info', id)).stdout) as { env: Record<string, string> };
      assert.deepEqual(json.env, { A: '1', B: 'x=y', TOKEN: SECRET });
      const bad = await mitos('sandbox', 'create', '--env', `9X=${SECRET}`);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /invalid env name "9X"/);
      assert.ok(!`${bad.stdout}${bad.stderr}`.includes(SECRET));
      const noValue = await mitos('sandbox', 'create', '--env', 'NOEQUALS');
      assert.notEqual(noValue.code, 0);
      assert.match(noValue.stderr, /KEY=VALUE/);
    } finally {
      await mitos('sandbox', 'terminate', id);
    }
  });
});
