/**
 * What a template built from a spec carries besides its image, and the build cache's records.
 * The config is what every sandbox of the template starts with: env and working directory for
 * its commands, the user they run as, the start command and its ready check.
 */
import type { ReadyCheck } from '@mitos/protocol';
import type { StateDatabase } from './database.js';

export interface TemplateConfig {
  env: Record<string, string>;
  workdir: string;
  /** Dockerfile USER: commands run as this user (absent: root). */
  user?: string;
  command?: string[];
  ready?: ReadyCheck;
  /** The chain keys of the build steps the template was made from (prune keeps their images). */
  steps: string[];
  /** The digest the build chain started from (a built-in image key or an OCI manifest digest). */
  baseDigest: string;
  /** The image the build chain started from: prune keeps it (and, for an OCI base, its layer chains). */
  baseImage?: string;
}

/** The state a step leaves: its image and the config later steps start from. */
export interface StepRecord {
  key: string;
  imageKey: string;
  env: Record<string, string>;
  workdir: string;
  user?: string;
}

export class BuildStepStore {
  constructor(private readonly db: StateDatabase) {}

  get(key: string): StepRecord | undefined {
    const raw = this.db.prepare('SELECT * FROM build_steps WHERE key = ?').get(key) as
      | { key: string; image_key: string; config: string }
      | undefined;
    return raw ? { key: raw.key, imageKey: raw.image_key, ...JSON.parse(raw.config) } : undefined;
  }

  put(record: StepRecord): void {
    const { key, imageKey, ...config } = record;
    this.db
      .prepare(
        `INSERT INTO build_steps (key, image_key, config, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET image_key = excluded.image_key, config = excluded.config`,
      )
      .run(key, imageKey, JSON.stringify(config), new Date().toISOString());
  }

  all(): StepRecord[] {
    const rows = this.db.prepare('SELECT key FROM build_steps').all() as { key: string }[];
    return rows.map((r) => this.get(r.key) as StepRecord);
  }

  delete(key: string): void {
    this.db.prepare('DELETE FROM build_steps WHERE key = ?').run(key);
  }
}
