/**
 * Consumer checks that wait for the lead's new core and public API (design.md, "Public API
 * (target)"). The consumer apps are written against that API; until it is on main these checks
 * must fail, and fail exactly where named here, so nothing else can break unnoticed behind them.
 *
 * When one of them starts passing, its test fails with "now passes: remove it from pending.ts":
 * delete the entry, and the check is on for good. An empty object means everything is switched on.
 */
export interface Pending {
  /** Why it fails today, and what lands it. */
  reason: string;
  /** The type check is expected to fail, and every error it reports must match one of these. */
  typecheck?: RegExp[];
  /** The end-to-end run is expected to fail at this step (earlier steps must pass), with this error. */
  run?: { step: string; error: RegExp };
  /** scripts/check-deps.mjs is expected to report a problem matching this. */
  deps?: RegExp;
  /** The sample checker is expected to report failures, each at a place matching this. */
  samples?: RegExp;
}

export const PENDING: Record<string, Pending> = {};
