/**
 * `startupWarnings()`: risky configuration of the kakaoAuth routers of this process, with no evidence
 * to build by hand. Each router registers what it knows when it is created; the app may add what only
 * it knows (its `trust proxy` setting, its session cookie options).
 */
import session from 'express-session';
import { configWarnings, type StartupConfigEvidence, type StartupWarning } from '../diagnostics';
import { redisClientKind } from '../stores/redis-client';
import type { Store as SessionStore } from 'express-session';
import { GUARDED_INNER } from './session-guard';

/** What a kakaoAuth router knows about its own configuration. */
type RouterEvidence = () => Omit<StartupConfigEvidence, 'trustProxy' | 'cookie' | 'nodeEnv'>;

const evidenceOf = new WeakMap<object, RouterEvidence>();
/** The routers of this process, held weakly: a router the app dropped is not reported. */
const routers: Array<WeakRef<object>> = [];

/** Registers a router's evidence (kakaoAuth calls it when it creates the router). */
export function registerRouter(router: object, evidence: RouterEvidence): void {
  evidenceOf.set(router, evidence);
  for (let i = routers.length - 1; i >= 0; i--) if (routers[i]!.deref() === undefined) routers.splice(i, 1);
  routers.push(new WeakRef(router));
}

/** What kind of store a (guarded) session store is. */
export function sessionStoreKind(
  store: SessionStore | undefined,
): StartupConfigEvidence['sessionStore'] | undefined {
  if (!store) return undefined;
  const inner = (store as unknown as Record<symbol, SessionStore>)[GUARDED_INNER] ?? store;
  if (inner instanceof session.MemoryStore) return 'memory';
  return redisClientKind((inner as { client?: unknown }).client) ? 'redis' : 'other';
}

/**
 * Risky configuration of every kakaoAuth router created in this process, each with a stable code and a
 * message that says what to do: `insecure_callback`, `memory_store_in_production`,
 * `scope_needs_business_app`, `samesite_strict`, `secure_cookie_over_http`, `trust_proxy_unset`,
 * `random_secrets`. Empty when nothing is risky.
 *
 * @param extra.router only this router (default: every router of this process).
 * @param extra.trustProxy, extra.cookie what only the app knows: its `trust proxy` setting and its
 *   session cookie options.
 * @example
 * ```ts
 * import type { Express } from 'express';
 * declare const app: Express;
 * for (const w of startupWarnings({ trustProxy: app.get('trust proxy') })) console.warn(`${w.code}: ${w.message}`);
 * ```
 */
export function startupWarnings(
  extra: Partial<Pick<StartupConfigEvidence, 'trustProxy' | 'cookie'>> & { router?: object } = {},
): StartupWarning[] {
  const seen = new Set<string>();
  const warnings: StartupWarning[] = [];
  const selected = extra.router ? [extra.router] : routers.map((ref) => ref.deref());
  for (const router of selected) {
    const evidence = router && evidenceOf.get(router);
    if (!evidence) continue;
    for (const warning of configWarnings({
      ...evidence(),
      nodeEnv: process.env.NODE_ENV,
      trustProxy: extra.trustProxy,
      ...(extra.cookie && { cookie: extra.cookie }),
    })) {
      if (!seen.has(warning.message)) {
        seen.add(warning.message);
        warnings.push(warning);
      }
    }
  }
  return warnings;
}
