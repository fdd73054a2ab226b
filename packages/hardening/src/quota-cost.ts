/**
 * Re-measures what quotas cost a snapshot, on throwaway loop volumes under the test's state
 * directory: no quotas, simple quotas (what mitos now turns on), and full qgroups (what the
 * storage engineer measured at ~6x). Same tree, same number of snapshots, median of each.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultAgentPath } from '@mitos/engine';
import { percentile } from './figures.js';

export type QuotaMode = 'none' | 'simple' | 'full';

export interface QuotaCost {
  mode: QuotaMode;
  snapshotMedianMs: number;
  deleteAllMs: number;
  unmountMs: number;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

export function measureQuotaCost(workDir: string, mode: QuotaMode, snapshots = 15): QuotaCost {
  const dir = join(workDir, `quota-${mode}`);
  const image = join(dir, 'img');
  const vol = join(dir, 'vol');
  mkdirSync(vol, { recursive: true });
  writeFileSync(image, '');
  truncateSync(image, 1024 ** 3);
  sh('mkfs.btrfs', ['-q', '-f', '-m', 'single', '-d', 'single', image]);
  sh('mount', ['-o', 'noatime,discard=async', image, vol]);
  try {
    if (mode === 'full') sh('btrfs', ['quota', 'enable', vol]);
    if (mode === 'simple') sh(defaultAgentPath(), ['squota', vol]);
    // A tree shaped like a small root filesystem: a few thousand files in a few hundred dirs.
    const base = join(vol, 'image');
    sh('btrfs', ['subvolume', 'create', base]);
    for (let d = 0; d < 200; d++) {
      mkdirSync(join(base, `d${d}`));
      for (let f = 0; f < 15; f++) writeFileSync(join(base, `d${d}`, `f${f}`), Buffer.alloc(3000 + f * 100, d));
    }
    sh('btrfs', ['filesystem', 'sync', base]);
    sh('btrfs', ['property', 'set', '-ts', base, 'ro', 'true']);
    const times: number[] = [];
    for (let i = 0; i < snapshots; i++) {
      const started = performance.now();
      sh('btrfs', ['subvolume', 'snapshot', base, join(vol, `s${i}`)]);
      times.push(performance.now() - started);
      // Each sandbox writes a little, so the next snapshot commits real accounting work.
      writeFileSync(join(vol, `s${i}`, 'written'), Buffer.alloc(256 * 1024, i));
    }
    const delStarted = performance.now();
    for (let i = 0; i < snapshots; i++) sh('btrfs', ['subvolume', 'delete', join(vol, `s${i}`)]);
    const deleteAllMs = performance.now() - delStarted;
    const umountStarted = performance.now();
    sh('umount', [vol]);
    const unmountMs = performance.now() - umountStarted;
    times.sort((a, b) => a - b);
    return { mode, snapshotMedianMs: percentile(times, 50), deleteAllMs, unmountMs };
  } finally {
    try {
      sh('umount', [vol]);
    } catch {
      // unmounted above
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
