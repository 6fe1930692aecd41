/**
 * A session store that cannot resurrect an ended Kakao login. express-session writes the whole session
 * at the end of each request, so a request that loaded the session before a logout (a slow upload, a
 * long poll) would write it back afterwards. The guard wraps the app's store: a write of a Kakao
 * session whose login has a tombstone is dropped. The caller's store is not changed.
 *
 * Around connect-redis (7, 8 or 9, on ioredis or node-redis) it also folds express-session's `touch`
 * into the read: `GETEX` renews the idle TTL while it reads, so an authenticated request costs one
 * Redis command instead of a `GET` and an `EXPIRE`.
 */
import session, { type SessionData, type Store as SessionStore } from 'express-session';
import { markerNames, type MarkerStore } from '../stores/contracts';
import { connectRedis, redisClientKind, type RedisConnection } from '../stores/redis-client';
import { FRESH_LOGIN, isKakaoSessionUser } from './session-user';

/** The public fields of a connect-redis store that a renewing read needs. */
interface ConnectRedisLike {
  client: unknown;
  prefix: string;
  ttl: unknown;
  serializer: { parse(text: string): unknown };
  disableTTL?: boolean;
  disableTouch?: boolean;
}

/** A read that renews the TTL (`GETEX key EX ttl`), when the store is a connect-redis store with a fixed TTL. */
function renewingRead(
  store: SessionStore,
): { redis: RedisConnection; store: ConnectRedisLike; ttl: number } | undefined {
  const s = store as unknown as Partial<ConnectRedisLike>;
  if (
    typeof s.prefix !== 'string' ||
    typeof s.ttl !== 'number' ||
    !(s.ttl > 0) ||
    typeof s.serializer?.parse !== 'function' ||
    s.disableTTL === true ||
    s.disableTouch === true ||
    typeof store.touch !== 'function' ||
    !redisClientKind(s.client)
  ) {
    return undefined;
  }
  return {
    redis: connectRedis(s.client, 'guardSessionStore'),
    store: s as ConnectRedisLike,
    ttl: Math.ceil(s.ttl),
  };
}

type Callback = (err?: unknown) => void;

/** The store behind a guard, so the login start can ask whether it is connected. */
export const GUARDED_INNER = Symbol('kakao-login-express.guardedStore');

class GuardedStore extends session.Store {
  readonly [GUARDED_INNER]: SessionStore;
  private readonly renewing: ReturnType<typeof renewingRead>;

  constructor(
    inner: SessionStore,
    private readonly markers: MarkerStore,
    private readonly sessionKey: string,
  ) {
    super();
    this[GUARDED_INNER] = inner;
    // express-session serves requests without a session while its store reports a disconnect.
    for (const event of ['connect', 'disconnect'] as const) inner.on?.(event, () => this.emit(event));
    this.renewing = renewingRead(inner);
    if (typeof inner.touch === 'function') {
      this.touch = (sid, sess, cb) => {
        // Already renewed by the read, unless the cookie's own expiry decides the TTL.
        if (this.renewing && !sess.cookie?.expires) (cb ?? noop)();
        else inner.touch!(sid, sess, cb ?? noop);
      };
    }
    if (typeof inner.all === 'function') this.all = (cb) => inner.all!(cb);
    if (typeof inner.length === 'function') this.length = (cb) => inner.length!(cb);
    if (typeof inner.clear === 'function') this.clear = (cb) => inner.clear!(cb);
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    const renewing = this.renewing;
    if (!renewing) {
      this[GUARDED_INNER].get(sid, callback);
      return;
    }
    const key = renewing.store.prefix + sid;
    renewing.redis
      .command(['GETEX', key, 'EX', renewing.ttl], key)
      .then((text) => (typeof text === 'string' ? renewing.store.serializer.parse(text) : null))
      .then(
        // Outside the promise: the rest of the request runs in this callback, and its errors are its own.
        (data) => process.nextTick(callback, null, (data ?? null) as SessionData | null),
        (err: unknown) => process.nextTick(callback, err),
      );
  }

  override destroy(sid: string, callback?: Callback): void {
    this[GUARDED_INNER].destroy(sid, callback ?? noop);
  }

  override set(sid: string, data: SessionData, callback?: Callback): void {
    const inner = this[GUARDED_INNER];
    const done = callback ?? noop;
    const user = (data as unknown as Record<string, unknown>)[this.sessionKey];
    const req = (data as unknown as { req?: Record<symbol, unknown> }).req;
    // Only a write of a logged-in Kakao session can resurrect one; the login's own write is exempt.
    if (!isKakaoSessionUser(user) || req?.[FRESH_LOGIN] === true) {
      inner.set(sid, data, done);
      return;
    }
    this.markers.has(markerNames.endedSession({ userId: user.id, sessionId: sid })).then(
      (ended) => (ended ? done() : inner.set(sid, data, done)),
      (err: unknown) => done(err),
    );
  }
}

function noop(): void {}

/**
 * Wraps `store` so that a session ended by logout, unlink or the webhook cannot be written back.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when `store` is not an express-session store.
 */
export function guardStore(store: SessionStore, markers: MarkerStore, sessionKey: string): SessionStore {
  return new GuardedStore(store, markers, sessionKey);
}
