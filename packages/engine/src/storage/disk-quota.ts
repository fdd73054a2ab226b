/**
 * Per-sandbox disk limits on the btrfs volume, with simple quotas (Linux >= 6.7).
 *
 * Why simple quotas: full qgroups walk back-references on every snapshot and delete, which
 * made a snapshot 6-7x slower here (27 -> 195 ms for an image snapshot on a loaded host);
 * simple quotas charge each extent to the subvolume that wrote it, at write time, and cost
 * nothing measurable on snapshot or delete. So they are on for every volume, and a sandbox
 * pays for a limit (three btrfs tool runs, ~20 ms) only when it asks for one.
 *
 * Why a level-1 qgroup per limited sandbox (1/<subvolid>) rather than a limit on 0/<subvolid>:
 * the sandbox owns its root and can create nested subvolumes in it, each with a qgroup of its
 * own. The kernel adds a new subvolume to its parent's level-1 qgroup, so the limit on 1/<id>
 * covers them; a limit on 0/<id> alone would be escaped by `btrfs subvolume create`.
 */
import { existsSync } from 'node:fs';
import { MitosError } from '@mitos/protocol';
import { run, tryRun } from '../host/run.js';

const FEATURE = '/sys/fs/btrfs/features/simple_quota';

/** Turn simple quotas on with the agent's ioctl (btrfs-progs < 6.7 cannot). False if unsupported. */
export async function enableSimpleQuotas(agentPath: string, mountPoint: string): Promise<boolean> {
  if (!existsSync(FEATURE)) return false;
  return (await tryRun(agentPath, ['squota', mountPoint])).ok;
}

async function subvolumeId(path: string): Promise<number> {
  const { stdout } = await run('btrfs', ['inspect-internal', 'rootid', path]);
  const id = Number(stdout.trim());
  if (!Number.isSafeInteger(id) || id < 256) throw new MitosError('internal', `no subvolume id for ${path}`);
  return id;
}

/** Cap what the subvolume at `path` (and any subvolume later made inside it) may write. */
export async function limitSubvolume(mountPoint: string, path: string, bytes: number): Promise<void> {
  const id = await subvolumeId(path);
  const group = `1/${id}`;
  // Exists already when a limit is applied twice (a pooled sandbox adopted, a restart).
  await tryRun('btrfs', ['qgroup', 'create', group, mountPoint]);
  await run('btrfs', ['qgroup', 'assign', '--no-rescan', `0/${id}`, group, mountPoint]);
  await run('btrfs', ['qgroup', 'limit', String(bytes), group, mountPoint]);
}

/**
 * Lift the limit before a delete: deleting a subvolume needs a little metadata reservation,
 * which a sandbox at its limit would be refused (EDQUOT), leaving its root behind.
 * Returns the level-1 qgroup to destroy after the delete, if there was one.
 */
export async function liftLimit(mountPoint: string, path: string): Promise<string | undefined> {
  const id = await subvolumeId(path).catch(() => undefined);
  if (id === undefined) return undefined;
  const group = `1/${id}`;
  return (await tryRun('btrfs', ['qgroup', 'limit', 'none', group, mountPoint])).ok ? group : undefined;
}

/** Best effort: a level-1 qgroup with no members left is only bookkeeping. */
export async function dropQgroup(mountPoint: string, group: string): Promise<void> {
  await tryRun('btrfs', ['qgroup', 'destroy', group, mountPoint]);
}
