/**
 * The host's templates: built-in ones made on first use, those built from a spec, the config
 * cache every exec reads, and the pooled sandboxes a rebuild or delete leaves stale.
 */
import type { CreateTemplateOptions, OciTools, TemplateInfo } from '../engine.js';
import type { StateDatabase } from '../state/database.js';
import { ContextStore } from '../templates/build/context-store.js';
import { ensureBuiltinTemplate } from './builtin-template.js';
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

  private async dropPooled(templateId: string): Promise<void> {
    this.configs.forget(templateId);
    for (const row of this.deps.store.sandboxes()) {
      if (row.templateId === templateId && row.state === 'pooled') await this.deps.teardown(row).catch(() => {});
    }
  }
}
