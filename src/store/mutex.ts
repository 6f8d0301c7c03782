/** A FIFO async mutex: `with(fn)` runs fn after every earlier caller's fn has settled. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  with<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
