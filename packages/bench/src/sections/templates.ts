/**
 * Templates as code: a cached rebuild of an unchanged 5-step template, create-to-first-exec
 * from that custom template against the built-in `python` (alternated, same warm pool), and
 * pull + unpack of a ~100 MB image from a registry on loopback (Debian's docker-registry,
 * htpasswd auth, an image of incompressible bytes built here).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxServer, Template } from '@mitos/sdk';
import { startTestRegistry, TestImages } from '@mitos/testkit';
import type { BenchEnv } from '../mitos/bench-env.js';
import { TEMPLATE } from '../mitos/client.js';
import type { Recorder } from '../results.js';
import { summarize } from '../stats.js';

const CUSTOM = 'bench-custom';

function fiveSteps(): Template {
  return new Template()
    .fromImage(TEMPLATE)
    .workdir('/srv/app')
    .env('APP_MODE', 'bench')
    .run('echo prepared > /srv/app/prepared.txt')
    .copy('app', '/srv/app')
    .run('python3 -m py_compile /srv/app/main.py');
}

export interface TemplateSizes {
  rebuildRuns: number;
  createRuns: number;
  pullRuns: number;
}

export async function runTemplates(rec: Recorder, env: BenchEnv, sizes: TemplateSizes): Promise<void> {
  const server = new SandboxServer({ baseUrl: env.url, apiKey: env.apiKey, timeoutMs: 0 });
  const context = mkdtempSync('/tmp/mitos-bench-ctx-');
  try {
    mkdirSync(join(context, 'app'));
    writeFileSync(join(context, 'app', 'main.py'), 'print("hello from a custom template")\n');
    await fiveSteps().build(CUSTOM, { server, contextDir: context });
    const rebuild: number[] = [];
    for (let i = 0; i < sizes.rebuildRuns; i++) {
      const t = performance.now();
      let cached = 0;
      await fiveSteps().build(CUSTOM, {
        server,
        contextDir: context,
        onEvent: (e) => void (e.type === 'step_done' && e.cached && cached++),
      });
      rebuild.push(performance.now() - t);
      if (cached !== 5) throw new Error(`rebuild took ${cached} of 5 steps from the cache`);
    }
    rec.add({
      id: 'templates.rebuild.cached',
      section: 'templates',
      subject: 'mitos',
      unit: 'ms',
      label: 'rebuild of an unchanged 5-step template (client: hash context, ask, build, follow)',
      reproduce:
        "await new Template().fromImage('python').workdir(..).env(..).run(..).copy(..).run(..).build(id, { server })",
      summary: summarize(rebuild),
    });

    const firstExec = { custom: [] as number[], python: [] as number[] };
    for (let i = 0; i < sizes.createRuns; i++) {
      for (const [which, template] of [
        ['custom', CUSTOM],
        ['python', TEMPLATE],
      ] as const) {
        const t = performance.now();
        const sb = await server.fork(template);
        await sb.exec('true');
        firstExec[which].push(performance.now() - t);
        await sb.terminate();
      }
    }
    for (const [which, times] of Object.entries(firstExec)) {
      rec.add({
        id: `templates.first_exec.${which}`,
        section: 'templates',
        subject: 'mitos',
        unit: 'ms',
        label: `create-to-first-exec from ${which === 'custom' ? 'the custom 5-step template' : 'the built-in python'}`,
        reproduce: `const sb = await server.fork('${which === 'custom' ? CUSTOM : TEMPLATE}'); await sb.exec('true')`,
        summary: summarize(times),
      });
    }
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  await runPull(rec, server, sizes.pullRuns);
}

/** Each run pushes an image of fresh random bytes, so nothing of it is cached on the server. */
async function runPull(rec: Recorder, server: SandboxServer, runs: number): Promise<void> {
  const dir = mkdtempSync('/tmp/mitos-bench-registry-');
  const registry = await startTestRegistry(join(dir, 'registry'));
  const savedAuth = process.env.MITOS_REGISTRY_AUTH;
  process.env.MITOS_REGISTRY_AUTH = registry.authFile(true);
  try {
    const images = new TestImages(join(dir, 'layout'));
    await images.init();
    const times: number[] = [];
    const shared: number[] = [];
    for (let run = 0; run < runs; run++) {
      const tag = `big${run}`;
      // 100 files of 1 MiB of random bytes: the layer does not compress below ~100 MB.
      const files: Record<string, string> = {};
      await images.create(tag, files);
      await images.change(tag, tag, (rootfs) => {
        mkdirSync(join(rootfs, 'data'), { recursive: true });
        for (let i = 0; i < 100; i++) writeFileSync(join(rootfs, 'data', `f${i}.bin`), randomBytes(1024 * 1024));
      });
      await registry.push(images.layout, tag, `bench/big:${tag}`);
      const t = performance.now();
      await server.buildTemplate(
        `bench-pull-${run}`,
        { image: `${registry.host}/bench/big:${tag}` },
        { contextDir: dir },
      );
      times.push(performance.now() - t);
      // A second image on that base: its base layers are shared on disk, only its own is unpacked.
      await images.change(tag, `${tag}-child`, (rootfs) => writeFileSync(join(rootfs, 'data', 'child.txt'), tag));
      await registry.push(images.layout, `${tag}-child`, `bench/big:${tag}-child`);
      const c = performance.now();
      await server.buildTemplate(
        `bench-pull-${run}-child`,
        { image: `${registry.host}/bench/big:${tag}-child` },
        { contextDir: dir },
      );
      shared.push(performance.now() - c);
      await server.deleteTemplate(`bench-pull-${run}-child`);
      await server.deleteTemplate(`bench-pull-${run}`);
    }
    rec.add({
      id: 'templates.pull_unpack_100mb',
      section: 'templates',
      subject: 'mitos',
      unit: 'ms',
      label: 'pull + unpack + import of a ~100 MB single-layer image from a loopback registry (template ready)',
      reproduce: "await server.buildTemplate(id, { image: '127.0.0.1:PORT/bench/big:TAG' })",
      summary: summarize(times),
    });
    rec.add({
      id: 'templates.pull_shared_base',
      section: 'templates',
      subject: 'mitos',
      unit: 'ms',
      label: 'pull of a second image on that ~100 MB base (one small layer of its own; the base layers shared on disk)',
      reproduce: "await server.buildTemplate(id, { image: '127.0.0.1:PORT/bench/big:TAG-child' })",
      summary: summarize(shared),
    });
  } finally {
    process.env.MITOS_REGISTRY_AUTH = savedAuth;
    if (savedAuth === undefined) delete process.env.MITOS_REGISTRY_AUTH;
    await registry.stop();
    await server.pruneTemplates().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
