/**
 * Template builds in progress and just finished, by template id: their NDJSON events kept so a
 * client that connects late (or reconnects) replays the whole build, then follows it live.
 */
import { MitosError, type TemplateBuildEvent } from '@mitos/protocol';
import { engineFailure } from './errors.js';

/** Log lines kept per build for replay (step, done and error events are always kept). */
const MAX_LOG_EVENTS = 5000;
/** How long a finished build's events stay for a late reader. */
const KEEP_FINISHED_MS = 10 * 60_000;

export class TemplateBuild {
  readonly events: TemplateBuildEvent[] = [];
  readonly controller = new AbortController();
  private readonly listeners = new Set<(event: TemplateBuildEvent | null) => void>();
  private logs = 0;
  finished = false;

  emit(event: TemplateBuildEvent): void {
    if (event.type !== 'log' || this.logs++ < MAX_LOG_EVENTS) this.events.push(event);
    for (const listener of this.listeners) listener(event);
  }

  finish(): void {
    this.finished = true;
    for (const listener of this.listeners) listener(null);
    this.listeners.clear();
  }

  /** Every event so far, then live ones; `null` marks the end. Returns an unsubscribe. */
  follow(listener: (event: TemplateBuildEvent | null) => void): () => void {
    for (const event of this.events) listener(event);
    if (this.finished) {
      listener(null);
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export class TemplateBuilds {
  private readonly builds = new Map<string, TemplateBuild>();

  get(id: string): TemplateBuild | undefined {
    return this.builds.get(id);
  }

  /** Start `run` as the build of `id`; a build of `id` already running is a conflict. */
  start(id: string, run: (build: TemplateBuild) => Promise<unknown>): TemplateBuild {
    const current = this.builds.get(id);
    if (current && !current.finished) {
      throw new MitosError(
        'conflict',
        `template "${id}" is already being built`,
        { template: id },
        {
          remediation: `follow it with GET /v1/templates/${id}/build, then retry`,
        },
      );
    }
    const build = new TemplateBuild();
    this.builds.set(id, build);
    void run(build)
      .catch((err) => {
        build.emit({ type: 'error', error: engineFailure(err, 'internal', {}).toEnvelope().error });
      })
      .finally(() => {
        build.finish();
        setTimeout(() => {
          if (this.builds.get(id) === build) this.builds.delete(id);
        }, KEEP_FINISHED_MS).unref();
      });
    return build;
  }

  /** Stop every running build (server shutdown). */
  abortAll(): void {
    for (const build of this.builds.values()) build.controller.abort(new Error('server shutting down'));
  }
}
