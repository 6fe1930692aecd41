/**
 * The emulator's model: users, Kakao browser sessions, pending consent screens, authorization codes,
 * access and refresh tokens, issuance rate limits, all on the emulator clock. No HTTP here.
 */
import { randomBytes } from 'node:crypto';
import type { EmulatorSettings } from './options';
import { createUserRecord, snapshotUser, type UserRecord } from './users';
import type { EmulatorUser, EmulatorUserInit } from './types';
import { argumentError } from './wire';

/** A consent screen waiting for the user's decision. */
export interface PendingAuthorization {
  id: string;
  clientId: string;
  redirectUri: string;
  state: string | undefined;
  /** The `scope` items (validated against the console), or `undefined` when no `scope` was sent. */
  requested: string[] | undefined;
  /** The `service_terms` tags, or `undefined` when none were sent. */
  serviceTermTags: string[] | undefined;
  /** Whether the code grant returns an ID token (OIDC on, and `openid` in `scope` when one was sent). */
  withIdToken: boolean;
  /** Consent items the screen offers. */
  items: string[];
  /** Service terms (tags) the screen offers. */
  serviceTerms: string[];
  codeChallenge: string | undefined;
  nonce: string | undefined;
  loginHint: string | undefined;
  /** User preselected on the screen. */
  preselectedUserId: string | undefined;
  expiresAt: number;
}

/** What an authorization code stands for. */
export interface CodeRecord {
  clientId: string;
  redirectUri: string;
  codeChallenge: string | undefined;
  nonce: string | undefined;
  /** Granted consent items (the user's agreed items, `openid` included when requested). */
  scopes: string[];
  userId: string;
  authTime: number;
  withIdToken: boolean;
  expiresAt: number;
}

/** What an access token stands for. */
export interface AccessTokenRecord {
  userId: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
  /** The refresh token issued with (or used for) this access token. */
  refreshToken: string | undefined;
}

/** What a refresh token stands for. */
export interface RefreshTokenRecord {
  userId: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
  withIdToken: boolean;
  authTime: number;
}

interface KakaoSession {
  userId: string;
  authTime: number;
  expiresAt: number;
}

const MINUTE = 60_000;
const ACCESS_WINDOW_MS = 10 * MINUTE;
const ACCESS_LIMIT = 20;
const REFRESH_WINDOW_MS = 60 * MINUTE;
const REFRESH_LIMIT = 30;
const SESSION_TTL_MS = 24 * 60 * MINUTE;
const PENDING_TTL_MS = 30 * MINUTE;
/** Expired access tokens still answer "already expired" (not "does not exist") for this long. */
const EXPIRED_TOKEN_GRACE_MS = 7 * 24 * 60 * MINUTE;
const MAX_PENDING = 10_000;

/** A random base64url string of `bytes` random bytes. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** In-memory model of one Kakao app and its users. */
export class EmulatorState {
  readonly users = new Map<string, UserRecord>();
  private readonly sessions = new Map<string, KakaoSession>();
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly codes = new Map<string, CodeRecord>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly accessIssued = new Map<string, number[]>();
  private readonly refreshIssued = new Map<string, number[]>();
  private readonly appCalls = new Map<string, number[]>();
  private readonly secrets: string[] = [];
  private clockOffset = 0;
  private lastSweep = 0;

  constructor(
    private readonly settings: EmulatorSettings,
    users: UserRecord[],
  ) {
    for (const user of users) this.users.set(user.id, user);
  }

  /** Emulator time in ms. */
  now(): number {
    return this.settings.now() + this.clockOffset;
  }

  /** @throws TypeError when `ms` is not a finite number. */
  advanceClock(ms: number): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms))
      throw argumentError('advanceClock(ms): ms must be a finite number');
    this.clockOffset += ms;
  }

  /** @throws TypeError when the user is malformed or the id exists. */
  addUser(init: EmulatorUserInit): EmulatorUser {
    const record = createUserRecord(init);
    if (this.users.has(record.id)) throw argumentError(`user "${record.id}" already exists`);
    this.users.set(record.id, record);
    return snapshotUser(record);
  }

  issuedSecrets(): string[] {
    return [...this.secrets];
  }

  // Kakao browser sessions

  createSession(userId: string): string {
    const id = randomToken(24);
    const now = this.now();
    this.sessions.set(id, { userId, authTime: now, expiresAt: now + SESSION_TTL_MS });
    return id;
  }

  /** The signed-in user of a session cookie value, if the session is alive and the user exists. */
  sessionUser(sessionId: string | undefined): { user: UserRecord; authTime: number } | undefined {
    if (!sessionId) return undefined;
    const session = this.sessions.get(sessionId);
    if (!session) return undefined;
    const user = this.users.get(session.userId);
    if (!user || session.expiresAt <= this.now()) {
      this.sessions.delete(sessionId);
      return undefined;
    }
    return { user, authTime: session.authTime };
  }

  deleteSession(sessionId: string | undefined): void {
    if (sessionId) this.sessions.delete(sessionId);
  }

  // Pending consent screens

  createPending(data: Omit<PendingAuthorization, 'id' | 'expiresAt'>): PendingAuthorization {
    this.sweep();
    if (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.keys().next();
      if (!oldest.done) this.pending.delete(oldest.value);
    }
    const pending: PendingAuthorization = {
      ...data,
      id: randomToken(24),
      expiresAt: this.now() + PENDING_TTL_MS,
    };
    this.pending.set(pending.id, pending);
    return pending;
  }

  /** Takes a pending authorization out (one decision per screen). */
  takePending(id: string | undefined): PendingAuthorization | undefined {
    if (!id) return undefined;
    const pending = this.pending.get(id);
    this.pending.delete(id);
    return pending && pending.expiresAt > this.now() ? pending : undefined;
  }

  // Linking and consent

  /**
   * Links the user to the app (first time: sets `connected_at`, and with auto-link off leaves them
   * preregistered) and records newly agreed items and service terms.
   */
  link(user: UserRecord, agreed: readonly string[], terms: readonly string[] = []): void {
    const at = new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (!user.linked) {
      user.linked = true;
      user.connectedAt = at;
      if (!this.settings.autoLink) user.hasSignedUp = false;
    }
    for (const item of agreed) if (!user.agreedScopes.includes(item)) user.agreedScopes.push(item);
    for (const tag of terms) {
      if (!user.agreedServiceTerms.some((term) => term.tag === tag))
        user.agreedServiceTerms.push({ tag, agreedAt: at });
    }
  }

  /** Unlinks the user: consents, service terms, sign-up and every token gone. */
  unlink(user: UserRecord): void {
    user.linked = false;
    user.agreedScopes = [];
    user.agreedServiceTerms = [];
    delete user.connectedAt;
    delete user.hasSignedUp;
    this.revokeUserTokens(user.id);
  }

  // Codes

  issueCode(data: Omit<CodeRecord, 'expiresAt'>): string {
    this.sweep();
    const code = randomToken(48);
    this.codes.set(code, { ...data, expiresAt: this.now() + this.settings.codeTtlSeconds * 1000 });
    this.secrets.push(code);
    return code;
  }

  /** Consumes a code whatever happens next; `undefined` when unknown, used or expired. */
  consumeCode(code: string): CodeRecord | undefined {
    const record = this.codes.get(code);
    this.codes.delete(code);
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  // Tokens

  /**
   * True when issuing `access` access tokens and `refresh` refresh tokens to the user stays within Kakao's
   * per-user limits (always true with `tokenRateLimit: false`). Records the issuance when allowed.
   */
  admitIssuance(userId: string, access: number, refresh: number): boolean {
    if (!this.settings.tokenRateLimit) return true;
    const now = this.now();
    const accessLog = (this.accessIssued.get(userId) ?? []).filter((at) => at > now - ACCESS_WINDOW_MS);
    const refreshLog = (this.refreshIssued.get(userId) ?? []).filter((at) => at > now - REFRESH_WINDOW_MS);
    const allowed = accessLog.length + access <= ACCESS_LIMIT && refreshLog.length + refresh <= REFRESH_LIMIT;
    if (allowed) {
      for (let i = 0; i < access; i += 1) accessLog.push(now);
      for (let i = 0; i < refresh; i += 1) refreshLog.push(now);
    }
    this.accessIssued.set(userId, accessLog);
    this.refreshIssued.set(userId, refreshLog);
    return allowed;
  }

  /** Sliding-window limit per app and API (e.g. `/v1/user/ids`: 100 calls per minute). Records the call when allowed. */
  admitAppCall(api: string, limit: number, windowMs: number): boolean {
    const now = this.now();
    const log = (this.appCalls.get(api) ?? []).filter((at) => at > now - windowMs);
    const allowed = log.length < limit;
    if (allowed) log.push(now);
    this.appCalls.set(api, log);
    return allowed;
  }

  issueAccessToken(data: Omit<AccessTokenRecord, 'expiresAt'>): string {
    const token = randomToken(40);
    this.accessTokens.set(token, {
      ...data,
      expiresAt: this.now() + this.settings.accessTokenTtlSeconds * 1000,
    });
    this.secrets.push(token);
    return token;
  }

  issueRefreshToken(data: Omit<RefreshTokenRecord, 'expiresAt'>): string {
    const token = randomToken(40);
    this.refreshTokens.set(token, {
      ...data,
      expiresAt: this.now() + this.settings.refreshTokenTtlSeconds * 1000,
    });
    this.secrets.push(token);
    return token;
  }

  /** Records an ID token among the issued secrets. */
  recordSecret(secret: string): void {
    this.secrets.push(secret);
  }

  /** Looks up an access token: `undefined` when unknown or revoked. */
  findAccessToken(token: string): { record: AccessTokenRecord; expired: boolean } | undefined {
    const record = this.accessTokens.get(token);
    return record ? { record, expired: record.expiresAt <= this.now() } : undefined;
  }

  /** A live refresh token, or `undefined` (unknown, revoked or expired). */
  findRefreshToken(token: string): RefreshTokenRecord | undefined {
    const record = this.refreshTokens.get(token);
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  revokeAccessToken(token: string): void {
    this.accessTokens.delete(token);
  }

  revokeRefreshToken(token: string): void {
    this.refreshTokens.delete(token);
  }

  revokeUserTokens(userId: string): void {
    for (const [token, record] of this.accessTokens)
      if (record.userId === userId) this.accessTokens.delete(token);
    for (const [token, record] of this.refreshTokens)
      if (record.userId === userId) this.refreshTokens.delete(token);
  }

  expireAccessTokens(userId?: string): void {
    const now = this.now();
    for (const record of this.accessTokens.values()) {
      if (userId === undefined || record.userId === userId)
        record.expiresAt = Math.min(record.expiresAt, now);
    }
  }

  expireRefreshTokens(userId?: string): void {
    const now = this.now();
    for (const record of this.refreshTokens.values()) {
      if (userId === undefined || record.userId === userId)
        record.expiresAt = Math.min(record.expiresAt, now);
    }
  }

  setRefreshTokenRemaining(userId: string, seconds: number): void {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
      throw argumentError('setRefreshTokenRemaining: seconds must be a finite number');
    }
    const now = this.now();
    for (const record of this.refreshTokens.values()) {
      if (record.userId === userId && record.expiresAt > now) record.expiresAt = now + seconds * 1000;
    }
  }

  /** Drops long-dead records so a long-running demo does not grow without bound. */
  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweep < MINUTE) return;
    this.lastSweep = now;
    for (const [key, record] of this.codes) if (record.expiresAt <= now) this.codes.delete(key);
    for (const [key, record] of this.pending) if (record.expiresAt <= now) this.pending.delete(key);
    for (const [key, record] of this.sessions) if (record.expiresAt <= now) this.sessions.delete(key);
    for (const [key, record] of this.refreshTokens)
      if (record.expiresAt <= now) this.refreshTokens.delete(key);
    for (const [key, record] of this.accessTokens) {
      if (record.expiresAt <= now - EXPIRED_TOKEN_GRACE_MS) this.accessTokens.delete(key);
    }
  }
}
