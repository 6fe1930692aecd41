/**
 * Option resolution of {@link KakaoStrategy}: every option validated once, at construction, with a
 * message that says how to fix it; the caller's object is copied, never kept or changed. (The Kakao
 * client validates its own transport options; kakaoAuth's are in `kakao-auth/options.ts`.)
 */
import {
  checkOptionNames,
  configError,
  parsePrompt,
  parseScopes,
  parseTags,
  requireAbsoluteUrl,
  requirePositiveInt,
  requireString,
  type KakaoPrompt,
} from './config';
import { createIdTokenVerifier, type IdTokenVerifier } from './id-token';
import { KakaoClient, type KakaoClientOptions } from './kakao-client';
import { consoleLogger, type KakaoLogger } from './logger';
import { DEFAULT_RESERVED_PREFIXES } from './return-to';
import type { MarkerStore } from './stores/contracts';
import { cipherFromSecrets, type TokenCipher } from './token-cipher';
import { transactionCookieConfig, type TransactionCookieConfig } from './transaction-cookies';
import { DEFAULT_TRANSACTION_LIMITS, type TransactionLimits } from './transactions';

/** Options shared by both verify styles of {@link KakaoStrategy}. */
export interface KakaoStrategyOptionsBase {
  /** The app's REST API key (Kakao Developers → App → Platform keys). Required. */
  clientID: string;
  /** Client secret, sent as `client_secret` (client_secret_post) only when set. Default: none. */
  clientSecret?: string;
  /** The registered redirect URI, absolute; sent verbatim to authorize and token. Required. */
  callbackURL: string;
  /**
   * Consent items to ask for again (Kakao's "additional consent"), comma/space-separated or an array.
   * Default: none, and Kakao asks for the consent items configured in the console at first login, as it
   * recommends. Sent on every login, `scope` re-prompts users who declined an optional item.
   */
  scope?: string | readonly string[];
  /** Kakao `prompt`: `login`, `none`, `create`, `select_account`. Default: none. */
  prompt?: KakaoPrompt | readonly KakaoPrompt[];
  /** Pre-fills Kakao's login form (an e-mail, or a phone number such as `+82 10-1234-5678`). Default: none. */
  loginHint?: string;
  /** Kakao Sync service-terms tags. Default: none. */
  serviceTerms?: string | readonly string[];
  /** Authorization server origin. Default `https://kauth.kakao.com`; point it at an emulator in tests. */
  authOrigin?: string;
  /** API server origin. Default `https://kapi.kakao.com`. */
  apiOrigin?: string;
  /** Timeout of the token and user-info calls in ms. Default 10000. */
  timeoutMs?: number;
  /** Timeout of Kakao's token logout in ms (best effort). Default 3000. */
  logoutTimeoutMs?: number;
  /** Concurrent pending logins per browser (tabs); a new one drops the oldest beyond it. Default 5. */
  maxTransactions?: number;
  /** Lifetime of a pending login in ms (at most 10 minutes). Default 600000. */
  transactionTtlMs?: number;
  /** Base name of the login-transaction cookies (`__Host-` is prepended over https). Default `kakao_tx`. */
  transactionCookieName?: string;
  /**
   * Secret(s) for sealing login-transaction cookies, first seals, all open (pass the same value as
   * express-session's `secret`). Needed only when the strategy is used without kakaoAuth, which derives
   * the key from its token key ring. Default: a random key per process (development only; refused when
   * `NODE_ENV=production`).
   */
  transactionSecret?: string | readonly string[];
  /**
   * Where used login states are marked, so each callback is accepted once across processes: e.g.
   * `new RedisTokenStore({ client }).markers`. Default: kakaoAuth's token store, or process memory.
   */
  stateStore?: MarkerStore;
  /** `property_keys` for `/v2/user/me`. Default: every consented item. */
  propertyKeys?: readonly string[];
  /** A fetch implementation for calls to Kakao. Default: the built-in keep-alive node:http(s) transport. */
  fetch?: typeof globalThis.fetch;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Security-event logger. Default: JSON lines on the console (warn and error). */
  logger?: KakaoLogger;
  /** A ready client (shared with other components); the origin, timeout and fetch options must then be unset. */
  client?: KakaoClient;
  /**
   * OpenID Connect mode: sends a per-login `nonce`, adds `openid` to `scope` whenever a scope is sent,
   * and requires a verified ID token before the verify callback runs. Turn OpenID Connect on in the
   * Kakao console too. Default false.
   */
  openid?: boolean;
  /** Name of the session cookie, used only to explain lost logins in log hints. Default `connect.sid`. */
  sessionCookieName?: string;
  /** Expected ID-token issuer. Default: the auth origin (`https://kauth.kakao.com`). */
  issuer?: string;
  /** JWKS URL. Default: `<auth origin>/.well-known/jwks.json`. */
  jwksUri?: string;
  /** Allowed clock skew for ID tokens in seconds (at most 60). Default 60. */
  clockToleranceSec?: number;
  /** Maximum age of an ID token's `iat` in seconds. Default 600. */
  idTokenMaxAgeSec?: number;
}

/** Every option name of the strategy. */
export const STRATEGY_OPTION_NAMES = [
  'clientID',
  'clientSecret',
  'callbackURL',
  'scope',
  'prompt',
  'loginHint',
  'serviceTerms',
  'authOrigin',
  'apiOrigin',
  'timeoutMs',
  'logoutTimeoutMs',
  'maxTransactions',
  'transactionTtlMs',
  'transactionCookieName',
  'transactionSecret',
  'stateStore',
  'propertyKeys',
  'fetch',
  'now',
  'logger',
  'client',
  'sessionCookieName',
  'openid',
  'issuer',
  'jwksUri',
  'clockToleranceSec',
  'idTokenMaxAgeSec',
  'passReqToCallback',
] as const;

const CLIENT_OPTIONS = [
  'clientSecret',
  'authOrigin',
  'apiOrigin',
  'timeoutMs',
  'logoutTimeoutMs',
  'fetch',
] as const;

/** The strategy's options after validation. */
export interface ResolvedStrategyOptions {
  readonly clientID: string;
  readonly callbackURL: string;
  readonly callbackPath: string;
  readonly appOrigin: string;
  readonly client: KakaoClient;
  readonly scope: readonly string[];
  readonly prompt: readonly KakaoPrompt[];
  readonly loginHint: string | undefined;
  readonly serviceTerms: readonly string[];
  readonly limits: TransactionLimits;
  readonly cookies: TransactionCookieConfig;
  /** Undefined until kakaoAuth supplies one, or the strategy falls back to a per-process key. */
  readonly transactionCipher: TokenCipher | undefined;
  readonly stateStore: MarkerStore | undefined;
  readonly propertyKeys: readonly string[] | undefined;
  readonly sessionCookieName: string;
  readonly reservedPrefixes: readonly string[];
  readonly idTokens: IdTokenVerifier | undefined;
  readonly issuer: string;
  readonly now: () => number;
  readonly logger: KakaoLogger;
  readonly passReqToCallback: boolean;
}

const WHAT = 'KakaoStrategy';
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;

/** `login_hint`: an e-mail or a phone number as Kakao documents it (`+82 10-1234-5678`); only control characters are refused. */
export function parseLoginHint(what: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '' || value.length > 256 || CONTROL.test(value)) {
    throw configError(
      `${what}: "loginHint" must be a non-empty string of at most 256 characters without control characters, such as "+82 10-1234-5678" or an e-mail address.`,
    );
  }
  return value;
}

/**
 * Validates the strategy's options.
 * @param internal.managed set by kakaoAuth, which supplies the transaction key and the state store.
 */
export function resolveStrategyOptions(
  options: KakaoStrategyOptionsBase & { passReqToCallback?: boolean },
  internal: { managed?: boolean } = {},
): ResolvedStrategyOptions {
  if (typeof options !== 'object' || options === null) {
    throw configError(`${WHAT}: options are required: new KakaoStrategy({ clientID, callbackURL }, verify).`);
  }
  checkOptionNames(WHAT, options, STRATEGY_OPTION_NAMES);
  const clientID = requireString(
    WHAT,
    'clientID',
    options.clientID,
    'the REST API key from Kakao Developers',
  );
  const callbackURL = requireAbsoluteUrl(
    WHAT,
    'callbackURL',
    options.callbackURL,
    'registered as a Redirect URI in the Kakao Developers console, e.g. https://app.example/auth/kakao/callback',
  );
  const callback = new URL(callbackURL);
  const client = resolveClient(options, clientID);
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw configError(`${WHAT}: "now" must be a function returning milliseconds.`);
  }
  if (options.logger !== undefined && typeof options.logger !== 'function') {
    throw configError(`${WHAT}: "logger" must be a function receiving one event object.`);
  }
  const maxTransactions = requirePositiveInt(
    WHAT,
    'maxTransactions',
    options.maxTransactions,
    DEFAULT_TRANSACTION_LIMITS.maxTransactions,
  );
  if (maxTransactions > 10)
    throw configError(`${WHAT}: "maxTransactions" must be at most 10 (got ${maxTransactions}).`);
  const ttlMs = requirePositiveInt(
    WHAT,
    'transactionTtlMs',
    options.transactionTtlMs,
    DEFAULT_TRANSACTION_LIMITS.ttlMs,
  );
  if (ttlMs > 600_000) {
    throw configError(`${WHAT}: "transactionTtlMs" must be at most 600000 (10 minutes; got ${ttlMs}).`);
  }
  const cookieName =
    options.transactionCookieName === undefined
      ? 'kakao_tx'
      : requireString(
          WHAT,
          'transactionCookieName',
          options.transactionCookieName,
          'letters, digits, "_" or "-"',
        );
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(cookieName)) {
    throw configError(
      `${WHAT}: "transactionCookieName" must be 1–32 letters, digits, "_" or "-" (got "${cookieName}").`,
    );
  }
  const stateStore = options.stateStore;
  if (
    stateStore !== undefined &&
    (typeof stateStore !== 'object' || stateStore === null || typeof stateStore.add !== 'function')
  ) {
    throw configError(
      `${WHAT}: "stateStore" must be a MarkerStore, such as new RedisTokenStore({ client }).markers.`,
    );
  }
  const openid = options.openid ?? false;
  if (typeof openid !== 'boolean') throw configError(`${WHAT}: "openid" must be true or false.`);
  const issuer = openid
    ? requireString(WHAT, 'issuer', options.issuer ?? client.authOrigin, 'https://kauth.kakao.com')
    : client.authOrigin;
  return Object.freeze({
    clientID,
    callbackURL,
    callbackPath: callback.pathname,
    appOrigin: callback.origin,
    client,
    scope: parseScopes(WHAT, options.scope),
    prompt: parsePrompt(WHAT, options.prompt),
    loginHint: parseLoginHint(WHAT, options.loginHint),
    serviceTerms: parseTags(WHAT, 'serviceTerms', options.serviceTerms),
    limits: Object.freeze({ maxTransactions, ttlMs, maxBytes: DEFAULT_TRANSACTION_LIMITS.maxBytes }),
    cookies: transactionCookieConfig(cookieName, callbackURL, ttlMs),
    transactionCipher: resolveTransactionSecret(options.transactionSecret, internal.managed === true),
    stateStore,
    propertyKeys: options.propertyKeys === undefined ? undefined : Object.freeze([...options.propertyKeys]),
    sessionCookieName:
      options.sessionCookieName === undefined
        ? 'connect.sid'
        : requireString(
            WHAT,
            'sessionCookieName',
            options.sessionCookieName,
            'the express-session "name" option',
          ),
    reservedPrefixes: Object.freeze([...DEFAULT_RESERVED_PREFIXES, callback.pathname]),
    idTokens: openid ? resolveIdTokens(options, clientID, client, issuer) : rejectOidcOptions(options),
    issuer,
    now: options.now ?? Date.now,
    logger: options.logger ?? consoleLogger,
    passReqToCallback: options.passReqToCallback === true,
  });
}

function resolveClient(options: KakaoStrategyOptionsBase, clientID: string): KakaoClient {
  if (options.client === undefined) {
    const clientOptions: KakaoClientOptions = { clientID };
    for (const name of CLIENT_OPTIONS) {
      if (options[name] !== undefined)
        (clientOptions as unknown as Record<string, unknown>)[name] = options[name];
    }
    return new KakaoClient(clientOptions);
  }
  if (!(options.client instanceof KakaoClient)) throw configError(`${WHAT}: "client" must be a KakaoClient.`);
  for (const name of CLIENT_OPTIONS) {
    if (options[name] !== undefined) {
      throw configError(
        `${WHAT}: "${name}" cannot be combined with "client"; configure the KakaoClient instead.`,
      );
    }
  }
  if (options.client.clientID !== clientID)
    throw configError(`${WHAT}: "client" was built for another clientID.`);
  return options.client;
}

function resolveTransactionSecret(value: unknown, managed: boolean): TokenCipher | undefined {
  if (value === undefined) {
    if (!managed && process.env.NODE_ENV === 'production') {
      throw configError(
        `${WHAT}: "transactionSecret" is required in production: login transactions are sealed into cookies, and every process must share the key. Pass the same secret(s) as express-session, e.g. transactionSecret: process.env.SESSION_SECRET.`,
      );
    }
    return undefined;
  }
  const secrets =
    typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : undefined;
  if (!secrets || !secrets.every((s): s is string => typeof s === 'string')) {
    throw configError(
      `${WHAT}: "transactionSecret" must be a string or an array of strings (first seals, all open).`,
    );
  }
  return cipherFromSecrets(secrets, 'kakao-login-express login-transaction', `${WHAT}: "transactionSecret"`);
}

function resolveIdTokens(
  options: KakaoStrategyOptionsBase,
  clientID: string,
  client: KakaoClient,
  issuer: string,
): IdTokenVerifier {
  const clockToleranceSec = requirePositiveInt(WHAT, 'clockToleranceSec', options.clockToleranceSec, 60);
  if (clockToleranceSec > 60) throw configError(`${WHAT}: "clockToleranceSec" must be at most 60.`);
  return createIdTokenVerifier({
    issuer,
    clientID,
    jwksUri: requireAbsoluteUrl(
      WHAT,
      'jwksUri',
      options.jwksUri ?? `${client.authOrigin}/.well-known/jwks.json`,
      'such as https://kauth.kakao.com/.well-known/jwks.json',
    ),
    clockToleranceSec,
    maxAgeSec: requirePositiveInt(WHAT, 'idTokenMaxAgeSec', options.idTokenMaxAgeSec, 600),
    ...(options.fetch !== undefined && { fetch: options.fetch }),
    ...(options.now !== undefined && { now: options.now }),
  });
}

function rejectOidcOptions(options: KakaoStrategyOptionsBase): undefined {
  for (const name of ['issuer', 'jwksUri', 'clockToleranceSec', 'idTokenMaxAgeSec'] as const) {
    if (options[name] !== undefined)
      throw configError(`${WHAT}: "${name}" only applies with "openid: true".`);
  }
  return undefined;
}

/** The verify callback: a function, and not passport-kakao's 4-argument form (it lacks `tokens`). */
export function checkVerify(verify: unknown, withRequest: boolean): void {
  if (typeof verify !== 'function') {
    throw configError('KakaoStrategy: a verify callback is required: new KakaoStrategy(options, verify).');
  }
  if (verify.length === (withRequest ? 5 : 4)) {
    const args = withRequest
      ? '(req, accessToken, refreshToken, profile, done)'
      : '(accessToken, refreshToken, profile, done)';
    const ours = withRequest
      ? '(req, accessToken, refreshToken, tokens, profile, done)'
      : '(accessToken, refreshToken, tokens, profile, done)';
    throw configError(
      `KakaoStrategy: the verify callback takes ${verify.length} arguments ${args}, passport-kakao's form. This strategy calls verify${ours}: add a "tokens" parameter before "profile" (it holds Kakao's token response).`,
    );
  }
}
