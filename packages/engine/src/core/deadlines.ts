/**
 * Enforces sandbox deadlines with one timer armed for the earliest one. Deadlines live in SQLite,
 * so re-arming after a restart terminates anything that expired while the server was down.
 */
export interface DeadlineSource {
  deadlines(): { id: string; deadlineMs: number }[];
  expire(id: string): Promise<void>;
}

// setTimeout fires at most every ~24.8 days; a longer wait is re-armed when it fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

export class DeadlineScheduler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly source: DeadlineSource) {}

  /** Call after any deadline changes. */
  rearm(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const [next] = this.source.deadlines();
    if (!next) return;
    const wait = Math.max(0, Math.min(next.deadlineMs - Date.now(), MAX_TIMER_MS));
    this.timer = setTimeout(() => void this.fire(), wait);
    this.timer.unref();
  }

  private async fire(): Promise<void> {
    const now = Date.now();
    for (const d of this.source.deadlines()) {
      if (d.deadlineMs > now) break;
      await this.source.expire(d.id).catch(() => {});
    }
    this.rearm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
