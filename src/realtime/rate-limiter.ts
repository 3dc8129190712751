import { AppError } from '../core/errors.js';

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_BUCKETS = 100_000;

export interface RateLimiterOptions {
  /** Names what is limited in the error: "requests from <key>". */
  what?: (key: string) => string;
  /**
   * Charged once, by the caller's client address, whenever a key this limiter has no bucket for
   * shows up: a client cannot escape its limit by naming a new agent id for each request, since
   * every new id costs it a request of its address's (anonymous) budget.
   */
  newcomers?: { limiter: TokenBucketRateLimiter; what: (address: string) => string };
}

/**
 * A token bucket per key (agent id, or client address): `perSecond` tokens refill continuously up
 * to `burst`; each request takes one. Over budget answers RATE_LIMITED with retry_after (seconds
 * until a token is back). `perSecond` 0 turns limiting off.
 */
export class TokenBucketRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly what: (key: string) => string;
  private readonly newcomers: RateLimiterOptions['newcomers'];

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    options: RateLimiterOptions | ((key: string) => string) = {},
  ) {
    const opts = typeof options === 'function' ? { what: options } : options;
    this.what = opts.what ?? ((key) => `requests from ${key}`);
    this.newcomers = opts.newcomers;
  }

  /**
   * Takes one token from `key`'s bucket, or throws RATE_LIMITED. A key without a bucket first costs
   * `clientAddress` one token of the newcomers limiter (when configured).
   */
  take(key: string, clientAddress?: string): void {
    if (this.perSecond <= 0) return;
    if (this.newcomers !== undefined && !this.buckets.has(key)) {
      this.newcomers.limiter.takeAs(clientAddress ?? 'unknown', this.newcomers.what);
    }
    this.takeAs(key, this.what);
  }

  /** Throws RATE_LIMITED when `key`'s bucket is empty; takes nothing. */
  check(key: string): void {
    if (this.perSecond <= 0) return;
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return;
    this.refill(bucket, performance.now());
    if (bucket.tokens < 1) throw this.limited(key, bucket, this.what);
  }

  /** Takes one token from `key`'s bucket if it has one; never throws (counts a failure after the fact). */
  charge(key: string): void {
    if (this.perSecond <= 0) return;
    try {
      this.take(key);
    } catch {
      // Already empty: check() refuses the next attempt.
    }
  }

  private takeAs(key: string, what: (key: string) => string): void {
    if (this.perSecond <= 0) return;
    const now = performance.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.prune(now);
      this.buckets.set(key, (bucket = { tokens: this.burst, at: now }));
    } else {
      this.refill(bucket, now);
    }
    if (bucket.tokens < 1) throw this.limited(key, bucket, what);
    bucket.tokens -= 1;
  }

  private refill(bucket: Bucket, now: number): void {
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
  }

  private limited(key: string, bucket: Bucket, what: (key: string) => string): AppError {
    const retryAfter = Math.ceil(((1 - bucket.tokens) / this.perSecond) * 1000) / 1000;
    return new AppError(
      'RATE_LIMITED',
      `Too many ${what(key)}: the limit is ${this.perSecond}/s with bursts of ${this.burst}. Retry after ${retryAfter} s.`,
      { retryAfter },
    );
  }

  /**
   * Forgets buckets that have refilled completely (they behave like new ones, except that a
   * forgotten agent id costs its address a newcomer token again).
   */
  private prune(now: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(id);
    }
  }
}
