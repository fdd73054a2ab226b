/**
 * The fake engine's files: one in-memory tree per sandbox, with the engine's answers (not_found
 * for a missing path, a raw errno where a driver might let one slip).
 */
import { posix } from 'node:path';
import type { FileStat, SandboxFiles } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';

export type FileNode =
  | { kind: 'file'; data: Buffer; mode: number; mtimeMs: number }
  | { kind: 'dir'; mode: number; mtimeMs: number };

type Node = FileNode;

/** A raw Node-style error, as a driver might let slip, complete with a host path. */
export function rawErrno(code: string, errno: number, hostPath: string): Error {
  return Object.assign(new Error(`${code}: operation failed, open '${hostPath}'`), { code, errno });
}

export class FakeFiles implements SandboxFiles {
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
