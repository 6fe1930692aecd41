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
import { markerNames, type LoginKey, type MarkerStore, type TokenStore } from './stores/contracts';
import { describeRedisError } from './stores/redis-client';
import type { TokenCipher } from './token-cipher';

/** A user's Kakao tokens for one login, as the app sees them after decryption. */
export interface KakaoTokens {
  accessToken: string;
  refreshToken: string;
  idToken?: string;
  /**
   * Epoch ms from which the access token counts as expired and gets refreshed: Kakao's expiry less
   * the refresh skew (a minute by default; at most half the token's lifetime). Absent when Kakao did
   * not say how long the token lives: it is then refreshed when Kakao refuses it (-401).
   */
  accessTokenExpiresAt?: number;
  /** Epoch ms at which the refresh token expires. */
  refreshTokenExpiresAt: number;
  /** Granted consent items, space-separated, as Kakao reported them at login. */
  scope?: string;
}

/** The sealed record (short keys and seconds keep Redis small). */
interface TokenRecord {
  /** access token */
  a: string;
  /** refresh token */
  r: string;
  /** ID token */
  i?: string;
  /** refresh due, epoch s (absent: unknown lifetime) */
  e?: number;
  /** refresh token expiry, epoch s */
  x: number;
  /** end of the login (session's absolute lifetime), epoch s; absent for offline access */
  b?: number;
  /** granted scope */
  s?: string;
}

const PURPOSE = 'kakao-tokens';
/** Rotated token sets kept in memory while the store refuses writes. */
const MAX_PENDING = 10_000;

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
   * Default 5000.
   */
  lockWaitMs?: number;
  now?: () => number;
  logger?: KakaoLogger;
}

interface Opened {
  record: TokenRecord;
  /** The sealed value in the store (for compare-and-swap); undefined for a record only in memory. */
  sealed: string | undefined;
}

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
  /** Rotated sets whose write failed: login id → record and the sealed value it replaces. */
  readonly #pending = new Map<string, { record: TokenRecord; replaces: string }>();

  constructor(options: TokenVaultOptions) {
    this.#store = options.store;
    this.#markers = options.markers;
    this.#cipher = options.cipher;
    this.#client = options.client;
    this.#refreshSkewMs = options.refreshSkewMs ?? 60_000;
    this.#lockTtlMs = options.lockTtlMs ?? 15_000;
    this.#lockWaitMs = options.lockWaitMs ?? 5000;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
  }

  get store(): TokenStore {
    return this.#store;
  }

  /**
   * Seals and stores the tokens of a fresh login. The record lives as long as the refresh token, and
   * never longer than `loginEndsAt` (the session's absolute end) when given.
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
      ...(tokens.scope !== undefined && { s: tokens.scope }),
    };
    this.#pending.delete(loginId(key));
    return this.#store.set(key, this.#seal(key, record), this.#ttl(record, now), {
      ...(options.durable && { durable: true }),
    });
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
    const end = Math.min(record.x, record.b ?? Infinity) * 1000;
    return Math.max(1, Math.ceil((end - now) / 1000));
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
          this.#release(lockName, lock);
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
  #release(lockName: string, lock: string, attempt = 0): void {
    this.#markers.deleteIf(lockName, lock).catch(() => {
      if (attempt >= 5) return;
      setTimeout(() => this.#release(lockName, lock, attempt + 1), 500 * 2 ** attempt).unref();
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
      if (again && again.sealed !== opened.sealed) return toTokens(again.record);
      if (err instanceof KakaoTokenError && err.error === 'invalid_grant') {
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
      ...(response.scope !== undefined && { s: response.scope }),
    };
    if (record.e === undefined) delete record.e;
    return this.#write(key, opened, record, rotated);
  }

  /** Writes a refreshed record; a rotated one is written durably and never dropped on a failed write. */
  async #write(key: LoginKey, opened: Opened, record: TokenRecord, rotated: boolean): Promise<KakaoTokens> {
    const base = opened.sealed;
    if (base === undefined) {
      // The record lives only in memory (an earlier write failed): it stays the pending one.
      this.#pending.set(loginId(key), { record, replaces: this.#pending.get(loginId(key))!.replaces });
      await this.#flush(key).catch(() => undefined);
      return toTokens(record);
    }
    const sealed = this.#seal(key, record);
    const ttl = this.#ttl(record, this.#now());
    for (let attempt = 0; ; attempt++) {
      try {
        if (await this.#store.compareAndSet(key, base, sealed, ttl, { durable: rotated })) {
          return toTokens(record);
        }
        // The record changed under us (logout, unlink or another writer): theirs wins.
        const again = await this.#read(key);
        if (!again) throw new ReauthRequiredError();
        return toTokens(again.record);
      } catch (err) {
        if (!(err instanceof TokenStoreError)) throw err;
        if (!rotated) throw err;
        if (attempt < 2) {
          await sleep(100 * 3 ** attempt);
          continue;
        }
        // Kakao has invalidated the old refresh token: keep the new set here until a write succeeds.
        this.#remember(key, record, base);
        this.#logger({
          level: 'error',
          event: 'token_write_failed',
          reason: err.code,
          cause: describeRedisError(err.cause),
          userId: key.userId,
        });
        return toTokens(record);
      }
    }
  }

  #remember(key: LoginKey, record: TokenRecord, replaces: string): void {
    const id = loginId(key);
    this.#pending.delete(id);
    if (this.#pending.size >= MAX_PENDING) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    this.#pending.set(id, { record, replaces });
  }

  /** Tries to write a pending rotated set; true when it is no longer pending. */
  async #flush(key: LoginKey): Promise<boolean> {
    const id = loginId(key);
    const pending = this.#pending.get(id);
    if (!pending) return true;
    const written = await this.#store.compareAndSet(
      key,
      pending.replaces,
      this.#seal(key, pending.record),
      this.#ttl(pending.record, this.#now()),
      { durable: true },
    );
    // Not written: the stored record is no longer the one the pending set replaces (a logout, or a
    // newer login), and the store is the truth again.
    if (this.#pending.get(id) === pending) this.#pending.delete(id);
    if (written) this.#logger({ level: 'info', event: 'token_write_recovered', userId: key.userId });
    return true;
  }

  async #read(key: LoginKey): Promise<Opened | undefined> {
    const pending = this.#pending.get(loginId(key));
    if (pending) {
      const flushed = await this.#flush(key).catch((err: unknown) => {
        if (err instanceof TokenStoreError) return false;
        throw err;
      });
      if (!flushed) return { record: pending.record, sealed: undefined };
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
      const written = await this.#store
        .compareAndSet(key, sealed, fresh, this.#ttl(record, this.#now()))
        .catch((err: unknown) => (isKakaoError(err) ? false : Promise.reject(err)));
      if (written) return { record, sealed: fresh };
    }
    return { record, sealed };
  }

  #seal(key: LoginKey, record: TokenRecord): string {
    return this.#cipher.seal(JSON.stringify(record), {
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

function parseRecord(text: string): TokenRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TokenDecryptionError();
  }
  const r = value as Partial<TokenRecord> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.a !== 'string' ||
    typeof r.r !== 'string' ||
    typeof r.x !== 'number' ||
    (r.e !== undefined && typeof r.e !== 'number') ||
    (r.b !== undefined && typeof r.b !== 'number')
  ) {
    throw new TokenDecryptionError();
  }
  return r as TokenRecord;
}

function toTokens(record: TokenRecord): KakaoTokens {
  return {
    accessToken: record.a,
    refreshToken: record.r,
    ...(record.e !== undefined && { accessTokenExpiresAt: record.e * 1000 }),
    refreshTokenExpiresAt: record.x * 1000,
    ...(record.i !== undefined && { idToken: record.i }),
    ...(record.s !== undefined && { scope: record.s }),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
