import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { type LiveServer, liveServer } from './fixtures.js';

describe('end to end: live fork through the SDK', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let parent: Sandbox;
  let children: Sandbox[] = [];
  let processesCarried = false;
  before(async () => {
    live = await liveServer();
    parent = await create('python', { baseUrl: live.url });
    await parent.runCode('blob = bytes(50 * 1024 * 1024)\nimport random\nmarker = "warm"');
    await parent.files.write('/workspace/data.txt', 'parent data');
    await parent.execBackground('exec sleep 3600');
    const report = await parent.forkWithReport(4);
    children = report.children;
    processesCarried = report.carried.processes;
    assert.equal(report.carried.filesystem, true);
    assert.equal(report.carried.interpreter, true);
  });
  after(async () => {
    for (const c of children) await c.terminate().catch(() => {});
    await parent?.terminate().catch(() => {});
    await live.stop();
  });

  test('every child has the 50 MB object, the file and (where carried) the process', async () => {
    assert.equal(children.length, 4);
    for (const c of children) {
      assert.equal((await c.runCode('(len(blob), marker)')).text, "(52428800, 'warm')");
      assert.equal(await c.files.read('/workspace/data.txt'), 'parent data');
      const sleeping = (await c.exec('pgrep -c -x sleep || true')).stdout.trim();
      assert.equal(sleeping, processesCarried ? '1' : '0');
      const info = await c.info();
      assert.equal(info.parentId, parent.id);
      assert.equal(info.generation, 1);
    }
  });

  test('children diverge independently and their random streams differ', async () => {
    const [a, b] = children as [Sandbox, Sandbox];
    await a.files.write('/workspace/data.txt', 'changed in a');
    await a.runCode('marker = "a"');
    assert.equal(await b.files.read('/workspace/data.txt'), 'parent data');
    assert.equal((await b.runCode('marker')).text, "'warm'");
    assert.equal(await parent.files.read('/workspace/data.txt'), 'parent data');
    const draws = await Promise.all(children.map(async (c) => (await c.runCode('random.random()')).text));
    assert.equal(new Set(draws).size, children.length);
  });

  test('terminating the parent leaves the children working', async () => {
    await parent.terminate();
    for (const c of children) assert.equal((await c.exec('echo ok')).stdout, 'ok\n');
  });
});
