// Work keyed by object, coalesced and bounded: what a watch handler needs when each event costs
// database round trips. Events for one key are handled one at a time and in order; events that
// arrive for a key while it is being handled are merged into one pending job (the caller says
// how), so a burst of updates to one object costs one more run, not one per event; different
// keys run in parallel, at most `concurrency` at once.

export class KeyedCoalescer<T> {
  private readonly pending = new Map<string, T>();
  /** Keys being handled now. */
  private readonly busy = new Set<string>();
  /** Keys with pending work and no run yet, in arrival order. */
  private readonly ready: string[] = [];
  private readonly readySet = new Set<string>();
  private running = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: (key: string, job: T) => Promise<void>,
    private readonly options: { concurrency: number; onError?: (err: unknown) => void },
  ) {}

  /** Adds work for a key: `merge` gets the job still pending for it (if any) and returns the new one. */
  push(key: string, merge: (pending: T | undefined) => T): void {
    this.pending.set(key, merge(this.pending.get(key)));
    if (!this.busy.has(key) && !this.readySet.has(key)) {
      this.ready.push(key);
      this.readySet.add(key);
    }
    this.pump();
  }

  /** Jobs pending or running. */
  get size(): number {
    return this.pending.size + this.running;
  }

  /** Resolves once nothing is pending or running. */
  async drained(): Promise<void> {
    if (this.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops the work not yet started (running jobs finish). */
  clear(): void {
    this.pending.clear();
    this.ready.length = 0;
    this.readySet.clear();
    this.notifyIdle();
  }

  private pump(): void {
    while (this.running < this.options.concurrency && this.ready.length) {
      const key = this.ready.shift()!;
      this.readySet.delete(key);
      const job = this.pending.get(key);
      if (job === undefined) continue;
      this.pending.delete(key);
      this.busy.add(key);
      this.running++;
      void this.run(key, job);
    }
  }

  private async run(key: string, job: T): Promise<void> {
    try {
      await this.handler(key, job);
    } catch (err) {
      this.options.onError?.(err);
    } finally {
      this.running--;
      this.busy.delete(key);
      if (this.pending.has(key) && !this.readySet.has(key)) {
        this.ready.push(key);
        this.readySet.add(key);
      }
      this.pump();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.size !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
