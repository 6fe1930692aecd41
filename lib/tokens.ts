import {
  KakaoResponseError,
  KakaoTokenError,
  ReauthRequiredError,
  TokenDecryptionError,
  TokenStoreError,
} from './errors';
import type { KakaoClient } from './kakao-client';
import type { KakaoTokenResponse } from './kakao-types';
import { silentLogger, type KakaoLogger } from './logger';
import type { TokenCipher } from './token-cipher';
import type { TokenRecordKey, TokenStore } from './token-store';

/** A user's Kakao tokens for one login, as the app sees them after decryption. */
export interface KakaoTokens {
  accessToken: string;
  refreshToken: string;
  idToken?: string;
  /**
   * Epoch ms from which the access token counts as expired and gets refreshed: Kakao's expiry less
   * the refresh skew (a minute by default; at most half the token's lifetime).
   */
  accessTokenExpiresAt: number;
  /** Epoch ms at which the refresh token expires. */
  refreshTokenExpiresAt: number;
  /** Granted consent items, space-separated, as Kakao reported them at login. */
  scope?: string;
}

/** The compact record that gets sealed (short keys keep Redis small). */
interface TokenRecord {
  a: string;
  r: string;
  i?: string;
  e: number;
  x: number;
  s?: string;
}

const PURPOSE = 'kakao-tokens';

/** Options of {@link TokenVault}. */
export interface TokenVaultOptions {
  /** Where sealed records live. */
  store: TokenStore;
  /** Seals and opens records (AES-256-GCM, key ring). */
  cipher: TokenCipher;
  /** Used to refresh access tokens. */
  client: KakaoClient;
  /** Refresh this long before the access token expires, in ms. Default 60000. */
  refreshSkewMs?: number;
  /**
   * Lifetime of the cross-process refresh lock in ms: longer than a refresh can take (two 10 s
   * attempts), so a second process never refreshes in parallel. Default 25000.
   */
  lockTtlMs?: number;
  /** How long a waiter waits for another process's refresh, in ms. Default 25000. */
  lockWaitMs?: number;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Security-event logger. Default: silent. */
  logger?: KakaoLogger;
}

/**
 * Keeps Kakao tokens encrypted in a {@link TokenStore} and hands out valid access tokens,
 * refreshing them at most once at a time per login, in one process and across processes.
 */
export class TokenVault {
  readonly #store: TokenStore;
  readonly #cipher: TokenCipher;
  readonly #client: KakaoClient;
  readonly #refreshSkewMs: number;
  readonly #lockTtlMs: number;
  readonly #lockWaitMs: number;
  readonly #now: () => number;
  readonly #logger: KakaoLogger;
  readonly #inFlight = new Map<string, Promise<KakaoTokens>>();

  constructor(options: TokenVaultOptions) {
    this.#store = options.store;
    this.#cipher = options.cipher;
    this.#client = options.client;
    this.#refreshSkewMs = options.refreshSkewMs ?? 60_000;
    this.#lockTtlMs = options.lockTtlMs ?? 25_000;
    this.#lockWaitMs = options.lockWaitMs ?? 25_000;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
  }

  /** The store the vault writes to. */
  get store(): TokenStore {
    return this.#store;
  }

  /** Seals and stores the tokens of a fresh login; the record lives as long as the refresh token. */
  async save(key: TokenRecordKey, tokens: KakaoTokenResponse): Promise<void> {
    if (!tokens.refresh_token || !tokens.refresh_token_expires_in) {
      // Kakao always sends both on the code grant: anything else is a broken answer, not our outage.
      throw new KakaoResponseError({ reason: 'bad_shape', operation: 'token', status: 200 });
    }
    const now = this.#now();
    const record: TokenRecord = {
      a: tokens.access_token,
      r: tokens.refresh_token,
      e: this.#refreshDue(now, tokens.expires_in),
      x: now + tokens.refresh_token_expires_in * 1000,
      ...(tokens.id_token !== undefined && { i: tokens.id_token }),
      ...(tokens.scope !== undefined && { s: tokens.scope }),
    };
    await this.#store.set(key, this.#seal(key, record), Math.ceil(tokens.refresh_token_expires_in));
  }

  /**
   * The stored tokens of a login, or `undefined` when there are none. A record that cannot be
   * decrypted counts as none: it is deleted and the user logs in again.
   */
  async load(key: TokenRecordKey): Promise<KakaoTokens | undefined> {
    const opened = await this.#read(key);
    return opened && toTokens(opened.record);
  }

  /** Deletes the tokens of one login. */
  async delete(key: TokenRecordKey): Promise<void> {
    await this.#store.delete(key);
  }

  /**
   * A valid access token for the login, refreshed first when it is expired or about to expire.
   * Concurrent calls for one login share one refresh call to Kakao, also across processes.
   *
   * @throws ReauthRequiredError when there are no usable tokens (never stored, undecryptable,
   *   refresh token expired or revoked); the stored record is deleted.
   * @throws KakaoResponseError / KakaoTokenError / KakaoApiError when Kakao fails; tokens are kept.
   * @throws TokenStoreError when the store is unavailable.
   * @param options.rejected an access token Kakao has just refused (-401): refresh unless the
   *   stored token is already a newer one, so many concurrent refusals still cause one refresh.
   */
  async getAccessToken(key: TokenRecordKey, options: { rejected?: string } = {}): Promise<string> {
    const opened = await this.#read(key);
    if (!opened) throw new ReauthRequiredError();
    if (!this.#needsRefresh(opened.record, options.rejected)) return opened.record.a;
    return (await this.#refreshOnce(key, options.rejected)).accessToken;
  }

  #needsRefresh(record: TokenRecord, rejected: string | undefined): boolean {
    return record.e <= this.#now() || record.a === rejected;
  }

  /** When to refresh a token that lives `expiresInSeconds`: the skew early, but never in the first half of its life. */
  #refreshDue(now: number, expiresInSeconds: number): number {
    const lifetime = expiresInSeconds * 1000;
    return now + Math.max(lifetime - this.#refreshSkewMs, lifetime / 2);
  }

  #refreshOnce(key: TokenRecordKey, rejected: string | undefined): Promise<KakaoTokens> {
    const id = `${key.userId}\u0000${key.sessionId}`;
    let pending = this.#inFlight.get(id);
    if (!pending) {
      pending = this.#refreshAcrossProcesses(key, rejected).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, pending);
    }
    return pending;
  }

  async #refreshAcrossProcesses(key: TokenRecordKey, rejected: string | undefined): Promise<KakaoTokens> {
    const lockName = `refresh:${key.sessionId}`;
    const deadline = this.#now() + this.#lockWaitMs;
    let delay = 10;
    for (;;) {
      const lock = await this.#store.acquireLock(lockName, this.#lockTtlMs, key.userId);
      if (lock !== undefined) {
        try {
          return await this.#refreshLocked(key, rejected);
        } finally {
          await this.#store.releaseLock(lockName, lock, key.userId).catch(() => false);
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

  async #refreshLocked(key: TokenRecordKey, rejected: string | undefined): Promise<KakaoTokens> {
    const opened = await this.#read(key);
    if (!opened) throw new ReauthRequiredError();
    // Someone refreshed while we were waiting for the lock.
    if (!this.#needsRefresh(opened.record, rejected)) return toTokens(opened.record);
    let response: KakaoTokenResponse;
    try {
      response = await this.#client.refreshToken(opened.record.r);
    } catch (err) {
      if (err instanceof KakaoTokenError && err.error === 'invalid_grant') {
        // Re-read before deleting: another instance may have rotated the token meanwhile.
        const again = await this.#read(key);
        if (again && again.sealed !== opened.sealed) return toTokens(again.record);
        await this.#store.delete(key);
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
    // Kakao only sends a new refresh token when the old one has less than a month left; otherwise
    // the old one stays valid and must be kept.
    const record: TokenRecord = {
      ...opened.record,
      a: response.access_token,
      e: this.#refreshDue(now, response.expires_in),
      ...(response.refresh_token !== undefined && {
        r: response.refresh_token,
        x: now + (response.refresh_token_expires_in ?? Math.max(1, (opened.record.x - now) / 1000)) * 1000,
      }),
      ...(response.id_token !== undefined && { i: response.id_token }),
      ...(response.scope !== undefined && { s: response.scope }),
    };
    const ttlSeconds = Math.max(1, Math.ceil((record.x - now) / 1000));
    const written = await this.#store.compareAndSet(key, opened.sealed, this.#seal(key, record), ttlSeconds);
    if (!written) {
      // The record changed under us (logout, unlink or another writer): theirs wins.
      const again = await this.#read(key);
      if (!again) throw new ReauthRequiredError();
      return toTokens(again.record);
    }
    return toTokens(record);
  }

  async #read(key: TokenRecordKey): Promise<{ record: TokenRecord; sealed: string } | undefined> {
    const sealed = await this.#store.get(key);
    if (sealed === undefined) return undefined;
    try {
      const opened = this.#cipher.open(sealed, {
        purpose: PURPOSE,
        userId: key.userId,
        sessionId: key.sessionId,
      });
      const record = parseRecord(opened.plaintext);
      if (opened.stale) {
        // Sealed with a retired key: re-seal with the current one, unless someone else wrote first.
        const fresh = this.#seal(key, record);
        const ttl = Math.max(1, Math.ceil((record.x - this.#now()) / 1000));
        if (await this.#store.compareAndSet(key, sealed, fresh, ttl)) return { record, sealed: fresh };
      }
      return { record, sealed };
    } catch (err) {
      if (err instanceof TokenDecryptionError) {
        this.#logger({
          level: 'warn',
          event: 'token_decryption_failed',
          reason: err.code,
          userId: key.userId,
        });
        await this.#store.delete(key);
        return undefined;
      }
      throw err;
    }
  }

  #seal(key: TokenRecordKey, record: TokenRecord): string {
    return this.#cipher.seal(JSON.stringify(record), {
      purpose: PURPOSE,
      userId: key.userId,
      sessionId: key.sessionId,
    });
  }
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
    typeof r.e !== 'number' ||
    typeof r.x !== 'number'
  ) {
    throw new TokenDecryptionError();
  }
  return r as TokenRecord;
}

function toTokens(record: TokenRecord): KakaoTokens {
  return {
    accessToken: record.a,
    refreshToken: record.r,
    accessTokenExpiresAt: record.e,
    refreshTokenExpiresAt: record.x,
    ...(record.i !== undefined && { idToken: record.i }),
    ...(record.s !== undefined && { scope: record.s }),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
