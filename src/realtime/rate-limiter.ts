import { AppError } from '../core/errors.js';

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_BUCKETS = 100_000;

/**
 * A token bucket per agent: `perSecond` tokens refill continuously up to `burst`; each request
 * takes one. Over budget answers RATE_LIMITED with retry_after (seconds until a token is back).
 * `perSecond` 0 turns limiting off.
 */
export class TokenBucketRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    /** Names what is limited in the error: "requests from <key>". */
    private readonly what: (key: string) => string = (key) => `requests from ${key}`,
  ) {}

  take(agentId: string, now = performance.now()): void {
    if (this.perSecond <= 0) return;
    let bucket = this.buckets.get(agentId);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.prune(now);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(agentId, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
      bucket.at = now;
    }
    if (bucket.tokens < 1) {
      const retryAfter = Math.ceil(((1 - bucket.tokens) / this.perSecond) * 1000) / 1000;
      throw new AppError(
        'RATE_LIMITED',
        `Too many ${this.what(agentId)}: the limit is ${this.perSecond}/s with bursts of ${this.burst}. Retry after ${retryAfter} s.`,
        {
          retryAfter,
        },
      );
    }
    bucket.tokens -= 1;
  }

  /** Forgets buckets that have refilled completely (they behave exactly like new ones). */
  private prune(now: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(id);
    }
  }
}
