/**
 * An in-memory Engine for the server's unit tests only: it checks HTTP mapping, not isolation.
 * Never exported from the package index. Its knobs (`onExec`, `createGate`, `failNextCreate`)
 * let a test script the engine's side of one request.
 */
import { posix } from 'node:path';
import type {
  CreateSandboxOptions,
  CreateTemplateOptions,
  Engine,
  ExecOptions,
  ExecResult,
  FileStat,
  ResourceLimits,
  SandboxFiles,
  SandboxInfo,
  TemplateInfo,
} from '@mitos/engine';
import { MitosError } from '@mitos/protocol';

const DEFAULT_LIMITS: ResourceLimits = { memoryBytes: 512 * 1024 * 1024, pids: 512, cpus: 1 };

type Node =
  | { kind: 'file'; data: Buffer; mode: number; mtimeMs: number }
  | { kind: 'dir'; mode: number; mtimeMs: number };

export type ExecScript = (command: string, options: ExecOptions) => Promise<ExecResult> | ExecResult;

export class FakeEngine implements Engine {
  readonly name = 'fake';
  readonly templates = new Map<string, TemplateInfo>();
  readonly sandboxes = new Map<string, SandboxInfo>();
  readonly createCalls: CreateSandboxOptions[] = [];
  readonly execCalls: ExecOptions[] = [];
  /** When set, create() waits for it before finishing (to hold a request in flight). */
  createGate: Promise<void> | undefined;
  /** When set, the next create() throws it (once). */
  failNextCreate: Error | undefined;
  onExec: ExecScript = (command) => result(0, `ran: ${command}\n`, '');
  readonly files: SandboxFiles;
  readonly #trees = new Map<string, Map<string, Node>>();

  constructor() {
    this.files = new FakeFiles((id) => this.#requireSandbox(id));
  }

  listTemplates(): TemplateInfo[] {
    return [...this.templates.values()];
  }

  getTemplate(id: string): TemplateInfo | undefined {
    return this.templates.get(id);
  }

  async ensureTemplate(options: CreateTemplateOptions): Promise<TemplateInfo> {
    const existing = this.templates.get(options.id);
    if (existing) return existing;
    const template: TemplateInfo = {
      id: options.id,
      image: 'base',
      ready: true,
      createdAt: new Date(),
      creationTimeMs: 12,
      network: { egress: options.network?.egress ?? 'deny', inbound: options.network?.inbound ?? 'deny' },
      limits: DEFAULT_LIMITS,
    };
    this.templates.set(options.id, template);
    return template;
  }

  async create(options: CreateSandboxOptions): Promise<SandboxInfo> {
    this.createCalls.push(options);
    if (this.createGate) await this.createGate;
    const failure = this.failNextCreate;
    if (failure) {
      this.failNextCreate = undefined;
      throw failure;
    }
    if (!this.templates.has(options.templateId)) {
      throw new MitosError('not_found', `template "${options.templateId}" not found`);
    }
    const sandbox: SandboxInfo = {
      id: options.id,
      templateId: options.templateId,
      state: 'running',
      createdAt: new Date(),
      forkTimeMs: 1.25,
      hostname: options.id,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      parentId: null,
      generation: 0,
    };
    this.sandboxes.set(options.id, sandbox);
    this.#trees.set(options.id, new Map([['/', { kind: 'dir', mode: 0o755, mtimeMs: Date.now() }]]));
    return sandbox;
  }

  get(id: string): SandboxInfo | undefined {
    return this.sandboxes.get(id);
  }

  list(): SandboxInfo[] {
    return [...this.sandboxes.values()];
  }

  async exec(sandboxId: string, options: ExecOptions): Promise<ExecResult> {
    this.#requireSandbox(sandboxId);
    this.execCalls.push(options);
    return this.onExec(options.command, options);
  }

  async terminate(sandboxId: string): Promise<boolean> {
    this.#trees.delete(sandboxId);
    return this.sandboxes.delete(sandboxId);
  }

  async close(): Promise<void> {}

  #requireSandbox(id: string): Map<string, Node> {
    const tree = this.#trees.get(id);
    if (!tree) throw new MitosError('not_found', `sandbox "${id}" not found`);
    return tree;
  }
}

export function result(exitCode: number, stdout: string | Buffer, stderr: string | Buffer): ExecResult {
  return {
    exitCode,
    timedOut: false,
    stdout: Buffer.isBuffer(stdout) ? stdout : Buffer.from(stdout),
    stderr: Buffer.isBuffer(stderr) ? stderr : Buffer.from(stderr),
    durationMs: 2.5,
  };
}

export function timedOut(): ExecResult {
  return { ...result(124, '', ''), timedOut: true };
}

/** A raw Node-style error, as a driver might let slip, complete with a host path. */
export function rawErrno(code: string, errno: number, hostPath: string): Error {
  return Object.assign(new Error(`${code}: operation failed, open '${hostPath}'`), { code, errno });
}

class FakeFiles implements SandboxFiles {
  constructor(private readonly tree: (id: string) => Map<string, Node>) {}

  async read(sandboxId: string, path: string): Promise<Buffer> {
    const node = this.#node(sandboxId, path);
    if (node.kind === 'dir') throw rawErrno('EISDIR', -21, `/var/lib/mitos/sandboxes/${sandboxId}/root${path}`);
    return node.data;
  }

  async write(sandboxId: string, path: string, data: Buffer, mode = 0o644): Promise<void> {
    const tree = this.tree(sandboxId);
    const full = posix.resolve('/', path);
    this.#mkdirs(tree, posix.dirname(full));
    tree.set(full, { kind: 'file', data: Buffer.from(data), mode, mtimeMs: Date.now() });
  }

  async list(sandboxId: string, path: string): Promise<FileStat[]> {
    const full = posix.resolve('/', path);
    const node = this.#node(sandboxId, full);
    if (node.kind === 'file') return [stat(full, node)];
    const prefix = full === '/' ? '/' : `${full}/`;
    return [...this.tree(sandboxId).entries()]
      .filter(([p]) => p !== full && p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
      .map(([p, n]) => stat(p, n));
  }

  async stat(sandboxId: string, path: string): Promise<FileStat> {
    const full = posix.resolve('/', path);
    return stat(full, this.#node(sandboxId, full));
  }

  async mkdir(sandboxId: string, path: string): Promise<void> {
    this.#mkdirs(this.tree(sandboxId), posix.resolve('/', path));
  }

  async remove(sandboxId: string, path: string): Promise<void> {
    const tree = this.tree(sandboxId);
    const full = posix.resolve('/', path);
    for (const p of [...tree.keys()]) if (p === full || p.startsWith(`${full}/`)) tree.delete(p);
  }

  #node(sandboxId: string, path: string): Node {
    const node = this.tree(sandboxId).get(posix.resolve('/', path));
    if (!node) throw new MitosError('not_found', `no such file or directory: ${path}`);
    return node;
  }

  #mkdirs(tree: Map<string, Node>, dir: string): void {
    for (let d = dir; ; d = posix.dirname(d)) {
      const node = tree.get(d);
      if (node?.kind === 'file') throw new MitosError('file_failed', `not a directory: ${d}`);
      if (!node) tree.set(d, { kind: 'dir', mode: 0o755, mtimeMs: Date.now() });
      if (d === '/') return;
    }
  }
}

function stat(path: string, node: Node): FileStat {
  return {
    name: posix.basename(path) || '/',
    kind: node.kind,
    size: node.kind === 'file' ? node.data.length : 4096,
    mode: node.mode,
    mtimeMs: node.mtimeMs,
  };
}
