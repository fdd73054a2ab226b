/**
 * E2B template tags (`name:tag`): a tag names one build of a template. The `default` tag is the
 * template itself (engine template `name`, rebuilt in place); every other tag is its own engine
 * template, a copy of the build it was given (same image, no step run), so a later build of the
 * name or of another tag never moves it. Tags belong to the key that built the template.
 */
import type { Engine, TemplateBuildService } from '@mitos/engine';
import { MitosError, type ReadyCheck } from '@mitos/protocol';
import type { Database } from 'better-sqlite3';
import { newE2bSandboxId } from './ids.js';

export const DEFAULT_TAG = 'default';
const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `name` or `name:tag` (`latest` is E2B's other spelling of the default). */
export function splitTemplateName(full: string): { name: string; tag: string } {
  const at = full.indexOf(':');
  if (at < 0) return { name: full, tag: DEFAULT_TAG };
  const tag = full.slice(at + 1);
  return { name: full.slice(0, at), tag: tag === 'latest' ? DEFAULT_TAG : checkTag(tag) };
}

export function checkTag(tag: string): string {
  if (!TAG_PATTERN.test(tag)) {
    throw new MitosError('invalid_request', `template tag ${JSON.stringify(tag)} must match ${TAG_PATTERN.source}`);
  }
  return tag;
}

export interface TemplateTag {
  template: string;
  tag: string;
  /** The engine template the tag starts sandboxes from. */
  engineId: string;
  buildId: string;
  createdAt: Date;
}

interface RawTag {
  template: string;
  tag: string;
  engine_id: string;
  build_id: string;
  created_at: number;
}

/** Tag rows in the state database; a copy's ready check is kept so its sandboxes wait for it too. */
export class E2bTags {
  readonly #put;
  readonly #get;
  readonly #of;
  readonly #drop;
  readonly #engineIds;

  constructor(db: Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS e2b_tags (
      template TEXT NOT NULL, tag TEXT NOT NULL, engine_id TEXT NOT NULL, build_id TEXT NOT NULL,
      created_at INTEGER NOT NULL, PRIMARY KEY (template, tag))`);
    this.#put = db.prepare(
      'INSERT OR REPLACE INTO e2b_tags (template, tag, engine_id, build_id, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare('SELECT * FROM e2b_tags WHERE template = ? AND tag = ?');
    this.#of = db.prepare('SELECT * FROM e2b_tags WHERE template = ? ORDER BY created_at, tag');
    this.#drop = db.prepare('DELETE FROM e2b_tags WHERE template = ? AND tag = ?');
    this.#engineIds = db.prepare('SELECT 1 FROM e2b_tags WHERE engine_id = ? AND tag != ?');
  }

  put(tag: Omit<TemplateTag, 'createdAt'>): void {
    this.#put.run(tag.template, tag.tag, tag.engineId, tag.buildId, Date.now());
  }

  get(template: string, tag: string): TemplateTag | undefined {
    const raw = this.#get.get(template, tag) as RawTag | undefined;
    return raw && fromRaw(raw);
  }

  of(template: string): TemplateTag[] {
    return (this.#of.all(template) as RawTag[]).map(fromRaw);
  }

  drop(template: string, tag: string): void {
    this.#drop.run(template, tag);
  }

  /** Whether an engine template is a tag's copy (no build may take its name). */
  isCopy(engineId: string): boolean {
    return this.#engineIds.get(engineId, DEFAULT_TAG) !== undefined;
  }
}

function fromRaw(raw: RawTag): TemplateTag {
  return {
    template: raw.template,
    tag: raw.tag,
    engineId: raw.engine_id,
    buildId: raw.build_id,
    createdAt: new Date(raw.created_at),
  };
}

/** The engine template a tag other than `default` gets (unguessable, like a sandbox id). */
export function newTagEngineId(): string {
  return `t${newE2bSandboxId()}`;
}

/**
 * Make engine template `target` the same build as `source` (its image, env, workdir, user and
 * start command; `ready` given again, the one thing a row does not hand on). No step runs.
 */
export async function copyTemplate(
  engine: Engine,
  builder: TemplateBuildService,
  target: string,
  source: string,
  ready: ReadyCheck | undefined,
): Promise<void> {
  const from = engine.getTemplate(source);
  if (from === undefined) throw new MitosError('not_found', `template build "${source}" not found`);
  await builder.build({
    id: target,
    spec: { image: source, ...(ready && { ready }) },
    network: from.network,
  });
}
