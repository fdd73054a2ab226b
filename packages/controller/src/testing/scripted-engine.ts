/**
 * A stand-in Engine for the unit tier: sandboxes are records, `exec` answers from a small
 * script (echo, and `python3 -c 'print(a+b)'`), and files live in a map. It exists to test
 * placement, tokens and bookkeeping, not isolation. Methods it does not script throw, so a
 * test that strays outside its script fails loudly.
 * @module
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  BuildTemplateOptions,
  CreateSandboxOptions,
  Engine,
  ExecOptions,
  ExecResult,
  FileStat,
  ForkOptions,
  ImportLayoutOptions,
  SandboxInfo,
  TemplateInfo,
} from '@mitos/engine';
import { MitosError } from '@mitos/protocol';

const LIMITS = { memoryBytes: 512 * 1024 * 1024, pids: 256, cpus: 1 };

export interface ScriptedEngine extends Engine {
  /** Ids of live sandboxes. */
  ids(): string[];
  /** The options of every fork, in order. */
  forkCalls: ForkOptions[];
  /** The options of every template built from a spec, in order. */
  specBuilds: BuildTemplateOptions[];
}

export function createScriptedEngine(options: { templateBuildMs?: number } = {}): ScriptedEngine {
  const templates = new Map<string, TemplateInfo>();
  const sandboxes = new Map<string, SandboxInfo>();
  const files = new Map<string, Buffer>();
  const dirs = new Set<string>();
  const goneListeners = new Set<(id: string) => void>();

  const requireSandbox = (id: string): SandboxInfo => {
    const s = sandboxes.get(id);
    if (!s) throw new MitosError('not_found', `sandbox "${id}" not found`);
    return s;
  };
  const info = (id: string, templateId: string, parentId: string | null): SandboxInfo => ({
    id,
    templateId,
    state: 'running',
    createdAt: new Date(),
    forkTimeMs: 1.5,
    hostname: id,
    limits: LIMITS,
    parentId,
    generation: parentId ? 1 : 0,
  });

  const made = (id: string, image: string, network: TemplateInfo['network'] | undefined): TemplateInfo => {
    const t: TemplateInfo = {
      id,
      image,
      ready: true,
      createdAt: new Date(),
      creationTimeMs: 1,
      network: network ?? { egress: 'deny', inbound: 'deny' },
      limits: LIMITS,
    };
    templates.set(id, t);
    return t;
  };

  const forkCalls: ForkOptions[] = [];
  const specBuilds: BuildTemplateOptions[] = [];
  const impl: Partial<ScriptedEngine> = {
    forkCalls,
    specBuilds,
    // Records the spec and makes the template at once; what a build does is the engine's test.
    templateBuilds: {
      check() {},
      async build(o: BuildTemplateOptions) {
        specBuilds.push(o);
        return made(o.id, o.spec.image, o.network);
      },
      // A real (tiny) OCI layout, so the transfer between nodes checks real digests over HTTP.
      async exportLayout(id: string, layout: string) {
        if (!templates.get(id)) throw new MitosError('not_found', `template "${id}" not found`);
        return { digest: writeLayout(layout, id) };
      },
      async importLayout(o: ImportLayoutOptions) {
        return made(o.id, `imported:${readLayout(o.layout, o.name)}`, o.network);
      },
    } as unknown as Engine['templateBuilds'],
    // No image cache to move between nodes: built-ins are prepared on each node, as by microvm.
    builtImages: undefined,
    name: 'scripted',
    ids: () => [...sandboxes.keys()],
    listTemplates: () => [...templates.values()],
    getTemplate: (id: string) => templates.get(id),
    async ensureTemplate({ id }) {
      const existing = templates.get(id);
      if (existing) return existing;
      if (options.templateBuildMs) await new Promise((r) => setTimeout(r, options.templateBuildMs));
      const t: TemplateInfo = {
        id,
        image: id,
        ready: true,
        createdAt: new Date(),
        creationTimeMs: 1,
        network: { egress: 'deny', inbound: 'deny' },
        limits: LIMITS,
      };
      templates.set(id, t);
      return t;
    },
    async create({ id, templateId }: CreateSandboxOptions) {
      if (!templates.has(templateId)) throw new MitosError('not_found', `template "${templateId}" not found`);
      if (sandboxes.has(id)) throw new MitosError('conflict', `sandbox "${id}" already exists`);
      const s = info(id, templateId, null);
      sandboxes.set(id, s);
      return s;
    },
    get: (id: string) => sandboxes.get(id),
    list: () => [...sandboxes.values()],
    async exec(id: string, o: ExecOptions): Promise<ExecResult> {
      requireSandbox(id);
      return {
        exitCode: 0,
        timedOut: false,
        stdout: Buffer.from(answer(o.command, id, o.env ?? {})),
        stderr: Buffer.alloc(0),
        durationMs: 1,
      };
    },
    async fork(id: string, o: ForkOptions) {
      const parent = requireSandbox(id);
      forkCalls.push({ ...o });
      const ids = o.ids ?? Array.from({ length: o.count }, (_, i) => `${id}-child-${i}`);
      const children = ids.map((childId) => {
        const child = info(childId, parent.templateId, id);
        sandboxes.set(childId, child);
        return child;
      });
      return {
        parent,
        children,
        carried: {
          filesystem: true,
          interpreter: false,
          interpreterSkipped: [],
          processes: false,
          processesNotCarried: [],
          connections: false,
        },
        forkTimeMs: 2.5,
      };
    },
    async terminate(id: string) {
      const had = sandboxes.delete(id);
      if (had) for (const l of goneListeners) l(id);
      return had;
    },
    onSandboxEnding() {
      return () => {};
    },
    onSandboxGone(listener: (id: string) => void) {
      goneListeners.add(listener);
      return () => goneListeners.delete(listener);
    },
    async close() {},
    files: {
      async read(id: string, path: string) {
        requireSandbox(id);
        const data = files.get(`${id}:${path}`);
        if (!data) throw new MitosError('not_found', `no such file ${path}`);
        return data;
      },
      async write(id: string, path: string, data: Buffer) {
        requireSandbox(id);
        files.set(`${id}:${path}`, data);
      },
      async mkdir(id: string, path: string) {
        requireSandbox(id);
        dirs.add(`${id}:${path}`);
      },
      // Directories are explicit (mkdir) or implied by the files below them, as far as a
      // workspace capture needs them.
      async list(id: string, path: string) {
        requireSandbox(id);
        const prefix = `${id}:${path}/`;
        const children = new Map<string, FileStat>();
        for (const [key, data] of files) {
          if (!key.startsWith(prefix)) continue;
          const [name = '', ...below] = key.slice(prefix.length).split('/');
          const kind = below.length > 0 ? 'dir' : 'file';
          children.set(name, { name, kind, size: kind === 'file' ? data.length : 0, mode: 0o644, mtimeMs: 0 });
        }
        for (const key of dirs) {
          if (!key.startsWith(prefix)) continue;
          const [name = ''] = key.slice(prefix.length).split('/');
          if (!children.has(name)) children.set(name, { name, kind: 'dir', size: 0, mode: 0o755, mtimeMs: 0 });
        }
        if (children.size === 0 && !dirs.has(`${id}:${path}`))
          throw new MitosError('not_found', `no such path ${path}`);
        return [...children.values()];
      },
    } as Engine['files'],
  };
  return new Proxy(impl as ScriptedEngine, {
    get(target, prop, receiver) {
      if (prop in target || typeof prop === 'symbol' || prop === 'then') return Reflect.get(target, prop, receiver);
      return () => {
        throw new Error(`ScriptedEngine: ${String(prop)} is not scripted`);
      };
    },
  });
}

function answer(command: string, id: string, env: Record<string, string>): string {
  const sum = /print\(\s*(\d+)\s*\+\s*(\d+)\s*\)/.exec(command);
  if (sum) return `${Number(sum[1]) + Number(sum[2])}\n`;
  if (command === 'hostname') return `${id}\n`;
  const echo = /^echo (.*)$/.exec(command);
  // `$NAME` expands from the command's env, as a shell would.
  return echo
    ? `${(echo[1] ?? '').replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => env[name] ?? '')}\n`
    : '';
}

function blob(layout: string, data: string): { digest: string; size: number } {
  const hex = createHash('sha256').update(data).digest('hex');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
}

/** One layer naming the template it came from; resolves with the manifest digest. */
function writeLayout(layout: string, templateId: string): string {
  const layer = blob(layout, JSON.stringify({ from: templateId }));
  const config = blob(layout, JSON.stringify({ config: {} }));
  const manifest = blob(layout, JSON.stringify({ schemaVersion: 2, config, layers: [layer] }));
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const entry = { ...manifest, annotations: { 'org.opencontainers.image.ref.name': 't' } };
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
  return manifest.digest;
}

/** The template id the layout's one layer names (every blob must be there). */
function readLayout(layout: string, name: string): string {
  const read = (digest: string) =>
    readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8');
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name);
  if (!entry) throw new MitosError('internal', `no image ${name} in the layout`);
  const manifest = JSON.parse(read(entry.digest)) as { config: { digest: string }; layers: Array<{ digest: string }> };
  read(manifest.config.digest);
  return (JSON.parse(read(manifest.layers[0]?.digest ?? '')) as { from: string }).from;
}
