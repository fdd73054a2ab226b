/**
 * Which kernels a template's warm pool starts ahead. A kernel started in a pooled sandbox makes
 * its user's first run_code as fast as a warm one, and costs its memory (about 11 MiB of python)
 * in every pooled sandbox, used or not. So by default (`auto`) a template's pool starts the
 * kernels of the languages its sandboxes ran code in recently, and stops once they have not for
 * `idleMs`; templates whose purpose is code (E2B's code interpreter) always start theirs.
 * `always` starts python (and any language in recent use) in every pool; `never` none.
 */

import { normalizeLanguage } from '../agent/kernels.js';
import type { HostParts } from './create.js';

export type KernelWarming = 'auto' | 'always' | 'never';

/** The option as given (true: always, false: never, absent: auto). */
export function kernelWarming(option: KernelWarming | boolean | undefined): KernelWarming {
  if (option === true) return 'always';
  if (option === false) return 'never';
  return option ?? 'auto';
}

/** The kernel a run_code's language runs in (typescript runs in javascript's), or undefined. */
export function kernelLanguage(language: string | undefined): string | undefined {
  const normalised = normalizeLanguage(language);
  return normalised === 'typescript' ? 'javascript' : normalised;
}

/** How long a template's run_code use keeps its pool starting kernels, by default. */
export const DEFAULT_KERNEL_IDLE_MS = 10 * 60_000;

/** Templates whose sandboxes exist to run code: their pools start these kernels whatever the use. */
export function codeTemplateKernels(templateId: string): readonly string[] {
  // E2B's code interpreter (`code-interpreter-v1` maps onto `code-interpreter`): its sandboxes
  // have a python kernel running from the start.
  return templateId.startsWith('code-interpreter') ? ['python'] : [];
}

export class KernelDemand {
  /** performance.now() of each template's last run_code, per language. */
  private readonly lastUse = new Map<string, Map<string, number>>();

  /**
   * `onDemand(templateId)`: a template's pool now wants a kernel it did not (start it in the
   * sandboxes already pooled).
   */
  constructor(
    private readonly mode: KernelWarming,
    private readonly onDemand: (templateId: string) => void,
    private readonly idleMs = DEFAULT_KERNEL_IDLE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A run_code in a sandbox of `templateId` (language already normalised; typescript is javascript). */
  used(templateId: string, language: string): void {
    if (this.mode === 'never') return;
    const before = this.wanted(templateId);
    let uses = this.lastUse.get(templateId);
    if (!uses) {
      uses = new Map();
      this.lastUse.set(templateId, uses);
    }
    uses.set(language, this.now());
    if (!before.includes(language)) this.onDemand(templateId);
  }

  /** The languages whose kernels a pooled sandbox of `templateId` starts ahead now. */
  wanted(templateId: string): string[] {
    if (this.mode === 'never') return [];
    const languages = new Set<string>(this.mode === 'always' ? ['python'] : codeTemplateKernels(templateId));
    const uses = this.lastUse.get(templateId);
    const now = this.now();
    for (const [language, at] of uses ?? []) {
      if (now - at < this.idleMs) languages.add(language);
      else uses?.delete(language);
    }
    return [...languages];
  }
}

/**
 * Start the wanted kernels in a template's sandboxes already pooled (its pool just began to
 * want them), one sandbox at a time. Each is out of the pool while its kernels start, so no
 * create takes it half-warm; a create meanwhile takes another or launches one.
 */
export async function prestartPooled(
  parts: Pick<HostParts, 'store' | 'agents'>,
  templateId: string,
  languages: readonly string[],
): Promise<void> {
  const { store, agents } = parts;
  for (const row of store.sandboxes()) {
    if (row.templateId !== templateId || row.state !== 'pooled') continue;
    const missing = languages.filter((l) => !agents.kernels.isPrestarted(row.id, l));
    if (missing.length === 0 || !store.claimPooled(row.id)) continue;
    try {
      for (const language of missing) await agents.kernels.prestart(row.id, language).catch(() => {});
    } finally {
      store.repool(row.id);
    }
  }
}
