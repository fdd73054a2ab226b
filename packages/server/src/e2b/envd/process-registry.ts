/**
 * The E2B view of processes this surface started: the config each was started with (List
 * reports it back), its optional tag, and whether it runs under a terminal.
 */
import { MitosError } from '@mitos/protocol';

export interface StartedProcess {
  pid: number;
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd: string;
  tag: string | undefined;
  pty: boolean;
}

export class E2bProcesses {
  readonly #bySandbox = new Map<string, Map<number, StartedProcess>>();

  add(sandboxId: string, p: StartedProcess): void {
    let m = this.#bySandbox.get(sandboxId);
    if (m === undefined) {
      m = new Map();
      this.#bySandbox.set(sandboxId, m);
    }
    m.set(p.pid, p);
  }

  get(sandboxId: string, pid: number): StartedProcess | undefined {
    return this.#bySandbox.get(sandboxId)?.get(pid);
  }

  /** The pid a selector names (a pid, or the tag given at start). */
  resolve(
    sandboxId: string,
    selector: { case: 'pid'; value: number } | { case: 'tag'; value: string } | { case: undefined },
  ): number {
    if (selector.case === 'pid') return selector.value;
    if (selector.case === 'tag') {
      for (const p of this.#bySandbox.get(sandboxId)?.values() ?? []) if (p.tag === selector.value) return p.pid;
      throw new MitosError('not_found', `no process tagged ${JSON.stringify(selector.value)}`);
    }
    throw new MitosError('invalid_request', 'process selector needs a pid or a tag');
  }

  forget(sandboxId: string): void {
    this.#bySandbox.delete(sandboxId);
  }
}
