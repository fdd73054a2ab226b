/** A small, fixed result set for the report's unit tests. */

import { evaluateGoals } from '../report/goals.js';
import { computeRatios } from '../report/ratios.js';
import type { BenchResults, Figure } from '../results.js';
import { summarize } from '../stats.js';

export function fig(
  id: string,
  subject: Figure['subject'],
  samples: number[] | undefined,
  extra: Partial<Figure> = {},
): Figure {
  return {
    id,
    section: subject === 'mitos' ? (id.startsWith('exec') ? 'exec' : 'startup') : 'startup',
    subject,
    label: id,
    unit: 'ms',
    reproduce: `repro ${id}`,
    ...(samples ? { summary: summarize(samples) } : { unavailable: 'not available in this build' }),
    ...extra,
  };
}

export function fakeResults(): BenchResults {
  const figures = [
    fig('tti.echo', 'mitos', [20, 22, 24]),
    fig('run.python', 'mitos', [30, 32, 40]),
    fig('exec.rt', 'mitos', [4, 5, 6]),
    fig('exec.engine', 'mitos', [1, 1, 1], { label: '  direct' }),
    fig('peer.podman.python', 'podman', [330, 340, 350], { reproduce: 'tar -C x -c . | podman import -' }),
    fig('fork.first', 'mitos', undefined, { section: 'fork' }),
  ];
  const ratios = computeRatios(figures);
  return {
    schema: 1,
    engine: 'Linux driver (namespaces + btrfs)',
    command: 'npm run bench',
    quick: false,
    sections: ['tti', 'exec', 'peers'],
    machine: {
      nproc: 2,
      memTotalBytes: 24 * 2 ** 30,
      kernel: '6.18.0',
      cpuModel: 'Test CPU',
      date: '2026-01-01T00:00:00.000Z',
      node: 'v20.0.0',
      loadAvg: { start: [0.5, 0.4, 0.3], end: [0.6, 0.5, 0.4] },
    },
    durationS: 12,
    figures,
    ratios,
    goals: evaluateGoals(figures, ratios),
    peers: [{ subject: 'podman', label: 'podman', version: 'podman version 4.3.1', ok: true }],
    notes: ['a note'],
  };
}
