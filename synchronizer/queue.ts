// A keyed work queue in the manner of client-go's workqueue: a key is queued once however many
// times it is added; a key being processed is never handed to a second worker, and one added
// meanwhile is queued again when the first finishes; delayed adds wait on a timer; concurrency is
// bounded by the number of workers the caller runs.

export class WorkQueue<K extends string = string> {
  private readonly queue: K[] = [];
  /** Keys waiting to be processed (in `queue`, or re-added while processing). */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  /** Delayed adds: the earliest due time per key. */
  private readonly delayed = new Map<K, { due: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: K | undefined) => void)[] = [];
  private shuttingDown = false;

  /** Queues the key unless it is already waiting. */
  add(key: K): void {
    this.enqueue(key, false);
  }

  /**
   * Queues the key ahead of the others (moving it up if it is queued already): for work that
   * was held back and is now unblocked, which should not wait behind everything queued since.
   */
  addFirst(key: K): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key) && !this.processing.has(key)) {
      const at = this.queue.indexOf(key);
      if (at > 0) {
        this.queue.splice(at, 1);
        this.queue.unshift(key);
      }
      return;
    }
    this.enqueue(key, true);
  }

  private enqueue(key: K, first: boolean): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // queued again when its worker calls done()
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.cancelDelayed(key);
      waiter(key);
    } else if (first) {
      this.queue.unshift(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Queues the key after `ms` (an earlier pending delayed add of the key wins). */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.delayed.set(key, { due, timer });
  }

  /** The next key to process; waits for one. Undefined once the queue shuts down. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      // Processing now makes a pending delayed retry moot: the worker re-delays it if needed.
      this.cancelDelayed(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Up to `max` more ready keys that `match` says can go with one being processed (a batch),
   * in queue order; each is then processing, and its worker calls done() for it.
   */
  takeMatching(match: (key: K) => boolean, max: number): K[] {
    const taken: K[] = [];
    if (max <= 0 || this.queue.length === 0) return taken;
    const rest: K[] = [];
    for (const key of this.queue) {
      if (taken.length < max && match(key)) taken.push(key);
      else rest.push(key);
    }
    if (taken.length === 0) return taken;
    this.queue.length = 0;
    this.queue.push(...rest);
    for (const key of taken) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.cancelDelayed(key);
    }
    return taken;
  }

  /** A worker finished the key: if it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  private cancelDelayed(key: K): void {
    const pending = this.delayed.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.delayed.delete(key);
    }
  }

  /** Whether the key is queued, delayed or being processed. */
  has(key: K): boolean {
    return this.dirty.has(key) || this.processing.has(key) || this.delayed.has(key);
  }

  /** Keys ready to process (not counting those being processed or delayed). */
  get depth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  get delayedCount(): number {
    return this.delayed.size;
  }

  /** Stops handing out keys: waiting workers get undefined; delayed adds are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.queue.length = 0;
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

/**
 * The delay before attempt `failures + 1`: exponential from `baseMs`, capped at `maxMs`, with
 * full jitter in the upper half (so retries of many objects spread out but never come too early).
 */
export function backoffMs(
  failures: number,
  baseMs = 1000,
  maxMs = 5 * 60_000,
  random: () => number = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(exp / 2 + (random() * exp) / 2);
}
