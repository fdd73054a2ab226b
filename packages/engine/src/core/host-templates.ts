/**
 * The host's templates: built-in ones made on first use, those built from a spec, the config
 * cache every exec reads, and the pooled sandboxes a rebuild or delete leaves stale.
 */
import type { CreateTemplateOptions, OciTools, TemplateInfo } from '../engine.js';
import type { StateDatabase } from '../state/database.js';
import type { TemplateRow } from '../state/store.js';
import { ContextStore } from '../templates/build/context-store.js';
import { currentBuiltinRow, ensureBuiltinTemplate } from './builtin-template.js';
import type { HostParts } from './create.js';
import { publicTemplate } from './rows.js';
import { type TemplateSpecs, templateSpecsFor } from './template-specs.js';
import { TemplateConfigs } from './template-start.js';
import type { WarmPool } from './warm-pool.js';

export interface HostTemplatesDeps extends HostParts {
  db: StateDatabase;
  pool: WarmPool;
  contextDir?: string;
  oci?: OciTools;
}

export class HostTemplates {
  readonly configs: TemplateConfigs;
  readonly builds: TemplateSpecs;
  /** Templates checked against this engine's recipes (see currentBuiltinRow), once each. */
  private readonly checked = new Set<string>();
  private readonly checking = new Map<string, Promise<TemplateRow>>();

  constructor(private readonly deps: HostTemplatesDeps) {
    this.configs = new TemplateConfigs(deps.store);
    this.builds = templateSpecsFor({
      ...deps,
      context: deps.contextDir ? new ContextStore(deps.contextDir) : undefined,
      ...deps.oci,
      // A rebuilt template's pooled sandboxes run the old image: they go, and the pool refills.
      published: async (row) => {
        await this.dropPooled(row.id);
        deps.pool.refill(row.id);
      },
      deleted: (id) => this.dropPooled(id),
    });
  }

  list(): TemplateInfo[] {
    return this.deps.store.templates().map(publicTemplate);
  }

  get(id: string): TemplateInfo | undefined {
    const t = this.deps.store.template(id);
    return t ? publicTemplate(t) : undefined;
  }

  ensure(options: CreateTemplateOptions): Promise<TemplateInfo> {
    const { driver, store, pool } = this.deps;
    return ensureBuiltinTemplate({ driver, store, refill: (id) => pool.refill(id) }, options);
  }

  /** The row a create should fork: a built-in one moved to its image's current recipe first. */
  async current(row: TemplateRow): Promise<TemplateRow> {
    // Checked already: the caller's row, read from the store for this create, is current.
    if (this.checked.has(row.id)) return row;
    let check = this.checking.get(row.id);
    if (!check) {
      const { driver, store } = this.deps;
      check = currentBuiltinRow({ driver, store, dropPooled: (id) => this.dropPooled(id) }, row);
      this.checking.set(row.id, check);
      // A failed check (a build that failed) is tried again by the next create.
      check.then(
        () => this.checked.add(row.id),
        () => {},
      );
      check.finally(() => this.checking.delete(row.id)).catch(() => {});
    }
    await check;
    return this.deps.store.template(row.id) ?? row;
  }

  private async dropPooled(templateId: string): Promise<void> {
    this.configs.forget(templateId);
    for (const row of this.deps.store.sandboxes()) {
      if (row.templateId === templateId && row.state === 'pooled') await this.deps.teardown(row).catch(() => {});
    }
  }
}
