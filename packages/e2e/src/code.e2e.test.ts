import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { type LiveServer, liveServer } from './fixtures.js';

describe('end to end: run_code through the SDK', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let sb: Sandbox;
  before(async () => {
    live = await liveServer();
    sb = await create('python', { baseUrl: live.url });
  });
  after(async () => {
    await sb?.terminate().catch(() => {});
    await live.stop();
  });

  test('state persists across three calls', async () => {
    await sb.runCode('a = 20');
    await sb.runCode('b = a + 1');
    const ex = await sb.runCode('a + b');
    assert.equal(ex.text, '41');
    assert.equal(ex.error, undefined);
  });

  test('a matplotlib plot yields a PNG that decodes to the requested size', async () => {
    const ex = await sb.runCode(
      'import matplotlib.pyplot as plt\nplt.figure(figsize=(6, 4), dpi=40)\nplt.plot(range(10))\nplt.show()',
    );
    const png = ex.results.find((r) => r.png)?.png;
    assert.ok(png, 'a PNG result');
    const bytes = Buffer.from(png, 'base64');
    assert.equal(bytes.readUInt32BE(16), 240);
    assert.equal(bytes.readUInt32BE(20), 160);
  });

  test('a DataFrame yields an HTML table', async () => {
    const ex = await sb.runCode("import pandas as pd\npd.DataFrame({'n': [1, 2, 3]})");
    assert.match(ex.results.find((r) => r.isMainResult)?.html ?? '', /<table/);
  });

  test('a raised exception yields its name and traceback', async () => {
    const ex = await sb.runCode('1 / 0');
    assert.equal(ex.error?.name, 'ZeroDivisionError');
    assert.ok((ex.error?.traceback ?? '').length > 0);
  });

  test('an infinite loop with a 2 s timeout is interrupted and earlier variables survive', async () => {
    await sb.runCode('survivor = 123');
    const ex = await sb.runCode('while True:\n    pass', { timeoutSeconds: 2 });
    assert.equal(ex.error?.name, 'TimeoutError');
    assert.equal((await sb.runCode('survivor')).text, '123');
  });

  test('5 MB of printed output arrives intact, streamed live', async () => {
    let streamed = 0;
    const ex = await sb.runCode("print('z' * 5_000_000, end='')", { onStdout: (s) => (streamed += s.length) });
    const text = ex.logs.stdout.join('');
    assert.equal(text.length, 5_000_000);
    assert.equal(streamed, 5_000_000);
    assert.ok(/^z+$/.test(text));
  });

  test('the JavaScript kernel keeps state across calls', async () => {
    const node = await create('node', { baseUrl: live.url });
    try {
      await node.runCode('var count = 1', { language: 'javascript' });
      await node.runCode('count += 41', { language: 'javascript' });
      assert.equal((await node.runCode('count', { language: 'javascript' })).text, '42');
      assert.equal((await node.runCode('const t: number = count * 2; t', { language: 'typescript' })).text, '84');
    } finally {
      await node.terminate();
    }
  });
});
