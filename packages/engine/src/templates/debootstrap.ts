/**
 * Runs debootstrap (or a stand-in command) into a target directory, streaming its output line
 * by line so a minute-long build shows visible progress.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ImageSpec } from './images.js';

/** Builds the argv that fills `target` (tests replace debootstrap with a tiny fake). */
export type BootstrapCommand = (target: string, mirror: string, image: ImageSpec) => string[];

/**
 * Two stages (a layer, whose target already holds its parent's tree, skips the first):
 * debootstrap lays down the bare variant, then apt-get inside the tree installs the
 * image's packages. debootstrap's own --include resolver cannot install everything: measured
 * here, `--include=nodejs,npm` fails with npm's ~300 node-* dependencies left unconfigured,
 * while apt resolves them. Runs inside the private mount namespace runBootstrap sets up, so
 * the /proc mount apt's maintainer scripts need disappears with it.
 */
const STAGES = `set -e
target="$1"; mirror="$2"; suite="$3"; variant="$4"; setup="$5"; layer="$6"; shift 6
if [ -z "$layer" ]; then
  debootstrap --variant="$variant" "$suite" "$target" "$mirror"
  [ "$#" -eq 0 ] && exit 0
else
  # A layer starts from its parent's finished tree: no package lists, and a resolv.conf that
  # only sandboxes use; apt here needs the host's resolver and this build's mirror.
  echo "I: layering on the parent tree"
  rm -f "$target/etc/resolv.conf"; cp /etc/resolv.conf "$target/etc/resolv.conf"
  rm -f "$target/etc/apt/sources.list"; echo "deb $mirror $suite main" > "$target/etc/apt/sources.list"
  # Its /dev was emptied; maintainer scripts write to /dev/null (the tree's /dev is emptied again after).
  for node in null:3 zero:5 random:8 urandom:9; do
    mknod -m 666 "$target/dev/\${node%:*}" c 1 "\${node#*:}"
  done
fi
echo "I: installing $* with apt-get"
mount -t proc proc "$target/proc"
# No service may start inside the build tree.
printf '#!/bin/sh\nexit 101\n' > "$target/usr/sbin/policy-rc.d"
chmod 755 "$target/usr/sbin/policy-rc.d"
if [ "$#" -gt 0 ]; then
  chroot "$target" apt-get -q -o Acquire::Retries=3 update
  chroot "$target" apt-get -q -y -o Acquire::Retries=3 --no-install-recommends install "$@"
  chroot "$target" apt-get -q clean
fi
if [ -n "$setup" ]; then echo "I: image setup"; chroot "$target" /bin/sh -ec "$setup"; fi
rm -f "$target/usr/sbin/policy-rc.d"
umount "$target/proc"
echo "I: packages installed"
`;

export const debootstrapCommand: BootstrapCommand = (target, mirror, image) => [
  'sh',
  '-c',
  STAGES,
  'mitos-build',
  target,
  mirror,
  image.suite,
  image.variant,
  image.setup ?? '',
  image.from ? 'layer' : '',
  ...[...new Set(image.packages)].sort(),
];

export interface BootstrapRun {
  argv: string[];
  target: string;
  onLine: (line: string) => void;
  timeoutMs?: number;
}

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

// Private mount namespace: debootstrap mounts /proc and /sys inside the target, and if it is
// killed those mounts would otherwise stay in the host's table (and a later rm -rf of the
// target would walk into them). pdeathsig: a build must not outlive a crashed server.
function wrap(argv: string[]): string[] {
  let out = argv;
  if (SETPRIV) out = [SETPRIV, '--pdeathsig', 'KILL', '--', ...out];
  if (UNSHARE && process.getuid?.() === 0) out = [UNSHARE, '--mount', '--propagation', 'private', '--', ...out];
  return out;
}

/**
 * Run the command to completion in its own process group and mount namespace.
 * Resolves on exit 0; rejects with an Error whose message ends with the last output lines.
 */
export function runBootstrap(run: BootstrapRun): Promise<void> {
  const [file, ...args] = run.argv;
  if (!file) return Promise.reject(new Error('empty bootstrap command'));
  const argv = wrap([file, ...args]);
  const tail: string[] = [];
  const note = (line: string): void => {
    tail.push(line);
    if (tail.length > 30) tail.shift();
    run.onLine(line);
  };
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so a timeout kills dpkg and the maintainer scripts too.
      detached: true,
      env: {
        ...process.env,
        DEBIAN_FRONTEND: 'noninteractive',
        LC_ALL: 'C',
        PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      },
    });
    const timer = setTimeout(
      () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      },
      run.timeoutMs ?? 30 * 60_000,
    );
    createInterface({ input: child.stdout }).on('line', note);
    createInterface({ input: child.stderr }).on('line', note);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${file}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const log = debootstrapLogTail(run.target);
      const lines = [...tail, ...(log ? ['--- debootstrap.log ---', log] : [])].join('\n');
      reject(new Error(`${file} exited with ${signal ?? `status ${code}`}\n${lines}`));
    });
  });
}

// debootstrap's own stdout only says "see debootstrap.log"; the reason is in the log.
function debootstrapLogTail(target: string): string | undefined {
  try {
    return readFileSync(join(target, 'debootstrap', 'debootstrap.log'), 'utf8')
      .split('\n')
      .slice(-20)
      .join('\n');
  } catch {
    return undefined;
  }
}
