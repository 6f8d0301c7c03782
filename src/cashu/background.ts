// The wallet's background CPU work, one small step per event-loop turn (setImmediate), so that
// no step blocks the loop for more than a few ms and requests keep flowing in between.
// Tasks take turns (round robin): none starves another.

/** One step of a task: does a little work and says whether there was any. */
export type BackgroundStep = () => boolean | Promise<boolean>;

export class BackgroundRunner {
  private scheduled = false;
  private running = false;
  private stopped = false;
  private next = 0;
  private idleWaiters: Array<() => void> = [];
  private delayTimer?: NodeJS.Timeout;

  constructor(private readonly tasks: readonly BackgroundStep[], private readonly onError: (err: unknown) => void) {}

  /** There may be work: make sure a step runs soon. */
  kick(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => void this.run());
  }

  /**
   * There is work, but not urgent: start in `ms` (a claim's own first token must not wait
   * behind the unblinding of its outputs). Earlier kicks still start at once.
   */
  kickAfter(ms: number): void {
    if (this.stopped || this.delayTimer) return;
    this.delayTimer = setTimeout(() => {
      this.delayTimer = undefined;
      this.kick();
    }, ms);
    this.delayTimer.unref?.();
  }

  /** Resolves when no task has work left (or the runner is stopped). */
  idle(): Promise<void> {
    if (this.stopped || (!this.scheduled && !this.running && !this.delayTimer)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    this.wakeIdle();
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    if (this.stopped) return;
    this.running = true;
    let worked = false;
    try {
      for (let i = 0; i < this.tasks.length && !worked; i++) {
        const task = this.tasks[(this.next + i) % this.tasks.length]!;
        worked = await task();
        if (worked) this.next = (this.next + i + 1) % this.tasks.length;
      }
    } catch (err) {
      worked = false; // a failing task is not retried in a tight loop; the next kick() retries
      this.onError(err);
    } finally {
      this.running = false;
    }
    if (worked) this.kick();
    else if (!this.delayTimer) this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
