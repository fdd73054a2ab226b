/**
 * The catalogue of root filesystem images a template can run, and how template ids map onto it.
 * An image is a recipe (Debian suite + packages); its content key names the built tree in the
 * build cache and in storage, so anything that changes the bytes of the tree must be in the key.
 */
import { createHash } from 'node:crypto';
import type { ResourceLimits } from '../engine.js';

/**
 * Bump when how a tree is made changes (build stages, what post-processing deletes, writes or
 * shifts), so trees built by an older builder are not reused.
 * 2: packages installed with apt-get inside the tree instead of debootstrap --include.
 */
export const BUILDER_VERSION = 2;

export type ImageName = 'base' | 'python' | 'node' | 'code-interpreter' | 'e2b-base' | 'e2b-node';

export interface ImageSpec {
  /** Catalogue name; tests may use others. Not part of the key: equal recipes share a tree. */
  name: string;
  suite: string;
  variant: 'minbase';
  /** Packages installed on top of the variant (debootstrap --include). */
  packages: readonly string[];
  /** Shell run inside the tree (chroot, as root) after the packages are installed. */
  setup?: string;
  /**
   * A layer: the tree starts as a copy of this image's finished tree (built first if missing)
   * and only `packages` and `setup` run on it, so the parent's cached build is reused as is.
   */
  from?: ImageSpec;
  /** Default limits for sandboxes of this image (a create request may override them). */
  limits: ResourceLimits;
}

const MiB = 1024 * 1024;
const SUITE = 'bookworm';
// ca-certificates so pip/npm can reach HTTPS when egress is allowed; procps for ps/kill/top;
// curl, git and make because agents reach for them first (a clone, a download, a build).
const COMMON = ['ca-certificates', 'procps', 'curl', 'git', 'make'];

/**
 * Debian's python3 refuses `pip install` outside a venv (PEP 668). The image carries one at
 * /opt/venv that sees the Debian packages (numpy, pandas, ...), and wrappers in /usr/local/bin,
 * first on every sandbox PATH, so `python3`, `python` and `pip` (and the run_code kernel, which
 * starts `python3`) run inside it. Wrappers, not symlinks: a venv is found next to the path
 * the interpreter was started by, and a symlink in /usr/local/bin would hide it.
 */
const PYTHON_VENV = `python3 -m venv --system-site-packages /opt/venv
for name in python3 python pip pip3; do
  printf '#!/bin/sh\nexec /opt/venv/bin/%s "$@"\n' "$name" > /usr/local/bin/$name
  chmod 755 /usr/local/bin/$name
done`;

/**
 * E2B's sandboxes run commands as `user` (uid 1000, home /home/user); an image that carries the
 * account saves the E2B surface one exec per sandbox create. Ids match the E2B surface's.
 */
const E2B_ACCOUNT = `groupadd --gid 1000 user
useradd --uid 1000 --gid 1000 --create-home --home-dir /home/user --shell /bin/bash user`;

/**
 * Every E2B command is a login shell (`bash -l -c`), which reads /etc/profile; Debian's asks
 * `$(id -u)` for the uid, a fork and an exec of id(1) per command. bash knows it as EUID
 * (read-only there, not taken from the environment); sh, which lacks it, still asks id. The grep
 * fails the build if Debian's file changes shape.
 */
const E2B_LOGIN = `sed -i 's/"$(id -u)"/"\${EUID:-$(id -u)}"/' /etc/profile
grep -q 'EUID:-' /etc/profile`;

const E2B_USER = `${E2B_ACCOUNT}\n${E2B_LOGIN}`;

const BASE: ImageSpec = {
  name: 'base',
  suite: SUITE,
  variant: 'minbase',
  packages: [...COMMON],
  limits: { memoryBytes: 512 * MiB, pids: 256, cpus: 1 },
};

const PYTHON: ImageSpec = {
  name: 'python',
  suite: SUITE,
  variant: 'minbase',
  packages: [
    ...COMMON,
    'python3',
    'python3-pip',
    'python3-venv',
    'python3-numpy',
    'python3-pandas',
    'python3-matplotlib',
    'python3-pil',
    'python3-dill',
  ],
  setup: PYTHON_VENV,
  limits: { memoryBytes: 1024 * MiB, pids: 512, cpus: 1 },
};

const NODE: ImageSpec = {
  name: 'node',
  suite: SUITE,
  variant: 'minbase',
  packages: [...COMMON, 'nodejs', 'npm'],
  limits: { memoryBytes: 1024 * MiB, pids: 512, cpus: 1 },
};

export const IMAGES: Readonly<Record<ImageName, ImageSpec>> = {
  base: BASE,
  python: PYTHON,
  node: NODE,
  // E2B's code-interpreter template: python with its kernel's packages, Node for JavaScript
  // contexts, and the `user` account. A layer on python, so python's cached tree is reused.
  'code-interpreter': {
    name: 'code-interpreter',
    suite: SUITE,
    variant: 'minbase',
    from: PYTHON,
    packages: ['nodejs'],
    setup: E2B_USER,
    limits: PYTHON.limits,
  },
  // E2B's base template: base with the `user` account (a layer, so base's cache key is unchanged).
  'e2b-base': {
    name: 'e2b-base',
    suite: SUITE,
    variant: 'minbase',
    from: BASE,
    packages: [],
    setup: E2B_USER,
    limits: BASE.limits,
  },
  // `node` through E2B: node with the `user` account (a layer, so node's cache key is unchanged).
  'e2b-node': {
    name: 'e2b-node',
    suite: SUITE,
    variant: 'minbase',
    from: NODE,
    packages: [],
    setup: E2B_USER,
    limits: NODE.limits,
  },
};

/** The image an unrecognised template id runs, as the reference server does. */
export const DEFAULT_IMAGE: ImageName = 'python';

/**
 * Which catalogue image a template id runs. Template ids are free-form (the seed SDK passes its
 * "image" string as the id), so this is a forgiving match, never an error.
 *
 * @example resolveImage('python:3.11').name === 'python'; resolveImage('my-agent').name === 'python'
 */
export function resolveImage(templateId: string): ImageSpec {
  const id = templateId.trim().toLowerCase();
  if (Object.hasOwn(IMAGES, id)) return IMAGES[id as ImageName];
  if (id === 'base' || /^(debian|ubuntu)/.test(id) || id === 'bash' || id === 'shell' || id === 'sh')
    return IMAGES.base;
  if (id.startsWith('node')) return IMAGES.node;
  if (id.startsWith('code-interpreter')) return IMAGES['code-interpreter'];
  if (id.startsWith('python')) return IMAGES.python;
  return IMAGES[DEFAULT_IMAGE];
}

/**
 * The content key of an image built for a uid range: sha256 over everything that determines
 * the tree's bytes. The mirror is left out on purpose: any Debian mirror of the same suite
 * serves the same packages, and a mirror change must not invalidate every cache.
 */
export function imageKey(image: ImageSpec, uidBase: number): string {
  const recipe = {
    builder: BUILDER_VERSION,
    // A layer's key covers its parent's (so a rebuilt parent rebuilds the layer); a plain
    // image's recipe has no such field, so adding layers changed no existing key.
    ...(image.from ? { from: imageKey(image.from, uidBase) } : {}),
    suite: image.suite,
    variant: image.variant,
    packages: [...new Set(image.packages)].sort(),
    ...(image.setup ? { setup: image.setup } : {}),
    uidBase,
  };
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex');
}
