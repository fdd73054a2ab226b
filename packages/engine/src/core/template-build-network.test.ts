import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MitosError, type NetworkPosture, type TemplateSpec } from '@mitos/protocol';
import { type FakeInternet, shellOf, startFakeInternet, testEngineEnv } from '@mitos/testkit';
import type { LinuxEngine } from '../drivers/linux/engine.js';
import type { TemplateBuildService } from '../engine.js';

/** Writes a pure-Python wheel (a zip) with python's zipfile, inside a sandbox: no host Python needed. */
const MAKE_WHEEL = `
import zipfile
info = "mitos_demo-1.0.dist-info/"
files = {
  "mitos_demo/__init__.py": "GREETING = 'installed from the fake index'\\n",
  info + "METADATA": "Metadata-Version: 2.1\\nName: mitos-demo\\nVersion: 1.0\\n",
  info + "WHEEL": "Wheel-Version: 1.0\\nGenerator: mitos-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
files[info + "RECORD"] = "".join(name + ",,\\n" for name in files) + info + "RECORD,,\\n"
with zipfile.ZipFile("/tmp/mitos_demo-1.0-py3-none-any.whl", "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
`;

describe('template build steps under a network posture (linux engine, fake internet)', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  let builds: TemplateBuildService;
  let net: FakeInternet;
  let index: string;
  const sh = shellOf(() => engine, 30_000);
  const onlyIndex = (): NetworkPosture => ({
    egress: 'deny',
    inbound: 'deny',
    allow_cidrs: [`${net.addresses.allowed}/32:80`],
  });
  const curl = (address: string) => `curl -fsS --max-time 5 http://${address}/`;

  async function buildError(id: string, spec: TemplateSpec, buildNetwork?: NetworkPosture): Promise<MitosError> {
    try {
      await builds.build({ id, spec, ...(buildNetwork ? { buildNetwork } : {}) });
    } catch (err) {
      assert.ok(err instanceof MitosError, String(err));
      return err;
    }
    assert.fail(`template ${id} built`);
  }

  before(async () => {
    // The index directory is served as it is at each request: it is filled once the wheel is made.
    index = mkdtempSync(join(tmpdir(), 'mitos-test-index-'));
    net = await startFakeInternet({ files: index });
    engine = await env.open({ dnsUpstreams: [net.dns] });
    builds = engine.templateBuilds as TemplateBuildService;
    await engine.ensureTemplate({ id: 'python' });
    // A one-package index on the fake internet: the wheel is made in a sandbox, served from a test dir.
    await engine.create({ id: 'wheelmaker', templateId: 'python' });
    await engine.files.write('wheelmaker', '/tmp/make_wheel.py', Buffer.from(MAKE_WHEEL));
    const made = await sh('wheelmaker', 'python3 /tmp/make_wheel.py && echo made');
    assert.equal(made.out.trim(), 'made', made.err);
    const wheel = await engine.files.read('wheelmaker', '/tmp/mitos_demo-1.0-py3-none-any.whl');
    await engine.terminate('wheelmaker');
    mkdirSync(join(index, 'simple', 'mitos-demo'), { recursive: true });
    writeFileSync(join(index, 'mitos_demo-1.0-py3-none-any.whl'), wheel);
    writeFileSync(
      join(index, 'simple', 'mitos-demo', 'index.html'),
      '<html><body><a href="/mitos_demo-1.0-py3-none-any.whl">mitos_demo-1.0-py3-none-any.whl</a></body></html>\n',
    );
  });
  after(async () => {
    try {
      await env.cleanup();
    } finally {
      await net?.stop();
      if (index) rmSync(index, { recursive: true, force: true });
    }
  });

  test('pip install reaches the index the build posture allows; the template keeps its own deny posture', async () => {
    const pip = `pip install --no-cache-dir --index-url http://${net.addresses.allowed}/simple/ --trusted-host ${net.addresses.allowed} mitos-demo`;
    const spec: TemplateSpec = { image: 'python', buildSteps: [{ type: 'run', run: pip }] };
    const lines: string[] = [];
    await builds
      .build({
        id: 'pip-net',
        spec,
        buildNetwork: onlyIndex(),
        onEvent: (e) => {
          if (e.type === 'log') lines.push(e.line);
        },
      })
      .catch((err: MitosError) => assert.fail(`pip build failed: ${err.detail}`));
    assert.ok(
      lines.some((l) => l.includes('Successfully installed mitos-demo')),
      lines.join('\n'),
    );
    assert.deepEqual(engine.getTemplate('pip-net')?.network, { egress: 'deny', inbound: 'deny' });
    await engine.create({ id: 'pip-net-1', templateId: 'pip-net' });
    const r = await sh('pip-net-1', 'python3 -c "import mitos_demo; print(mitos_demo.GREETING)"');
    assert.equal(r.out, 'installed from the fake index\n', r.err);
    // The build's posture stayed with the build: the sandbox has no network.
    assert.notEqual((await sh('pip-net-1', curl(net.addresses.allowed))).code, 0);
  });

  test('a step reaching past the build posture fails the build, and with no posture nothing is reached', async () => {
    const other = await buildError(
      'past-posture',
      { image: 'python', buildSteps: [{ type: 'run', run: curl(net.addresses.other) }] },
      onlyIndex(),
    );
    assert.equal(other.code, 'build_failed');
    assert.equal(other.context.step, 1);
    const closed = await buildError('closed', {
      image: 'python',
      buildSteps: [{ type: 'run', run: curl(net.addresses.allowed) }],
    });
    assert.equal(closed.code, 'build_failed');
    assert.equal(engine.getTemplate('past-posture'), undefined);
    assert.equal(engine.getTemplate('closed'), undefined);
  });

  test("without a build posture the template's own applies to its build and is kept whole", async () => {
    const network = onlyIndex();
    await builds.build({
      id: 'own-posture',
      spec: { image: 'python', buildSteps: [{ type: 'run', run: `${curl(net.addresses.allowed)} > /fetched.txt` }] },
      network,
    });
    assert.deepEqual(engine.getTemplate('own-posture')?.network, network);
    await engine.create({ id: 'own-posture-1', templateId: 'own-posture' });
    assert.equal((await sh('own-posture-1', 'cat /fetched.txt')).out, `fake-internet ${net.addresses.allowed}`);
    assert.equal((await sh('own-posture-1', curl(net.addresses.allowed))).code, 0);
  });

  test('allow_domains in a build posture: the step resolves and reaches the listed name only', async () => {
    const fetchName = (name: string) => `curl -fsS --max-time 10 http://${name}/`;
    await builds.build({
      id: 'by-name',
      spec: { image: 'python', buildSteps: [{ type: 'run', run: `${fetchName('allowed.test')} > /by-name.txt` }] },
      buildNetwork: { egress: 'deny', inbound: 'deny', allow_domains: ['allowed.test:80'] },
    });
    await engine.create({ id: 'by-name-1', templateId: 'by-name' });
    assert.match((await sh('by-name-1', 'cat /by-name.txt')).out, /^fake-internet (203\.0\.113\.10|2001:db8::10)$/);
    const unlisted = await buildError(
      'by-other-name',
      { image: 'python', buildSteps: [{ type: 'run', run: fetchName('other.test') }] },
      { egress: 'deny', inbound: 'deny', allow_domains: ['allowed.test:80'] },
    );
    assert.equal(unlisted.code, 'build_failed');
  });

  test('a build posture is admitted exactly as a sandbox posture is (allow_domains included)', async () => {
    const posture: NetworkPosture = { egress: 'deny', inbound: 'deny', allow_domains: ['allowed.test:80'] };
    const refusal = (fn: () => unknown) => {
      try {
        fn();
        return undefined;
      } catch (err) {
        return (err as MitosError).code;
      }
    };
    const forBuild = refusal(() => builds.check({ id: 'domains', spec: { image: 'python' }, buildNetwork: posture }));
    let forSandbox: string | undefined;
    try {
      await engine.create({ id: 'domains-1', templateId: 'python', network: posture });
    } catch (err) {
      forSandbox = (err as MitosError).code;
    }
    assert.equal(forBuild, forSandbox);
  });
});
