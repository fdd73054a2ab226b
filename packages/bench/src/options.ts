/**
 * Command-line options: `--quick` for a smoke run, `--only a,b` to pick sections.
 * @module
 */

import type { NetworkSizes } from './sections/network.js';

export const SECTIONS = [
  'tti',
  'exec',
  'runcode',
  'fork',
  'density',
  'pagecache',
  'e2b',
  'console',
  'workspace',
  'templates',
  'network',
  'cli',
  'peers',
] as const;
export type SectionName = (typeof SECTIONS)[number];

/** How many runs each measurement takes. Full sizes fit a few minutes on 2 cores. */
export interface Sizes {
  startupRuns: number;
  startupWarmup: number;
  execRuns: number;
  execWarmup: number;
  throughputClients: number;
  throughputSeconds: number;
  runCodeFirstRuns: number;
  runCodeWarmRuns: number;
  forkFirstRuns: number;
  fanout: ReadonlyArray<{ children: number; runs: number }>;
  densitySandboxes: number;
  densityForkChildren: number;
  /** Sandboxes that each import numpy, pandas and matplotlib (the first pays the shared cache). */
  pageCacheSandboxes: number;
  /** Cold browser loads of the web console per view. */
  consoleRuns: number;
  /** Commit / 1% commit / hydrate rounds of a 100 MiB workspace. */
  workspaceRuns: number;
  /** Templates as code: cached rebuilds, create-to-first-exec pairs, 100 MB pulls. */
  templates: { rebuildRuns: number; createRuns: number; pullRuns: number };
  /** Network postures: create pairs, DNS questions, TCP send size and runs. */
  network: NetworkSizes;
}

const FULL: Sizes = {
  startupRuns: 30,
  startupWarmup: 3,
  execRuns: 300,
  execWarmup: 30,
  throughputClients: 32,
  throughputSeconds: 5,
  runCodeFirstRuns: 8,
  runCodeWarmRuns: 50,
  forkFirstRuns: 20,
  fanout: [
    { children: 1, runs: 8 },
    { children: 4, runs: 5 },
    { children: 16, runs: 3 },
  ],
  densitySandboxes: 50,
  densityForkChildren: 4,
  pageCacheSandboxes: 4,
  consoleRuns: 10,
  workspaceRuns: 3,
  templates: { rebuildRuns: 10, createRuns: 20, pullRuns: 2 },
  network: { createRuns: 20, dnsQueries: 1000, sendMiB: 1024, sendRuns: 3 },
};

const QUICK: Sizes = {
  startupRuns: 4,
  startupWarmup: 1,
  execRuns: 40,
  execWarmup: 5,
  throughputClients: 32,
  throughputSeconds: 2,
  runCodeFirstRuns: 2,
  runCodeWarmRuns: 5,
  forkFirstRuns: 3,
  fanout: [
    { children: 1, runs: 1 },
    { children: 4, runs: 1 },
    { children: 16, runs: 1 },
  ],
  densitySandboxes: 5,
  densityForkChildren: 2,
  pageCacheSandboxes: 3,
  consoleRuns: 2,
  workspaceRuns: 1,
  templates: { rebuildRuns: 3, createRuns: 3, pullRuns: 1 },
  network: { createRuns: 3, dnsQueries: 200, sendMiB: 256, sendRuns: 1 },
};

/** The server's default (`mitos serve --warm-pool`); `--warm-pool 0` measures the cold path. */
export const DEFAULT_WARM_POOL = 2;

export interface BenchOptions {
  quick: boolean;
  /** Launched sandboxes the server keeps ready per template. */
  warmPool: number;
  sections: ReadonlySet<SectionName>;
  sizes: Sizes;
  /** A checkout of another mitos build, measured beside this one in the startup rounds. */
  baseline?: string;
  /** The command line as typed, for the report. */
  argv: string[];
}

export const USAGE = `usage: npm run bench [-- --quick] [-- --only ${SECTIONS.join(',')}]
  --quick        small sample sizes (a smoke run, figures are not representative)
  --only LIST    comma-separated sections to run (case-insensitive); default all
  --warm-pool N  sandboxes the server keeps launched per template (default ${DEFAULT_WARM_POOL}, as mitos serve; 0 = cold creates)
  --baseline DIR a built checkout of another mitos version (node scripts/setup.mjs in it): its server
                 takes turns with this one in the startup rounds (tti, e2b), and its \`mitos run\`
                 with this one's against this server (cli), for a before/after ratio`;

export class UsageError extends Error {}

export function parseOptions(argv: string[]): BenchOptions {
  let quick = false;
  let only: SectionName[] | undefined;
  let warmPool = DEFAULT_WARM_POOL;
  let baseline: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (!value) throw new UsageError('--only needs a comma-separated list of sections');
      only = value.split(',').map(sectionName);
    } else if (arg === '--warm-pool' || arg.startsWith('--warm-pool=')) {
      const value = arg === '--warm-pool' ? argv[++i] : arg.slice('--warm-pool='.length);
      warmPool = Number(value);
      if (!Number.isInteger(warmPool) || warmPool < 0 || warmPool > 64) throw new UsageError('--warm-pool needs 0..64');
    } else if (arg === '--baseline' || arg.startsWith('--baseline=')) {
      baseline = arg === '--baseline' ? argv[++i] : arg.slice('--baseline='.length);
      if (!baseline) throw new UsageError('--baseline needs the directory of a built mitos checkout');
    } else if (arg === '--help' || arg === '-h') throw new UsageError(USAGE);
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return {
    quick,
    warmPool,
    sections: new Set(only ?? SECTIONS),
    sizes: quick ? QUICK : FULL,
    argv,
    ...(baseline ? { baseline } : {}),
  };
}

function sectionName(raw: string): SectionName {
  const name = raw.trim().toLowerCase().replace(/[-_]/g, '');
  const found = SECTIONS.find((s) => s === name);
  if (!found) throw new UsageError(`unknown section ${JSON.stringify(raw)}; choose from ${SECTIONS.join(', ')}`);
  return found;
}
