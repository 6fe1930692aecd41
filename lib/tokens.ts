/**
 * TokenVault: Kakao tokens sealed in a {@link TokenStore}, handed out as valid access tokens.
 *
 * Refreshes are single-flight per login, in one process (a promise per login) and across processes
 * (a marker lock, then compare-and-swap). A refresh that rotated the refresh token is written durably
 * (waiting for a replica) and, when the write fails, kept in this process's memory until a write
 * succeeds: Kakao has already invalidated the old refresh token, so losing the new one would log the
 * user out.
 */
import {
  KakaoResponseError,
  KakaoTokenError,
  ReauthRequiredError,
  TokenDecryptionError,
  TokenStoreError,
  isKakaoError,
} from './errors';
import type { KakaoClient } from './kakao-client';
import type { KakaoTokenResponse } from './kakao-types';
import { silentLogger, type KakaoLogger } from './logger';
import {
  markerNames,
  type LoginKey,
  type MarkerStore,
  type RecordWriteOptions,
  type TokenStore,
} from './stores/contracts';
import { describeRedisError } from './stores/redis-client';
import type { TokenCipher } from './token-cipher';
import {
  encodeRecord,
  parseRecord,
  sameTokens,
  toTokens,
  type KakaoTokens,
  type TokenRecord,
} from './token-record';
import { sleep } from './util';

export type { KakaoTokens } from './token-record';

const PURPOSE = 'kakao-tokens';
/** How long a refused refresh token waits for another process's rotated set before the login ends. */
const INVALID_GRANT_GRACE_MS = 1000;
/** Rotated token sets kept in memory while the store refuses writes. */
const MAX_PENDING = 10_000;
/** First and longest pause between two attempts to write a pending rotated set. */
const PENDING_RETRY_MS = 250;
const PENDING_RETRY_MAX_MS = 5000;

/** Options of {@link TokenVault}. */
export interface TokenVaultOptions {
  store: TokenStore;
  /** Locks for cross-process single-flight refresh. Default: the store's markers, else in process. */
  markers: MarkerStore;
  cipher: TokenCipher;
  client: KakaoClient;
  /** Refresh this long before the access token expires, in ms. Default 60000. */
  refreshSkewMs?: number;
  /** Lifetime of the cross-process refresh lock in ms (longer than a refresh can take). Default 15000. */
  lockTtlMs?: number;
  /**
   * How long a waiter waits for another process's refresh before answering "try again" (503), in ms.
   * Default 2000.
   */
  lockWaitMs?: number;
  now?: () => number;
  logger?: KakaoLogger;
}

/** A rotated set kept in memory until a replica holds it. */
interface Pending {
  record: TokenRecord;
  /** The sealed value written (or to write). */
  sealed: string;
  /** The sealed values it may replace in the store: the stored one, and earlier sets written since. */
  replaces: string[];
  /** A write of it is under way. */
  flushing?: boolean;
}

/** A record read: from the store (with its sealed value, for compare-and-swap), or a pending set. */
type Opened =
  | { record: TokenRecord; sealed: string; pending?: undefined }
  | { record: TokenRecord; sealed?: undefined; pending: Pending };

/** Stores, opens and refreshes the Kakao tokens of logins. */
export class TokenVault {
  readonly #store: TokenStore;
  readonly #markers: MarkerStore;
  readonly #cipher: TokenCipher;
  readonly #client: KakaoClient;
  readonly #refreshSkewMs: number;
  readonly #lockTtlMs: number;
  readonly #lockWaitMs: number;
  readonly #now: () => number;
  readonly #logger: KakaoLogger;
  readonly #inFlight = new Map<string, Promise<KakaoTokens>>();
  /** Rotated sets no replica is known to hold yet, by login id. */
  readonly #pending = new Map<string, Pending>();

  constructor(options: TokenVaultOptions) {
    this.#store = options.store;
    this.#markers = options.markers;
    this.#cipher = options.cipher;
    this.#client = options.client;
    this.#refreshSkewMs = options.refreshSkewMs ?? 60_000;
    this.#lockTtlMs = options.lockTtlMs ?? 15_000;
    this.#lockWaitMs = options.lockWaitMs ?? 2000;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
  }

  get store(): TokenStore {
    return this.#store;
  }

  /**
   * Seals and stores the tokens of a fresh login. The record lives as long as the refresh token, and
   * never longer than `loginEndsAt` (the session's absolute end) when given; a login that outlives its
   * refresh token stays listed in the store until `loginEndsAt`, for unlink and the webhook.
   * @returns the session ids of the user's older logins the store dropped (their sessions should end).
   */
  async save(
    key: LoginKey,
    tokens: KakaoTokenResponse,
    options: { loginEndsAt?: number; durable?: boolean } = {},
  ): Promise<string[]> {
    if (!tokens.refresh_token || !tokens.refresh_token_expires_in) {
      // Kakao always sends both on the code grant: anything else is a broken answer, not our outage.
      throw new KakaoResponseError({ reason: 'bad_shape', operation: 'token', status: 200 });
    }
    const now = this.#now();
    const record: TokenRecord = {
      a: tokens.access_token,
      r: tokens.refresh_token,
      x: seconds(now + tokens.refresh_token_expires_in * 1000),
      ...(tokens.expires_in !== undefined && { e: this.#refreshDue(now, tokens.expires_in) }),
      ...(options.loginEndsAt !== undefined && { b: seconds(options.loginEndsAt) }),
      ...(tokens.id_token !== undefined && { i: tokens.id_token }),
    };
    this.#pending.delete(loginId(key));
    return this.#store.set(
      key,
      this.#seal(key, record),
      this.#ttl(record, now),
      this.#writeOptions(record, now, options.durable),
    );
  }

  /**
   * The stored tokens of a login, or `undefined` when there are none. A record that fails to open under
   * a key this process holds (tampering, another owner) is deleted and counts as none.
   * @throws TokenKeyUnknownError when the record is sealed under a key id this process does not hold
   *   (the record is kept for the processes that do).
   * @throws TokenStoreError when the store is unavailable.
   */
  async load(key: LoginKey): Promise<KakaoTokens | undefined> {
    const opened = await this.#read(key);
    return opened && toTokens(opened.record);
  }

  /** Deletes the tokens of one login. */
  async delete(key: LoginKey): Promise<void> {
    this.#pending.delete(loginId(key));
    await this.#store.delete(key);
  }

  /**
   * A valid access token for the login, refreshed first when it is expired or about to expire.
   * Concurrent calls for one login share one refresh call to Kakao, also across processes.
   *
   * @param options.rejected an access token Kakao has just refused (-401): refresh unless the stored
   *   token is already a newer one, so many concurrent refusals still cause one refresh.
   * @throws ReauthRequiredError when there are no usable tokens (never stored, undecryptable, refresh
   *   token expired or revoked); a rejected record is deleted.
   * @throws KakaoResponseError / KakaoTokenError / KakaoApiError when Kakao fails; tokens are kept.
   * @throws TokenKeyUnknownError, TokenStoreError as for {@link TokenVault.load}.
   */
  async getAccessToken(key: LoginKey, options: { rejected?: string } = {}): Promise<string> {
    const opened = await this.#read(key);
    if (!opened) throw new ReauthRequiredError();
    if (!this.#needsRefresh(opened.record, options.rejected)) return opened.record.a;
    return (await this.#refreshOnce(key, options.rejected)).accessToken;
  }

  #needsRefresh(record: TokenRecord, rejected: string | undefined): boolean {
    return (record.e !== undefined && record.e * 1000 <= this.#now()) || record.a === rejected;
  }

  /** When to refresh a token that lives `expiresInSeconds`: the skew early, but never in the first half of its life. */
  #refreshDue(now: number, expiresInSeconds: number): number {
    const lifetime = expiresInSeconds * 1000;
    return seconds(now + Math.max(lifetime - this.#refreshSkewMs, lifetime / 2));
  }

  /** Seconds the record may live: until the refresh token or the login ends, whichever is first. */
  #ttl(record: TokenRecord, now: number): number {
    return secondsUntil(Math.min(record.x, record.b ?? Infinity), now);
  }

  /** A record write's options: durable when asked, and the login's end when it outlives the record. */
  #writeOptions(record: TokenRecord, now: number, durable = false): RecordWriteOptions {
    return {
      ...(durable && { durable: true }),
      ...(record.b !== undefined && record.b > record.x && { loginTtlSeconds: secondsUntil(record.b, now) }),
    };
  }

  /** Compare-and-swap of a record: its TTL and options follow the record. */
  #swap(key: LoginKey, expected: string, sealed: string, record: TokenRecord, durable = false) {
    const now = this.#now();
    return this.#store.compareAndSet(
      key,
      expected,
      sealed,
      this.#ttl(record, now),
      this.#writeOptions(record, now, durable),
    );
  }

  #refreshOnce(key: LoginKey, rejected: string | undefined): Promise<KakaoTokens> {
    const id = loginId(key);
    let pending = this.#inFlight.get(id);
    if (!pending) {
      pending = this.#refreshAcrossProcesses(key, rejected).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, pending);
    }
    return pending;
  }

  async #refreshAcrossProcesses(key: LoginKey, rejected: string | undefined): Promise<KakaoTokens> {
    const lockName = markerNames.refreshLock(key);
    const deadline = this.#now() + this.#lockWaitMs;
    let delay = 10;
    for (;;) {
      const lock = `${process.pid}.${Math.random().toString(36).slice(2)}`;
      if (await this.#markers.add(lockName, lock, this.#lockTtlMs)) {
        try {
          return await this.#refreshLocked(key, rejected);
        } finally {
          // Not awaited: the new set is in the store (or pending) already, and a waiter re-reads it
          // rather than needing the lock; the answer need not wait for the release's replica.
          void this.#release(lockName, lock);
        }
      }
      // Another process is refreshing: wait, then re-read instead of refreshing again.
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
      const opened = await this.#read(key);
      if (!opened) throw new ReauthRequiredError();
      if (!this.#needsRefresh(opened.record, rejected)) return toTokens(opened.record);
      if (this.#now() > deadline) {
        throw new TokenStoreError('Timed out waiting for another process to refresh the Kakao token');
      }
    }
  }

  /**
   * Releases a refresh lock; when Redis refuses (a failover in progress), tries again a few times in the
   * background, so the lock does not block the login's refreshes for its whole lifetime.
   */
  async #release(lockName: string, lock: string, attempt = 0): Promise<void> {
    await this.#markers.deleteIf(lockName, lock, { durable: true }).catch(() => {
      if (attempt >= 120) return;
      setTimeout(() => void this.#release(lockName, lock, attempt + 1), 250).unref();
    });
  }

  async #refreshLocked(key: LoginKey, rejected: string | undefined): Promise<KakaoTokens> {
    const opened = await this.#read(key);
    if (!opened) throw new ReauthRequiredError();
    // Someone refreshed while we were waiting for the lock.
    if (!this.#needsRefresh(opened.record, rejected)) return toTokens(opened.record);
    let response: KakaoTokenResponse;
    try {
      response = await this.#client.refreshToken(opened.record.r);
    } catch (err) {
      // Re-read before acting on a failure: another process may have refreshed (and rotated) already.
      const again = await this.#read(key).catch(() => opened);
      if (again && !sameTokens(again.record, opened.record)) return toTokens(again.record);
      if (err instanceof KakaoTokenError && err.error === 'invalid_grant') {
        // Another process may hold a rotated set it could not write yet (a failover): it writes it back
        // within moments, so look once more before giving the login up.
        await sleep(INVALID_GRANT_GRACE_MS);
        const later = await this.#read(key).catch(() => opened);
        if (later && !sameTokens(later.record, opened.record)) return toTokens(later.record);
        await this.#store.delete(key);
        this.#pending.delete(loginId(key));
        this.#logger({
          level: 'warn',
          event: 'refresh_rejected',
          reason: err.errorCode ?? err.error,
          userId: key.userId,
        });
        throw new ReauthRequiredError();
      }
      throw err;
    }
    const now = this.#now();
    const rotated = response.refresh_token !== undefined;
    // Kakao only sends a new refresh token when the old one has less than a month left; otherwise
    // the old one stays valid and must be kept.
    const record: TokenRecord = {
      ...opened.record,
      a: response.access_token,
      ...(response.expires_in !== undefined
        ? { e: this.#refreshDue(now, response.expires_in) }
        : { e: undefined }),
      ...(rotated && {
        r: response.refresh_token!,
        x:
          response.refresh_token_expires_in !== undefined
            ? seconds(now + response.refresh_token_expires_in * 1000)
            : opened.record.x,
      }),
      ...(response.id_token !== undefined && { i: response.id_token }),
    };
    if (record.e === undefined) delete record.e;
    return this.#write(key, opened, record, rotated);
  }

  /** Writes a refreshed record; a rotated one is written durably and never dropped on a failed write. */
  async #write(key: LoginKey, opened: Opened, record: TokenRecord, rotated: boolean): Promise<KakaoTokens> {
    const sealed = this.#seal(key, record);
    if (opened.pending) {
      // The record lives only in memory (no replica confirmed an earlier write): the new set replaces
      // it there, and whichever of the two the store holds.
      const { replaces: earlier, sealed: previous } = opened.pending;
      this.#remember(key, { record, sealed, replaces: [...earlier, previous].slice(-4) });
      return toTokens(record);
    }
    try {
      if (await this.#swap(key, opened.sealed, sealed, record, rotated)) {
        return toTokens(record);
      }
    } catch (err) {
      if (!(err instanceof TokenStoreError) || !rotated) throw err;
      // Kakao has invalidated the old refresh token: keep the new set here until a replica has it.
      this.#remember(key, { record, sealed, replaces: [opened.sealed] });
      this.#logger({
        level: 'error',
        event: 'token_write_failed',
        reason: err.code,
        cause: describeRedisError(err.cause),
        userId: key.userId,
      });
      return toTokens(record);
    }
    // The record changed under us (logout, unlink or another writer): theirs wins.
    const again = await this.#read(key);
    if (!again) throw new ReauthRequiredError();
    return toTokens(again.record);
  }

  /**
   * Keeps a rotated set in memory and writes it back as soon as Redis takes writes again, without
   * waiting for the user's next request: another process may serve that request, and it only has the
   * store.
   */
  #remember(key: LoginKey, pending: Pending): void {
    const id = loginId(key);
    this.#pending.delete(id);
    if (this.#pending.size >= MAX_PENDING) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    this.#pending.set(id, pending);
    const until = this.#now() + this.#ttl(pending.record, this.#now()) * 1000;
    const retry = (delayMs: number) => {
      if (this.#pending.get(id) !== pending) return;
      if (this.#now() > until) {
        this.#pending.delete(id);
        return;
      }
      setTimeout(
        () => void this.#flush(key).catch(() => retry(Math.min(delayMs * 2, PENDING_RETRY_MAX_MS))),
        delayMs,
      ).unref();
    };
    retry(PENDING_RETRY_MS);
  }

  /**
   * Writes a pending rotated set and waits for a replica to have it; then it is no longer pending.
   * @throws TokenStoreError while Redis refuses, or no replica confirms the write.
   */
  async #flush(key: LoginKey): Promise<void> {
    const id = loginId(key);
    const pending = this.#pending.get(id);
    if (!pending) return;
    // The store holds a set this one replaces (the write failed, or a failover lost it), or this set
    // already (written, but no replica confirmed it): write or confirm.
    let written = false;
    for (const stored of [pending.sealed, ...pending.replaces]) {
      written = await this.#swap(key, stored, pending.sealed, pending.record, true);
      if (written) break;
    }
    // None of them: the stored record has moved on (a logout, a newer login or refresh), and it is the
    // truth.
    if (this.#pending.get(id) === pending) this.#pending.delete(id);
    if (written) this.#logger({ level: 'info', event: 'token_write_recovered', userId: key.userId });
  }

  async #read(key: LoginKey): Promise<Opened | undefined> {
    // A rotated set no replica is known to hold is newer than anything in the store (the background
    // flush writes it there).
    const pending = this.#pending.get(loginId(key));
    if (pending) {
      // A request for the login is a good moment to try again (Redis may be back), without waiting.
      if (!pending.flushing) {
        pending.flushing = true;
        void this.#flush(key)
          .catch(() => undefined)
          .finally(() => (pending.flushing = false));
      }
      return { record: pending.record, pending };
    }
    const sealed = await this.#store.get(key);
    if (sealed === undefined) return undefined;
    let record: TokenRecord;
    let stale: boolean;
    try {
      const opened = this.#cipher.open(sealed, {
        purpose: PURPOSE,
        userId: key.userId,
        sessionId: key.sessionId,
      });
      record = parseRecord(opened.plaintext);
      stale = opened.stale;
    } catch (err) {
      if (!(err instanceof TokenDecryptionError)) throw err;
      this.#logger({ level: 'warn', event: 'token_decryption_failed', reason: err.code, userId: key.userId });
      await this.#store.delete(key);
      return undefined;
    }
    if (stale) {
      // Sealed with another key of the ring: re-seal with the current one, unless someone else wrote first.
      const fresh = this.#seal(key, record);
      const written = await this.#swap(key, sealed, fresh, record).catch((err: unknown) =>
        isKakaoError(err) ? false : Promise.reject(err),
      );
      if (written) return { record, sealed: fresh };
    }
    return { record, sealed };
  }

  #seal(key: LoginKey, record: TokenRecord): string {
    return this.#cipher.seal(encodeRecord(record), {
      purpose: PURPOSE,
      userId: key.userId,
      sessionId: key.sessionId,
    });
  }
}

function loginId(key: LoginKey): string {
  return `${key.userId}\u0000${key.sessionId}`;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** Whole seconds (at least one) from `now` (ms) until `epochSeconds`. */
function secondsUntil(epochSeconds: number, now: number): number {
  return Math.max(1, Math.ceil((epochSeconds * 1000 - now) / 1000));
}
