/** kakaoAuth's options: validated once, at construction, with messages that say how to fix them. */
import type { Request, Response } from 'express';
import {
  checkOptionNames,
  configError,
  requireAbsoluteUrl,
  requirePositiveInt,
  requireString,
} from '../config';
import type { KakaoLogger } from '../logger';
import {
  STRATEGY_OPTION_NAMES,
  type KakaoStrategyOptionsBase,
  type ResolvedStrategyOptions,
} from '../options';
import type { KakaoProfile } from '../profile';
import { DEFAULT_RESERVED_PREFIXES } from '../return-to';
import type { MarkerStore, TokenStore } from '../stores/contracts';
import { MemoryMarkers, MemoryTokenStore } from '../stores/memory-token-store';
import { KakaoStrategy } from '../strategy';
import { MANAGED, RESOLVED } from '../strategy-types';
import { createTokenCipher, generateKeyRing, usesGeneratedKey, type TokenCipher } from '../token-cipher';
import type { UnlinkEvent } from '../unlink-webhook';
import type { KakaoRouteError } from './errors';

/** What kakaoAuth keeps in the session for a logged-in user: what pages need, nothing secret. */
export interface KakaoSessionUser {
  /** Kakao user id (exact decimal string). */
  id: string;
  /** OpenID Connect mode: the ID token's issuer; the user is (`issuer`, `id`). */
  issuer?: string;
  nickname?: string;
  /** Profile image URL. */
  image?: string;
  /** Present only when Kakao says the address is valid and verified. */
  email?: string;
  emailVerified?: boolean;
  /**
   * Epoch ms of the login, for the absolute session lifetime. Always set on the users kakaoAuth puts in
   * the session; optional in the type so that `interface User extends KakaoSessionUser {}` also fits
   * users other code creates.
   */
  authTime?: number;
}

/** Options of kakaoAuth besides the strategy's. */
export interface KakaoAuthRouteOptions {
  /** Login start path. Default `/auth/kakao`. The callback path is the path of `callbackURL`. */
  loginPath?: string;
  /** Logout path (POST only). Default `/logout`. */
  logoutPath?: string;
  /** User-initiated unlink (POST, same-origin). Default `/unlink`; `false` turns it off. */
  unlinkPath?: string | false;
  /** Where failed logins go, with `?login_error=<code>` appended. Default `/`. */
  failureRedirect?: string;
  /** Where logout goes. Default `/`. */
  logoutRedirect?: string;
  /** Where sealed tokens live, e.g. `new RedisTokenStore({ client })`. Default: in memory (development only; refused when `NODE_ENV=production`). */
  tokenStore?: TokenStore;
  /** Seals tokens: `createTokenCipher({ keys })`. Default: a random key per process (development only; refused in production). */
  tokenCipher?: TokenCipher;
  /** Maps the Kakao profile to the session user; return `false` to refuse the login. Default: id, nickname, image, verified e-mail. */
  toUser?: (
    profile: KakaoProfile,
    req: Request,
  ) => Omit<KakaoSessionUser, 'authTime'> | false | Promise<Omit<KakaoSessionUser, 'authTime'> | false>;
  /** Session property holding the Kakao user (other strategies' `session.passport` is left alone). Default `kakao`. */
  sessionKey?: string;
  /** Absolute session lifetime in ms, whatever the activity. Default 12 h. */
  maxSessionAgeMs?: number;
  /**
   * Keep each user's latest token set for the refresh token's lifetime (about 2 months), independent of
   * sessions, so the app can call Kakao for users who are away (`auth.withOfflineAccessToken(userId, fn)`).
   * Costs about 0.5 KiB of Redis per user who logged in during that time; logout then ends only the
   * session. Unlink and the webhook delete it. Default false.
   */
  offlineAccess?: boolean;
  /** Renders error pages (4xx/5xx of the routes). Default: a minimal HTML page with a correlation id. */
  renderError?: (req: Request, res: Response, error: KakaoRouteError) => void;
  /** The Logout Redirect URI registered in the console; enables `POST /logout?kakaoAccount=1`. Default: unset. */
  kakaoAccountLogoutRedirectURL?: string;
  /** The admin key (Kakao console → App keys). With `appId`, mounts the unlink webhook. Server-side only. */
  adminKey?: string;
  /** The numeric app id, checked on the unlink webhook. */
  appId?: string;
  /** Path of the unlink webhook. Default `/webhooks/kakao/unlink`. */
  webhookPath?: string;
  /** Called after the webhook removed a user's tokens and sessions, to delete the app's own data. */
  onUnlink?: (event: UnlinkEvent) => Promise<void>;
  /** Security-event logger. Default: JSON lines on the console (warn and error). */
  logger?: KakaoLogger;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
}

/** kakaoAuth options with the strategy built from them: `clientID` and `callbackURL` are required. */
export interface KakaoAuthOptionsWithStrategyOptions extends KakaoAuthRouteOptions, KakaoStrategyOptionsBase {
  strategy?: undefined;
}

/**
 * kakaoAuth options around a ready strategy (whose options then stay with it). Its verify callback's
 * user goes into the session, so it needs a string `id` (the Kakao user id).
 */
export interface KakaoAuthOptionsWithStrategy extends KakaoAuthRouteOptions {
  strategy: KakaoStrategy;
}

/** Options of {@link kakaoAuth}. */
export type KakaoAuthOptions = KakaoAuthOptionsWithStrategyOptions | KakaoAuthOptionsWithStrategy;

const ROUTE_OPTIONS = [
  'strategy',
  'loginPath',
  'logoutPath',
  'unlinkPath',
  'failureRedirect',
  'logoutRedirect',
  'tokenStore',
  'tokenCipher',
  'toUser',
  'sessionKey',
  'maxSessionAgeMs',
  'offlineAccess',
  'renderError',
  'kakaoAccountLogoutRedirectURL',
  'adminKey',
  'appId',
  'webhookPath',
  'onUnlink',
] as const;

const WHAT = 'kakaoAuth';
const OWN_STRATEGY_OPTIONS = STRATEGY_OPTION_NAMES.filter(
  (n) => n !== 'passReqToCallback' && n !== 'logger' && n !== 'now',
);

/** kakaoAuth's options after validation. */
export interface ResolvedAuthOptions {
  strategy: KakaoStrategy;
  s: ResolvedStrategyOptions;
  loginPath: string;
  logoutPath: string;
  callbackPath: string;
  unlinkPath: string | undefined;
  failureRedirect: string;
  logoutRedirect: string;
  tokenStore: TokenStore;
  markers: MarkerStore;
  tokenCipher: TokenCipher;
  /** Seals the login-transaction cookies. */
  transactionCipher: TokenCipher;
  toUser: NonNullable<KakaoAuthRouteOptions['toUser']>;
  sessionKey: string;
  maxSessionAgeMs: number;
  offlineAccess: boolean;
  renderError: KakaoAuthRouteOptions['renderError'];
  accountLogout: { url: string; path: string } | undefined;
  webhook: { adminKey: string; appId: string; path: string } | undefined;
  onUnlink: KakaoAuthRouteOptions['onUnlink'];
  logger: KakaoLogger;
  now: () => number;
  reservedPrefixes: readonly string[];
  /** What the start-up warnings look at. */
  evidence: { memoryStore: boolean; generatedKey: boolean };
}

function requirePath(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  const path = requireString(WHAT, name, value, 'a path such as /auth/kakao');
  if (!path.startsWith('/') || path.startsWith('//')) {
    throw configError(`${WHAT}: "${name}" must be a path starting with one "/" (got "${path}").`);
  }
  return path;
}

/**
 * Validates kakaoAuth's options and builds (or adopts) the strategy.
 * @param makeVerify builds the verify callback of a strategy kakaoAuth creates.
 */
export function resolveAuthOptions(
  options: KakaoAuthOptions,
  makeVerify: (
    toUser: ResolvedAuthOptions['toUser'],
    now: () => number,
  ) => ConstructorParameters<typeof KakaoStrategy>[1],
): ResolvedAuthOptions {
  if (typeof options !== 'object' || options === null) {
    throw configError(`${WHAT}: options are required: kakaoAuth({ clientID, callbackURL }).`);
  }
  checkOptionNames(WHAT, options, [
    ...STRATEGY_OPTION_NAMES.filter((n) => n !== 'passReqToCallback'),
    ...ROUTE_OPTIONS,
  ]);
  const now = options.now ?? Date.now;
  const toUser = options.toUser ?? defaultToUser;
  if (typeof toUser !== 'function') throw configError(`${WHAT}: "toUser" must be a function.`);
  const strategy = adoptStrategy(options, toUser, now, makeVerify);
  const s = strategy[RESOLVED];
  const logger = options.logger ?? s.logger;
  const production = process.env.NODE_ENV === 'production';

  const tokenStore = options.tokenStore ?? new MemoryTokenStore({ now });
  if (typeof tokenStore !== 'object' || tokenStore === null || typeof tokenStore.get !== 'function') {
    throw configError(`${WHAT}: "tokenStore" must be a TokenStore such as new RedisTokenStore({ client }).`);
  }
  const tokenCipher = options.tokenCipher ?? createTokenCipher({ keys: generateKeyRing() });
  const memoryStore = tokenStore instanceof MemoryTokenStore;
  const generatedKey = usesGeneratedKey(tokenCipher);
  if (production) refuseDevelopmentSetup(s.callbackURL, memoryStore, generatedKey);

  const loginPath = requirePath('loginPath', options.loginPath, '/auth/kakao');
  const logoutPath = requirePath('logoutPath', options.logoutPath, '/logout');
  const unlinkPath =
    options.unlinkPath === false ? undefined : requirePath('unlinkPath', options.unlinkPath, '/unlink');
  const accountLogout = resolveAccountLogout(options.kakaoAccountLogoutRedirectURL, s.appOrigin);
  const webhook = resolveWebhook(options);
  if (options.onUnlink !== undefined && typeof options.onUnlink !== 'function') {
    throw configError(
      `${WHAT}: "onUnlink" must be an async function receiving { userId, appId, referrerType }.`,
    );
  }
  const sessionKey =
    options.sessionKey === undefined
      ? 'kakao'
      : requireString(WHAT, 'sessionKey', options.sessionKey, 'a session property name');
  if (sessionKey === 'passport' || sessionKey === 'cookie') {
    throw configError(
      `${WHAT}: "sessionKey" cannot be "${sessionKey}" (express-session and Passport use it).`,
    );
  }
  if (options.offlineAccess !== undefined && typeof options.offlineAccess !== 'boolean') {
    throw configError(`${WHAT}: "offlineAccess" must be true or false.`);
  }
  const markers = tokenStore.markers ?? new MemoryMarkers(now);
  if (s.transactionCipher === undefined && typeof tokenCipher.derive !== 'function') {
    throw configError(
      `${WHAT}: "tokenCipher" has no derive() to key the login-transaction cookies: use createTokenCipher(), or give the strategy a "transactionSecret".`,
    );
  }
  return {
    transactionCipher: s.transactionCipher ?? tokenCipher.derive('login-transaction'),
    strategy,
    s,
    loginPath,
    logoutPath,
    callbackPath: s.callbackPath,
    unlinkPath,
    failureRedirect: requirePath('failureRedirect', options.failureRedirect, '/'),
    logoutRedirect: requirePath('logoutRedirect', options.logoutRedirect, '/'),
    tokenStore,
    markers,
    tokenCipher,
    toUser,
    sessionKey,
    maxSessionAgeMs: requirePositiveInt(WHAT, 'maxSessionAgeMs', options.maxSessionAgeMs, 12 * 3600_000),
    offlineAccess: options.offlineAccess ?? false,
    renderError: options.renderError,
    accountLogout,
    webhook,
    onUnlink: options.onUnlink,
    logger,
    now,
    reservedPrefixes: [
      ...DEFAULT_RESERVED_PREFIXES,
      loginPath,
      s.callbackPath,
      logoutPath,
      ...(webhook ? [webhook.path] : []),
      ...(unlinkPath ? [unlinkPath] : []),
      ...(accountLogout ? [accountLogout.path] : []),
    ],
    evidence: { memoryStore, generatedKey },
  };
}

function adoptStrategy(
  options: KakaoAuthOptions,
  toUser: ResolvedAuthOptions['toUser'],
  now: () => number,
  makeVerify: Parameters<typeof resolveAuthOptions>[1],
): KakaoStrategy {
  if (options.strategy === undefined) {
    const strategyOptions: Record<string | symbol, unknown> = { [MANAGED]: true, passReqToCallback: true };
    for (const name of STRATEGY_OPTION_NAMES) {
      const value = (options as unknown as Record<string, unknown>)[name];
      if (value !== undefined && name !== 'passReqToCallback') strategyOptions[name] = value;
    }
    return new KakaoStrategy(
      strategyOptions as unknown as ConstructorParameters<typeof KakaoStrategy>[0] & {
        passReqToCallback: true;
      },
      makeVerify(toUser, now) as ConstructorParameters<typeof KakaoStrategy>[1] & never,
    );
  }
  if (!(options.strategy instanceof KakaoStrategy))
    throw configError(`${WHAT}: "strategy" must be a KakaoStrategy.`);
  for (const name of OWN_STRATEGY_OPTIONS) {
    if ((options as unknown as Record<string, unknown>)[name] !== undefined) {
      throw configError(
        `${WHAT}: "${name}" cannot be combined with "strategy"; configure the strategy instead.`,
      );
    }
  }
  return options.strategy;
}

function refuseDevelopmentSetup(callbackURL: string, memoryStore: boolean, generatedKey: boolean): void {
  const problems: string[] = [];
  if (memoryStore) {
    problems.push(
      '"tokenStore" is the in-memory store: pass tokenStore: new RedisTokenStore({ client }) so tokens survive restarts and are shared by every process',
    );
  }
  if (generatedKey) {
    problems.push(
      '"tokenCipher" uses a key generated for this process: pass tokenCipher: createTokenCipher({ keys: parseKeyRing(process.env.TOKEN_ENCRYPTION_KEYS) }) with 32-byte keys from your secret store',
    );
  }
  const url = new URL(callbackURL);
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    problems.push(
      `"callbackURL" is http (${url.origin}): use the https URL registered in the Kakao console; cookies are Secure in production`,
    );
  }
  if (problems.length > 0) {
    throw configError(`${WHAT}: refusing to start with NODE_ENV=production:\n  - ${problems.join('\n  - ')}`);
  }
}

function resolveAccountLogout(value: unknown, appOrigin: string): ResolvedAuthOptions['accountLogout'] {
  if (value === undefined) return undefined;
  const url = requireAbsoluteUrl(
    WHAT,
    'kakaoAccountLogoutRedirectURL',
    value,
    'registered as a Logout Redirect URI in the Kakao console, e.g. https://app.example/logout/kakao/callback',
  );
  if (new URL(url).origin !== appOrigin) {
    throw configError(`${WHAT}: "kakaoAccountLogoutRedirectURL" must be on the app's origin (${appOrigin}).`);
  }
  return { url, path: new URL(url).pathname };
}

function resolveWebhook(options: KakaoAuthRouteOptions): ResolvedAuthOptions['webhook'] {
  if ((options.adminKey === undefined) !== (options.appId === undefined)) {
    throw configError(
      `${WHAT}: the unlink webhook needs both "adminKey" and "appId" (Kakao console → App → App keys / App ID); got only one.`,
    );
  }
  if (options.adminKey === undefined || options.appId === undefined) {
    if (options.webhookPath !== undefined)
      throw configError(`${WHAT}: "webhookPath" needs "adminKey" and "appId".`);
    return undefined;
  }
  return {
    adminKey: requireString(WHAT, 'adminKey', options.adminKey, 'the admin key from the Kakao console'),
    appId: requireString(WHAT, 'appId', String(options.appId), 'the numeric app id'),
    path: requirePath('webhookPath', options.webhookPath, '/webhooks/kakao/unlink'),
  };
}

function defaultToUser(profile: KakaoProfile): Omit<KakaoSessionUser, 'authTime'> {
  return {
    id: profile.id,
    ...(profile.issuer !== undefined && { issuer: profile.issuer }),
    ...(profile.nickname !== undefined && { nickname: profile.nickname }),
    ...(profile.image !== undefined && { image: profile.image }),
    ...(profile.email !== undefined &&
      profile.emailVerified === true && { email: profile.email, emailVerified: true }),
  };
}
