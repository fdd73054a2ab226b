/**
 * Test-only: Debian's `docker-registry` on 127.0.0.1 with htpasswd (bcrypt) auth, and OCI images
 * made here with umoci from a few host files (dash and its libraries), pushed with skopeo. No
 * internet: every image a test pulls is one it built.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface TestRegistry {
  /** host:port */
  host: string;
  user: string;
  password: string;
  /** A docker config.json holding these credentials (or wrong ones). */
  authFile(valid?: boolean): string;
  /** Push `layout:tag` (an OCI layout on disk) to `<host>/<name>`; `all` pushes an index whole. */
  push(layout: string, tag: string, name: string, all?: boolean): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function startTestRegistry(dir: string): Promise<TestRegistry> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const user = 'mitos';
  const password = randomBytes(12).toString('hex');
  const { stdout } = await exec('htpasswd', ['-Bbn', user, password]);
  writeFileSync(join(dir, 'htpasswd'), stdout);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }
http: { addr: ${host} }
auth: { htpasswd: { realm: mitos-test, path: ${join(dir, 'htpasswd')} } }
`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const res = await fetch(`http://${host}/v2/`).catch(() => undefined);
    if (res?.status === 401) break;
    if (i > 200 || child.exitCode !== null) throw new Error(`docker-registry did not start on ${host}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const authFile = (valid = true) => {
    const file = join(dir, valid ? 'auth-good.json' : 'auth-bad.json');
    const auth = Buffer.from(`${user}:${valid ? password : 'wrong'}`).toString('base64');
    writeFileSync(file, JSON.stringify({ auths: { [host]: { auth } } }), { mode: 0o600 });
    return file;
  };
  return {
    host,
    user,
    password,
    authFile,
    async push(layout, tag, name, all = false) {
      await exec('skopeo', [
        'copy',
        '--quiet',
        ...(all ? ['--all'] : []),
        '--dest-tls-verify=false',
        '--dest-authfile',
        authFile(true),
        `oci:${layout}:${tag}`,
        `docker://${host}/${name}`,
      ]);
    },
    async stop() {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
    },
  };
}

/** A minimal runnable root: /bin/sh (dash) and the libraries it loads, plus `files`. */
function populate(rootfs: string, files: Record<string, string>): void {
  for (const d of ['bin', 'lib/x86_64-linux-gnu', 'lib64', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root']) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  copyFileSync('/bin/dash', join(rootfs, 'bin/sh'));
  copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', join(rootfs, 'lib/x86_64-linux-gnu/libc.so.6'));
  copyFileSync('/lib64/ld-linux-x86-64.so.2', join(rootfs, 'lib64/ld-linux-x86-64.so.2'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(rootfs, path)), { recursive: true });
    writeFileSync(join(rootfs, path), text);
  }
}

/** OCI images in a layout on disk, built with umoci. */
export class TestImages {
  constructor(readonly layout: string) {}

  async init(): Promise<void> {
    await exec('umoci', ['init', '--layout', this.layout]);
  }

  /** A new one-layer image `tag` holding sh and `files`; `config` sets env, workdir, cmd. */
  async create(
    tag: string,
    files: Record<string, string>,
    config: { env?: string[]; workdir?: string; cmd?: string[] } = {},
  ): Promise<void> {
    await exec('umoci', ['new', '--image', `${this.layout}:${tag}`]);
    await this.change(tag, tag, (rootfs) => populate(rootfs, files));
    const args = ['config', '--image', `${this.layout}:${tag}`];
    for (const e of config.env ?? []) args.push('--config.env', e);
    if (config.workdir) args.push('--config.workingdir', config.workdir);
    for (const c of config.cmd ?? []) args.push('--config.cmd', c);
    if (args.length > 3) await exec('umoci', args);
  }

  /** A new layer on `from`, tagged `to`: `edit` changes the unpacked tree (deletions become whiteouts). */
  async change(from: string, to: string, edit: (rootfs: string) => void): Promise<void> {
    const bundle = `${this.layout}-bundle-${randomBytes(3).toString('hex')}`;
    try {
      await exec('umoci', ['unpack', '--image', `${this.layout}:${from}`, bundle]);
      edit(join(bundle, 'rootfs'));
      await exec('umoci', ['repack', '--image', `${this.layout}:${to}`, bundle]);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
  }

  /** The manifest descriptor of `tag` in the layout. */
  descriptor(tag: string): { mediaType: string; digest: string; size: number } {
    const index = JSON.parse(readFileSync(join(this.layout, 'index.json'), 'utf8')) as {
      manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
    };
    const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
    if (!d) throw new Error(`no tag ${tag} in ${this.layout}`);
    return { mediaType: d.mediaType, digest: d.digest, size: d.size };
  }

  /** An image index `tag` over existing tags, each with its platform (a multi-arch image). */
  index(tag: string, members: { tag: string; architecture: string }[]): void {
    const blob = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: members.map((m) => ({
          ...this.descriptor(m.tag),
          platform: { architecture: m.architecture, os: 'linux' },
        })),
      }),
    );
    const hex = createHash('sha256').update(blob).digest('hex');
    writeFileSync(join(this.layout, 'blobs', 'sha256', hex), blob);
    const file = join(this.layout, 'index.json');
    const index = JSON.parse(readFileSync(file, 'utf8')) as { manifests: unknown[] };
    index.manifests.push({
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: `sha256:${hex}`,
      size: blob.length,
      annotations: { 'org.opencontainers.image.ref.name': tag },
    });
    writeFileSync(file, JSON.stringify(index));
  }
}
