/**
 * The chained cache key of a template build (crd-v1.md 13.3, extended): step i's key hashes the
 * previous key, the step itself, the content of every file a copy step copies, and the build
 * arguments. Changing step N changes keys N.. and leaves 0..N-1 intact, so an unchanged prefix
 * is reused and a changed copied file invalidates only the steps from its copy on.
 */
import { createHash } from 'node:crypto';
import type { BuildContext, BuildStep } from '@mitos/protocol';
import { copiedFiles } from './context-paths.js';

/** Bump when how a step's snapshot is made changes, so older snapshots are not reused. */
export const STEP_BUILDER_VERSION = 1;

/** The step as the seed fingerprints it: its fields joined by NUL. */
export function stepFingerprint(step: BuildStep): string {
  switch (step.type) {
    case 'run':
      return `run\0${step.run}`;
    case 'env':
      return `env\0${step.envName}\0${step.envValue}`;
    case 'workdir':
      return `workdir\0${step.workdir}`;
    case 'copy':
      return `copy\0${step.source}\0${step.dest}`;
    case 'user':
      return `user\0${step.user}`;
  }
}

/** Human label of a step, as progress shows it. */
export function stepLabel(step: BuildStep): string {
  switch (step.type) {
    case 'run':
      return step.run;
    case 'env':
      return `${step.envName}=${step.envValue}`;
    case 'workdir':
      return step.workdir;
    case 'copy':
      return `${step.from ? `--from=${step.from} ` : ''}${step.source} -> ${step.dest}`;
    case 'user':
      return step.user;
  }
}

/** Seed of the chain: the base image's own digest (a content key, never a mutable name). */
export function baseKey(baseDigest: string): Buffer {
  return createHash('sha256').update(`base\0${baseDigest}\0v${STEP_BUILDER_VERSION}`).digest();
}

/**
 * Keys of every step, in order (lowercase hex). Copy steps fold in the path, mode and content
 * digest of each file they copy; `args` (build arguments) fold into every step.
 */
export function chainKeys(
  baseDigest: string,
  steps: readonly BuildStep[],
  context: BuildContext,
  args: Readonly<Record<string, string>> = {},
  /** COPY --from: the image key of each template a copy step reads from. */
  fromKeys: Readonly<Record<string, string>> = {},
): string[] {
  const argText = Object.keys(args)
    .sort()
    .map((k) => `${k}=${args[k]}`)
    .join('\0');
  let prev = baseKey(baseDigest);
  const keys: string[] = [];
  for (const step of steps) {
    const hash = createHash('sha256').update(prev).update('\0').update(stepFingerprint(step));
    hash.update('\0args\0').update(argText);
    if (step.type === 'copy' && step.from !== undefined) {
      hash.update(`\0from\0${step.from}\0${fromKeys[step.from] ?? ''}`);
    } else if (step.type === 'copy') {
      for (const file of copiedFiles(context, step.source)) {
        hash.update(`\0file\0${file.path}\0${file.mode}\0${file.sha256}`);
      }
    }
    prev = hash.digest();
    keys.push(prev.toString('hex'));
  }
  return keys;
}
