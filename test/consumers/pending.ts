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

/** dist/token-store.d.ts imports ioredis's types, so an app without ioredis cannot type-check. */
const IOREDIS_TYPES = /dist\/token-store\.d\.ts.*Cannot find module 'ioredis'/;

/** The types consumers, under @types/express 4 and 5. */
const TYPES_CONSUMER: Pending = {
  reason: 'kakaoErrorHandler, the authenticate option types and ioredis-free declarations are the new API',
  typecheck: [IOREDIS_TYPES, /no exported member 'kakaoErrorHandler'/, /No overload matches this call/],
};

export const PENDING: Record<string, Pending> = {
  samples: {
    reason:
      'the README is being rewritten (Passport-only sample without app/serializeUser, Cluster sample declaring redis twice, ' +
      'emulator sample without imports) and TSDoc examples assume variables they do not declare',
    samples: /^(README\.md|lib\/)/,
  },
  'types-express4': TYPES_CONSUMER,
  'types-express5': TYPES_CONSUMER,
  'b-express5-esm-noderedis': {
    reason: 'kakaoErrorHandler, emulator.strategyOptions and RedisTokenStore over node-redis are the new API',
    typecheck: [IOREDIS_TYPES, /no exported member 'kakaoErrorHandler'/, /'strategyOptions' does not exist/],
    run: { step: 'start', error: /Named export 'kakaoErrorHandler' not found/ },
  },
  'e-passport-local-esm': {
    reason:
      'kakaoAuth regenerates a session that another strategy logged in (its user must live under req.session.kakao)',
    run: { step: 'local user stays logged in', error: /GET \/me should be user local:alice, got 401/ },
  },
  'd-helmet-chromium': {
    reason: "the logout CSRF check refuses helmet's Origin: null even with Sec-Fetch-Site: same-origin",
    run: { step: 'logout', error: /Origin: null and Sec-Fetch-Site: same-origin answered 403/ },
  },
  dependencies: {
    reason: "lib/token-store.ts imports ioredis's types; the new redis-client adapter uses structural types",
    deps: /import types from "ioredis"/,
  },
};
