// Per-token rate limits of the model API: a token bucket per key (a token, or a user name for
// Login), refilled at `perSecond` up to `burst`. A call over the limit is refused with
// RESOURCE_EXHAUSTED and how long to wait, and changes nothing.

export class RateLimitError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'RateLimitError';
  }
}

export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** The API's limit: SYNCORD_API_RATE calls a second per token (default 500; 0 turns it off). */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv = process.env): RateLimit | undefined {
  const raw = env.SYNCORD_API_RATE;
  const perSecond = raw === undefined || raw === '' ? 500 : Number(raw);
  if (!Number.isFinite(perSecond) || perSecond < 0) {
    throw new Error(`SYNCORD_API_RATE=${String(raw)}: a number of calls a second (0: no limit)`);
  }
  return perSecond === 0 ? undefined : { perSecond, burst: Math.max(1, perSecond * 2) };
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one call from the key's bucket, or throws RateLimitError saying when to retry. */
  take(key: string, what = 'calls a second per token'): void {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 100_000) this.buckets.clear();
      b = { tokens: this.limit.burst, at: t };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.limit.burst, b.tokens + ((t - b.at) / 1000) * this.limit.perSecond);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const wait = Math.ceil(((1 - b.tokens) / this.limit.perSecond) * 1000);
    throw new RateLimitError(
      `rate limit: ${String(this.limit.perSecond)} ${what} (bursts of ${String(this.limit.burst)}); retry in ${String(wait)} ms`,
      wait,
    );
  }
}
