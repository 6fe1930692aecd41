/**
 * A session store that cannot resurrect an ended Kakao login. express-session writes the whole session
 * at the end of each request, so a request that loaded the session before a logout (a slow upload, a
 * long poll) would write it back afterwards. The guard wraps the app's store: a write of a Kakao
 * session whose login has a tombstone is dropped. The caller's store is not changed.
 *
 * Around connect-redis (7, 8 or 9, on ioredis or node-redis) it also folds express-session's `touch`
 * into the read: `GETEX` renews the idle TTL while it reads, so an authenticated request costs one
 * Redis command instead of a `GET` and an `EXPIRE`. And when another part of the app destroys a Kakao
 * session (another strategy's login, `req.logout()`), the login's tokens go with it.
 */
import session, { type SessionData, type Store as SessionStore } from 'express-session';
import { markerNames, type MarkerStore } from '../stores/contracts';
import {
  COMMAND_DEADLINE_MS,
  RedisUnavailableError,
  afterDeadline,
  connectRedis,
  redisClientKind,
  type RedisConnection,
} from '../stores/redis-client';
import { FRESH_LOGIN, OWN_DESTROYS, isKakaoSessionUser, type StoredKakaoUser } from './session-user';

/** The public fields of a connect-redis store that a renewing read needs. */
interface ConnectRedisLike {
  prefix: string;
  ttl: unknown;
  serializer: { parse(text: string): unknown };
  disableTTL?: boolean;
  disableTouch?: boolean;
}

interface RenewingRead {
  redis: RedisConnection;
  store: ConnectRedisLike;
  ttl: number;
}

/** A read that renews the TTL (`GETEX key EX ttl`), for a connect-redis store with a fixed TTL whose client is known. */
function renewingRead(store: SessionStore, redis: RedisConnection | undefined): RenewingRead | undefined {
  const s = store as unknown as Partial<ConnectRedisLike>;
  if (
    !redis ||
    typeof s.prefix !== 'string' ||
    typeof s.ttl !== 'number' ||
    !(s.ttl > 0) ||
    typeof s.serializer?.parse !== 'function' ||
    s.disableTTL === true ||
    s.disableTouch === true ||
    typeof store.touch !== 'function'
  ) {
    return undefined;
  }
  return { redis, store: s as ConnectRedisLike, ttl: Math.ceil(s.ttl) };
}

/**
 * The Redis client behind a session store: the one the app names, or connect-redis 9's own `client`
 * (connect-redis 7 and 8 keep only a wrapper, so their apps pass the client).
 */
export function sessionStoreRedis(store: SessionStore, client: unknown): RedisConnection | undefined {
  if (client !== undefined) return connectRedis(client, 'guardSessionStore');
  const own = (store as { client?: unknown }).client;
  return redisClientKind(own) ? connectRedis(own, 'guardSessionStore') : undefined;
}

/** What the guard needs from kakaoAuth. */
export interface GuardOptions {
  markers: MarkerStore;
  sessionKey: string;
  /** The session store's Redis, for the renewing read and readiness (undefined when not known). */
  redis: RedisConnection | undefined;
  /** Ends the Kakao login of a session someone else destroys. */
  onDestroyed: (user: StoredKakaoUser, sessionId: string) => Promise<void>;
}

type Callback = (err?: unknown) => void;

/** The store behind a guard. */
export const GUARDED_INNER = Symbol('kakao-login-express.guardedStore');

class GuardedStore extends session.Store {
  readonly [GUARDED_INNER]: SessionStore;
  /** The session store's Redis, for readiness (undefined when not known). */
  readonly redis: RedisConnection | undefined;
  private readonly renewing: RenewingRead | undefined;

  constructor(
    inner: SessionStore,
    private readonly options: GuardOptions,
  ) {
    super();
    this[GUARDED_INNER] = inner;
    this.redis = options.redis;
    this.renewing = renewingRead(inner, options.redis);
    // express-session serves requests without a session while its store reports a disconnect.
    for (const event of ['connect', 'disconnect'] as const) inner.on?.(event, () => this.emit(event));
    if (typeof inner.touch === 'function') {
      this.touch = (sid, sess, cb) => {
        // Already renewed by the read, unless the cookie's own expiry decides the TTL.
        if (this.renewing && !sess.cookie?.expires) (cb ?? noop)();
        else inner.touch!(sid, sess, bounded(cb ?? noop));
      };
    }
    if (typeof inner.all === 'function') this.all = (cb) => inner.all!(cb);
    if (typeof inner.length === 'function') this.length = (cb) => inner.length!(cb);
    if (typeof inner.clear === 'function') this.clear = (cb) => inner.clear!(cb);
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    const renewing = this.renewing;
    if (!renewing) {
      this[GUARDED_INNER].get(
        sid,
        bounded(callback as (err?: unknown, session?: SessionData | null) => void),
      );
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
    const inner = this[GUARDED_INNER];
    const done = bounded(callback ?? noop);
    if (OWN_DESTROYS.has(sid)) {
      inner.destroy(sid, done);
      return;
    }
    // Someone else ends this session: if it was a Kakao login, its tokens go too, now rather than
    // when their TTL runs out.
    inner.get(sid, (err, data) => {
      const user = err
        ? undefined
        : (data as Record<string, unknown> | null | undefined)?.[this.options.sessionKey];
      const ended = isKakaoSessionUser(user)
        ? this.options.onDestroyed(user, sid).catch(() => undefined)
        : Promise.resolve();
      void ended.then(() => inner.destroy(sid, done));
    });
  }

  override set(sid: string, data: SessionData, callback?: Callback): void {
    const inner = this[GUARDED_INNER];
    const done = bounded(callback ?? noop);
    const user = (data as unknown as Record<string, unknown>)[this.options.sessionKey];
    const req = (data as unknown as { req?: Record<symbol, unknown> }).req;
    // Only a write of a logged-in Kakao session can resurrect one; the login's own write is exempt.
    const compact = withCompactCookie(data);
    if (!isKakaoSessionUser(user) || req?.[FRESH_LOGIN] === true) {
      inner.set(sid, compact, done);
      return;
    }
    this.options.markers.has(markerNames.endedSession({ userId: user.id, sessionId: sid })).then(
      (ended) => (ended ? done() : inner.set(sid, compact, done)),
      (err: unknown) => done(err),
    );
  }
}

function noop(): void {}

/**
 * The session as written: its cookie without the fields that hold express-session's defaults (no
 * `maxAge`, `path: '/'`, `httpOnly: true`, not `secure`), which express-session puts back when it loads
 * the session. About 80 bytes less per session in the store.
 */
function withCompactCookie(data: SessionData): SessionData {
  const cookie = data.cookie as (SessionData['cookie'] & { toJSON?: () => object }) | undefined;
  if (typeof cookie !== 'object' || cookie === null) return data;
  const fields = typeof cookie.toJSON === 'function' ? cookie.toJSON() : { ...cookie };
  const kept = Object.entries(fields).filter(
    ([name, value]) =>
      value !== undefined &&
      value !== null &&
      !(name === 'path' && value === '/') &&
      !(name === 'httpOnly' && value === true) &&
      !(name === 'secure' && value === false),
  );
  return { ...data, cookie: Object.fromEntries(kept) } as SessionData;
}

/**
 * A store callback that fires once: with the store's answer, or with an error when the store takes
 * longer than a command may (a session write held by a Redis client through a failover).
 */
function bounded<A extends unknown[]>(
  callback: (err?: unknown, ...rest: A) => void,
): (err?: unknown, ...rest: A) => void {
  let done = false;
  const cancel = afterDeadline(COMMAND_DEADLINE_MS, () => {
    done = true;
    (callback as (err?: unknown) => void)(
      new RedisUnavailableError('The session store did not answer in time'),
    );
  });
  return (err?: unknown, ...rest: A) => {
    if (done) return;
    done = true;
    cancel();
    callback(err, ...rest);
  };
}

/** Wraps `store` so that a session ended by logout, unlink or the webhook cannot be written back. */
export function guardStore(
  store: SessionStore,
  options: GuardOptions,
): SessionStore & { readonly redis: RedisConnection | undefined } {
  return new GuardedStore(store, options);
}
