/**
 * Workspaces: a 100 MiB /workspace (400 files of 256 KiB) committed from a bound sandbox, then
 * 1% of its files changed and committed again (only changed files are read: the size and
 * mtime of the others match the last commit), and a new sandbox that hydrates the head.
 * @module
 */
import { SandboxServer } from '@mitos/sdk';
import type { BenchEnv } from '../mitos/bench-env.js';
import { TEMPLATE, terminateAll } from '../mitos/client.js';
import type { Figure, Recorder } from '../results.js';
import { summarize } from '../stats.js';

const FILES = 400;
const FILE_KIB = 256;
const CHANGED = FILES / 100;

export async function runWorkspace(rec: Recorder, env: BenchEnv, runs: number): Promise<void> {
  const server = new SandboxServer({ baseUrl: env.url, apiKey: env.apiKey, timeoutMs: 0 });
  const base = {
    section: 'workspace',
    subject: 'mitos' as const,
    unit: 'ms' as const,
  };
  const full: number[] = [];
  const incremental: number[] = [];
  const hydrate: number[] = [];
  for (let run = 0; run < runs; run++) {
    const name = `bench-ws-${run}`;
    await server.workspaces.create(name);
    const writer = await server.fork(TEMPLATE, { workspace: name });
    const made: Array<{ terminate(): Promise<void> }> = [writer];
    try {
      // Random bytes (incompressible, all distinct) so nothing is shared with earlier runs.
      const fill = await writer.exec(
        `mkdir -p /workspace/data && cd /workspace/data && for i in $(seq 1 ${FILES}); do head -c ${FILE_KIB * 1024} /dev/urandom > f$i.bin; done`,
        { timeoutSeconds: 600 },
      );
      if (fill.exitCode !== 0) throw new Error(`filling the workspace failed: ${fill.stderr}`);
      let t = performance.now();
      const first = await server.workspaces.commit(name, writer.id);
      full.push(performance.now() - t);
      // The clock of the stat cache is in milliseconds: let it pass before the edit.
      await new Promise((r) => setTimeout(r, 20));
      const edit = await writer.exec(
        `cd /workspace/data && for i in $(seq 1 ${CHANGED}); do head -c ${FILE_KIB * 1024} /dev/urandom > f$i.bin; done`,
      );
      if (edit.exitCode !== 0) throw new Error(`editing the workspace failed: ${edit.stderr}`);
      t = performance.now();
      const second = await server.workspaces.commit(name, writer.id);
      incremental.push(performance.now() - t);
      if (!first.revision || second.revision?.parent !== first.revision.id) throw new Error('unexpected revisions');
      await writer.terminate();
      made.length = 0;
      t = performance.now();
      const reader = await server.fork(TEMPLATE, { workspace: name });
      hydrate.push(performance.now() - t);
      made.push(reader);
      const check = await reader.exec('ls /workspace/data | wc -l');
      if (check.stdout.trim() !== String(FILES)) throw new Error(`hydrated ${check.stdout.trim()} files`);
    } finally {
      await terminateAll(made);
    }
  }
  const size = `${FILES} files x ${FILE_KIB} KiB = ${(FILES * FILE_KIB) / 1024} MiB`;
  const figures: Array<Omit<Figure, 'summary'> & { times: number[] }> = [
    {
      ...base,
      id: 'workspace.commit.full',
      label: `first commit of a ${size} /workspace`,
      reproduce: 'await server.workspaces.commit(name, sb.id)',
      times: full,
    },
    {
      ...base,
      id: 'workspace.commit.1pct',
      label: `commit after ${CHANGED} of ${FILES} files (1%) changed`,
      reproduce: 'await server.workspaces.commit(name, sb.id) // after rewriting 1% of the files',
      times: incremental,
    },
    {
      ...base,
      id: 'workspace.hydrate',
      label: `create a sandbox bound to the workspace (fork + hydrate ${(FILES * FILE_KIB) / 1024} MiB)`,
      reproduce: "await server.fork('python', { workspace: name })",
      times: hydrate,
    },
  ];
  for (const { times, ...f } of figures) rec.add({ ...f, summary: summarize(times) });
}
