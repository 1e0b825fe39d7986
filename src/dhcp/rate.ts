// A token bucket per key (network and client MAC) in a map of bounded size:
// a client that floods is answered at the refill rate, and a flood of new
// MACs evicts the least recently seen buckets instead of growing memory.

export interface RateLimit {
  /** Requests a client may send at once. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
  /** Buckets kept at most. */
  maxClients: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { burst: 10, perSecond: 2, maxClients: 65_536 };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limit: RateLimit = DEFAULT_RATE_LIMIT) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `key` at `now` (ms); false when the bucket is empty. */
  take(key: string, now: number): boolean {
    const { burst, perSecond, maxClients } = this.limit;
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * perSecond);
      b.at = now;
    } else {
      b = { tokens: burst, at: now };
      if (this.buckets.size >= maxClients) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    }
    // Re-inserted on every use, so map order is least recently seen first.
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
