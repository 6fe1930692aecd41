/** A small fixed-window counter per key, in process memory, with a bounded number of keys. */

/** Options of {@link createRateLimiter}. */
export interface RateLimitOptions {
  /** Hits allowed per window and key. */
  max: number;
  /** Window length in ms. */
  windowMs: number;
  /** Keys tracked at most; beyond that, expired windows are swept and then the oldest dropped. Default 10000. */
  maxKeys?: number;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
}

/** A per-key budget: `hit` spends one unit (false when the budget is gone), `credit` gives one back. */
export interface RateLimiter {
  hit(key: string): boolean;
  credit(key: string): void;
}

/** Creates a {@link RateLimiter}. */
export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  const maxKeys = options.maxKeys ?? 10_000;
  const now = options.now ?? Date.now;
  return {
    hit(key) {
      const t = now();
      let window = windows.get(key);
      if (!window || window.resetAt <= t) {
        if (!window && windows.size >= maxKeys) {
          for (const [k, w] of windows) if (w.resetAt <= t) windows.delete(k);
          if (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string);
        }
        window = { count: 0, resetAt: t + options.windowMs };
        windows.set(key, window);
      }
      window.count += 1;
      return window.count <= options.max;
    },
    credit(key) {
      const window = windows.get(key);
      if (window && window.count > 0) window.count -= 1;
    },
  };
}
