import type { Request } from 'express';
import type {} from 'express-session';
import type { StrategyCreated } from 'passport';
import OAuth2Strategy from 'passport-oauth2';
import { buildAuthorizeUrl } from './authorize-url';
import { parseCallbackParams } from './callback-params';
import {
  DEFAULT_API_ORIGIN,
  DEFAULT_AUTH_ORIGIN,
  checkOptionNames,
  configError,
  parsePrompt,
  parseScopes,
  parseTags,
  requireAbsoluteUrl,
  requireOrigin,
  requirePositiveInt,
  requireString,
  type KakaoPrompt,
} from './config';
import {
  diagnoseLoginStart,
  diagnoseSessionLoss,
  type LoginStartEvidence,
  type SessionLossEvidence,
} from './diagnostics';
import { IdTokenError, KakaoSessionError, KakaoTokenError, isKakaoError } from './errors';
import { createIdTokenVerifier, type IdTokenClaims, type IdTokenVerifier } from './id-token';
import { KakaoClient } from './kakao-client';
import type { KakaoTokenResponse } from './kakao-types';
import { consoleLogger, type KakaoLogger } from './logger';
import { pkceChallenge } from './pkce';
import { parseProfile, type KakaoProfile } from './profile';
import { DEFAULT_RESERVED_PREFIXES, sanitizeReturnTo } from './return-to';
import {
  DEFAULT_TRANSACTION_LIMITS,
  consumeTransaction,
  isTransactionBag,
  openTransaction,
  type LoginTransaction,
  type TransactionBag,
  type TransactionLimits,
} from './transactions';

/** Why a login ended without a user. Stable codes, safe to show in a URL (`?login_error=`). */
export type KakaoLoginFailureCode =
  | 'invalid_request'
  | 'session_missing'
  | 'state_mismatch'
  | 'login_expired'
  | 'access_denied'
  | 'consent_required'
  | 'login_required'
  | 'interaction_required'
  | 'authorization_failed'
  | 'code_rejected'
  | 'id_token_invalid'
  | 'user_rejected';

/** What `fail()` receives: Passport's `{ message }` plus a stable `code`. */
export interface KakaoLoginFailure {
  code: KakaoLoginFailureCode;
  message: string;
}

/** The user-facing text of each failure code (English; the example app adds Korean). */
export const LOGIN_FAILURE_MESSAGES: Readonly<Record<KakaoLoginFailureCode, string>> = Object.freeze({
  invalid_request: 'The login response was malformed.',
  session_missing: 'The login could not be matched to this browser session (cookies blocked or expired?).',
  state_mismatch: 'The login response did not match a login started in this browser.',
  login_expired: 'The login took too long or was already used. Please try again.',
  access_denied: 'You cancelled the Kakao login.',
  consent_required: 'Kakao needs your consent first.',
  login_required: 'You are not signed in to Kakao.',
  interaction_required: 'Kakao needs you to complete a step first.',
  authorization_failed: 'Kakao could not authorize this login.',
  code_rejected: 'Kakao did not accept the login code (it may have been used already).',
  id_token_invalid: 'The login could not be verified.',
  user_rejected: 'This account cannot sign in here.',
});

/** The token response handed to the verify callback (`params` in passport-oauth2 terms). */
export type KakaoTokenSet = Readonly<KakaoTokenResponse>;

/** Passport's `done` for the verify callback. */
export type KakaoVerifyCallback = (err?: unknown, user?: Express.User | false, info?: object) => void;

/** Verify callback without the request. */
export type KakaoVerifyFunction = (
  accessToken: string,
  refreshToken: string,
  tokens: KakaoTokenSet,
  profile: KakaoProfile,
  done: KakaoVerifyCallback,
) => void;

/** Verify callback with the request first (`passReqToCallback: true`). */
export type KakaoVerifyFunctionWithRequest = (
  req: Request,
  accessToken: string,
  refreshToken: string,
  tokens: KakaoTokenSet,
  profile: KakaoProfile,
  done: KakaoVerifyCallback,
) => void;

/** Options shared by both verify styles. */
export interface KakaoStrategyOptionsBase {
  /** The app's REST API key (Kakao Developers → App → Platform keys). Required. */
  clientID: string;
  /** Client secret, sent as `client_secret` (client_secret_post) only when set. Default: none. */
  clientSecret?: string;
  /** The registered redirect URI, absolute; sent verbatim to authorize and token. Required. */
  callbackURL: string;
  /** Consent items to request, comma/space-separated or an array. Default: none (console settings apply). */
  scope?: string | readonly string[];
  /** Kakao `prompt`: `login`, `none`, `create`, `select_account`. Default: none. */
  prompt?: KakaoPrompt | readonly KakaoPrompt[];
  /** Pre-fills Kakao's login form. Default: none. */
  loginHint?: string;
  /** Kakao Sync service-terms tags. Default: none. */
  serviceTerms?: string | readonly string[];
  /** Authorization server origin (authorize, token). Default `https://kauth.kakao.com`; point it at an emulator in tests. */
  authOrigin?: string;
  /** API server origin (`/v2/user/me`). Default `https://kapi.kakao.com`. */
  apiOrigin?: string;
  /** Timeout of the token and user-info calls in ms. Default 10000. */
  timeoutMs?: number;
  /** Timeout of Kakao's token logout in ms (best effort, used on logout). Default 3000. */
  logoutTimeoutMs?: number;
  /** Concurrent login transactions kept per session (two tabs work). Default 5. */
  maxTransactions?: number;
  /** Lifetime of a login transaction in ms. Default 600000 (10 minutes). */
  transactionTtlMs?: number;
  /** Session property holding the login transactions. Default `kakaoLogin`. */
  sessionKey?: string;
  /** `property_keys` for `/v2/user/me`. Default: all consented items. */
  propertyKeys?: readonly string[];
  /** The `fetch` used for calls to Kakao. Default `globalThis.fetch` (keeps connections alive). */
  fetch?: typeof globalThis.fetch;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Security-event logger. Default: JSON lines on the console. */
  logger?: KakaoLogger;
  /** A ready client (shared with other components); when given, the origin/timeout/fetch options must be unset. */
  client?: KakaoClient;
  /**
   * OpenID Connect mode: adds `openid` to the scope, sends a per-login `nonce` and requires a
   * verified ID token before the verify callback runs. Default false.
   */
  openid?: boolean;
  /** Name of the session cookie, used only to explain lost sessions in log hints. Default `connect.sid`. */
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

/** Options for a verify callback without the request. */
export interface KakaoStrategyOptions extends KakaoStrategyOptionsBase {
  passReqToCallback?: false;
}

/** Options for a verify callback that receives the request first. */
export interface KakaoStrategyOptionsWithRequest extends KakaoStrategyOptionsBase {
  passReqToCallback: true;
}

/** Per-request options: `passport.authenticate('kakao', { ... })`. */
export interface KakaoAuthenticateOptions {
  scope?: string | readonly string[];
  prompt?: KakaoPrompt | readonly KakaoPrompt[];
  loginHint?: string;
  serviceTerms?: string | readonly string[];
  /** Where to send the user after login; only same-origin relative paths are kept, anything else becomes `/`. */
  returnTo?: unknown;
  /** `true`: handle as the callback, `false`: start a login. Default: decided by the request path. */
  callback?: boolean;
  [passportOption: string]: unknown;
}

/** Every option name of {@link KakaoStrategy} (kakaoAuth accepts them too). */
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
  'sessionKey',
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

const WHAT = 'KakaoStrategy';

interface ResolvedOptions {
  clientID: string;
  callbackURL: string;
  callbackPath: string;
  appOrigin: string;
  authOrigin: string;
  scope: readonly string[];
  prompt: readonly KakaoPrompt[];
  loginHint: string | undefined;
  serviceTerms: readonly string[];
  limits: TransactionLimits;
  sessionKey: string;
  propertyKeys: readonly string[] | undefined;
  sessionCookieName: string;
  /** Paths a `returnTo` may not point at: the auth routes and the callback. */
  reservedPrefixes: readonly string[];
  /** Set in OpenID Connect mode. */
  idTokens: IdTokenVerifier | undefined;
  issuer: string;
  now: () => number;
  logger: KakaoLogger;
  passReqToCallback: boolean;
}

function resolve(options: KakaoStrategyOptionsBase & { passReqToCallback?: boolean }): {
  resolved: ResolvedOptions;
  client: KakaoClient;
} {
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
  if (options.clientSecret !== undefined) {
    requireString(WHAT, 'clientSecret', options.clientSecret, 'Kakao Developers → Security → Client secret');
  }
  const callback = new URL(callbackURL);
  let client = options.client;
  if (client !== undefined) {
    if (!(client instanceof KakaoClient)) throw configError(`${WHAT}: "client" must be a KakaoClient.`);
    for (const name of [
      'authOrigin',
      'apiOrigin',
      'timeoutMs',
      'logoutTimeoutMs',
      'fetch',
      'clientSecret',
    ] as const) {
      if (options[name] !== undefined) {
        throw configError(
          `${WHAT}: "${name}" cannot be combined with "client"; configure the KakaoClient instead.`,
        );
      }
    }
    if (client.clientID !== clientID) throw configError(`${WHAT}: "client" was built for another clientID.`);
  } else {
    client = new KakaoClient({
      clientID,
      ...(options.clientSecret !== undefined && { clientSecret: options.clientSecret }),
      authOrigin: requireOrigin(
        WHAT,
        'authOrigin',
        options.authOrigin ?? DEFAULT_AUTH_ORIGIN,
        DEFAULT_AUTH_ORIGIN,
      ),
      apiOrigin: requireOrigin(
        WHAT,
        'apiOrigin',
        options.apiOrigin ?? DEFAULT_API_ORIGIN,
        DEFAULT_API_ORIGIN,
      ),
      timeoutMs: requirePositiveInt(WHAT, 'timeoutMs', options.timeoutMs, 10_000),
      logoutTimeoutMs: requirePositiveInt(WHAT, 'logoutTimeoutMs', options.logoutTimeoutMs, 3000),
      ...(options.fetch !== undefined && { fetch: options.fetch }),
    });
  }
  const maxTransactions = requirePositiveInt(
    WHAT,
    'maxTransactions',
    options.maxTransactions,
    DEFAULT_TRANSACTION_LIMITS.maxTransactions,
  );
  if (maxTransactions > 20)
    throw configError(`${WHAT}: "maxTransactions" must be at most 20 (got ${maxTransactions}).`);
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw configError(`${WHAT}: "now" must be a function returning milliseconds.`);
  }
  if (options.logger !== undefined && typeof options.logger !== 'function') {
    throw configError(`${WHAT}: "logger" must be a function receiving one event object.`);
  }
  const resolved: { -readonly [K in keyof ResolvedOptions]: ResolvedOptions[K] } = {
    clientID,
    callbackURL,
    callbackPath: callback.pathname,
    appOrigin: callback.origin,
    authOrigin: client.authOrigin,
    scope: parseScopes(WHAT, options.scope),
    prompt: parsePrompt(WHAT, options.prompt),
    loginHint:
      options.loginHint === undefined
        ? undefined
        : requireString(WHAT, 'loginHint', options.loginHint, 'an email or phone number'),
    serviceTerms: parseTags(WHAT, 'serviceTerms', options.serviceTerms),
    limits: Object.freeze({
      maxTransactions,
      ttlMs: requirePositiveInt(
        WHAT,
        'transactionTtlMs',
        options.transactionTtlMs,
        DEFAULT_TRANSACTION_LIMITS.ttlMs,
      ),
    }),
    sessionKey:
      options.sessionKey === undefined
        ? 'kakaoLogin'
        : requireString(WHAT, 'sessionKey', options.sessionKey, 'a session property name'),
    propertyKeys: options.propertyKeys === undefined ? undefined : Object.freeze([...options.propertyKeys]),
    now: options.now ?? Date.now,
    logger: options.logger ?? consoleLogger,
    passReqToCallback: options.passReqToCallback === true,
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
    idTokens: undefined,
    issuer: client.authOrigin,
  };
  if (options.openid !== undefined && typeof options.openid !== 'boolean') {
    throw configError(`${WHAT}: "openid" must be true or false.`);
  }
  if (options.openid) {
    const issuer = requireString(
      WHAT,
      'issuer',
      options.issuer ?? client.authOrigin,
      'https://kauth.kakao.com',
    );
    const clockToleranceSec = requirePositiveInt(WHAT, 'clockToleranceSec', options.clockToleranceSec, 60);
    if (clockToleranceSec > 60) throw configError(`${WHAT}: "clockToleranceSec" must be at most 60.`);
    resolved.issuer = issuer;
    resolved.scope = Object.freeze(
      resolved.scope.includes('openid') ? resolved.scope : ['openid', ...resolved.scope],
    );
    resolved.idTokens = createIdTokenVerifier({
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
  } else {
    for (const name of ['issuer', 'jwksUri', 'clockToleranceSec', 'idTokenMaxAgeSec'] as const) {
      if (options[name] !== undefined)
        throw configError(`${WHAT}: "${name}" only applies with "openid: true".`);
    }
  }
  return { resolved: Object.freeze(resolved), client };
}

type SessionWithBag = Record<string, unknown> & { save(cb: (err?: unknown) => void): void };

/**
 * Passport strategy for Kakao Login (name `kakao`): authorization code flow with PKCE (S256) and
 * a one-time `state` on every request, login transactions that survive two tabs, strict callback
 * parsing, and token/user-info calls over `fetch` with timeouts.
 *
 * @example
 * ```ts
 * passport.use(new KakaoStrategy(
 *   { clientID: process.env.KAKAO_CLIENT_ID!, callbackURL: 'https://app.example/auth/kakao/callback' },
 *   (accessToken, refreshToken, tokens, profile, done) => done(null, { id: profile.id }),
 * ));
 * ```
 * @throws TypeError (code `ERR_INVALID_ARG_VALUE`) when an option is missing or malformed.
 */
export class KakaoStrategy extends OAuth2Strategy {
  override name = 'kakao';
  // Passport runs each request on Object.create(strategy), so state lives in ordinary properties:
  // ECMAScript #private members would fail their brand check on those per-request objects.
  /** The client used for token, user-info and logout calls. */
  readonly client: KakaoClient;
  private readonly options: ResolvedOptions;
  private readonly verify: KakaoVerifyFunction | KakaoVerifyFunctionWithRequest;
  /** Login-start hints already logged (bounded). */
  private readonly warned = new Set<string>();

  constructor(options: KakaoStrategyOptions, verify: KakaoVerifyFunction);
  constructor(options: KakaoStrategyOptionsWithRequest, verify: KakaoVerifyFunctionWithRequest);
  constructor(
    options: KakaoStrategyOptions | KakaoStrategyOptionsWithRequest,
    verify: KakaoVerifyFunction | KakaoVerifyFunctionWithRequest,
  ) {
    const { resolved, client } = resolve(options);
    if (typeof verify !== 'function') {
      throw configError(`${WHAT}: a verify callback is required: new KakaoStrategy(options, verify).`);
    }
    // The base class only keeps these; every request is handled by authenticate() below, so
    // passport-oauth2's own token client and single-slot state store are never used.
    super(
      {
        authorizationURL: `${resolved.authOrigin}/oauth/authorize`,
        tokenURL: `${resolved.authOrigin}/oauth/token`,
        clientID: resolved.clientID,
        clientSecret: '',
        callbackURL: resolved.callbackURL,
      },
      verify as OAuth2Strategy.VerifyFunction,
    );
    this.client = client;
    this.options = resolved;
    this.verify = verify;
  }

  /** The origin of the callback URL: the app's own origin. */
  get appOrigin(): string {
    return this.options.appOrigin;
  }

  /** The path part of the callback URL. */
  get callbackPath(): string {
    return this.options.callbackPath;
  }

  /** The session cookie's name (for diagnostics, and for kakaoAuth to clear it on logout). */
  get sessionCookieName(): string {
    return this.options.sessionCookieName;
  }

  /** The session property holding login transactions. */
  get sessionKey(): string {
    return this.options.sessionKey;
  }

  override authenticate(req: Request, options: KakaoAuthenticateOptions = {}): void {
    const self = this as unknown as StrategyCreated<this>;
    if (!req.session) {
      self.error(
        new Error(
          'KakaoStrategy needs sessions: mount express-session (app.use(session({...}))) before passport.authenticate("kakao").',
        ),
      );
      return;
    }
    if (this._isCallback(req, options)) this._callback(self, req);
    else this._start(self, req, options);
  }

  /**
   * The callback is the request on the callback URL's path (or one carrying `code`/`error`, for
   * apps mounted behind a path-rewriting proxy); `options.callback` settles it explicitly.
   */
  private _isCallback(req: Request, options: KakaoAuthenticateOptions): boolean {
    if (typeof options.callback === 'boolean') return options.callback;
    if ((req.originalUrl ?? req.url).split('?')[0] === this.options.callbackPath) return true;
    const query = req.query as Record<string, unknown>;
    return 'code' in query || 'error' in query;
  }

  private _start(self: StrategyCreated<this>, req: Request, options: KakaoAuthenticateOptions): void {
    const o = this.options;
    let scope = o.scope;
    let prompt = o.prompt;
    let serviceTerms = o.serviceTerms;
    let loginHint = o.loginHint;
    try {
      if (options.scope !== undefined) scope = parseScopes(WHAT, options.scope);
      if (options.prompt !== undefined) prompt = parsePrompt(WHAT, options.prompt);
      if (options.serviceTerms !== undefined)
        serviceTerms = parseTags(WHAT, 'serviceTerms', options.serviceTerms);
      if (options.loginHint !== undefined)
        loginHint = requireString(WHAT, 'loginHint', options.loginHint, 'a hint');
    } catch (err) {
      self.error(err);
      return;
    }
    const returnTo = sanitizeReturnTo(options.returnTo ?? '/', {
      origin: o.appOrigin,
      reservedPrefixes: o.reservedPrefixes,
    });
    const warning = diagnoseLoginStart(this._evidence(req));
    if (warning && !this.warned.has(warning.hint)) {
      // Once per cause and host: this fires on every login start until the setup is fixed.
      if (this.warned.size < 100) this.warned.add(warning.hint);
      o.logger({
        level: 'warn',
        event: 'login_start_misconfigured',
        reason: warning.cause,
        hint: warning.hint,
        ip: req.ip,
      });
    }
    const session = req.session as unknown as SessionWithBag;
    const existing = session[o.sessionKey];
    const bag: TransactionBag = isTransactionBag(existing) ? existing : {};
    const transaction = openTransaction(
      bag,
      { returnTo, withNonce: o.idTokens !== undefined, now: o.now() },
      o.limits,
    );
    session[o.sessionKey] = bag;
    const url = buildAuthorizeUrl({
      authOrigin: o.authOrigin,
      clientID: o.clientID,
      redirectUri: o.callbackURL,
      state: transaction.state,
      codeChallenge: pkceChallenge(transaction.verifier),
      scope,
      prompt,
      loginHint,
      serviceTerms,
      nonce: transaction.nonce,
    });
    // Save before redirecting: express-session's automatic save runs while the response is being
    // written, so a store failure would still send the user to Kakao with no transaction stored.
    session.save((err) => {
      if (err) {
        o.logger({ level: 'error', event: 'login_start_failed', reason: 'session_store', ip: req.ip });
        self.error(new KakaoSessionError('The login transaction could not be saved', { cause: err }));
      } else {
        self.redirect(url);
      }
    });
  }

  /** What the request shows about cookies, hosts and proxies (names and flags only, no values). */
  private _evidence(req: Request): SessionLossEvidence & LoginStartEvidence {
    const cookieHeader = req.headers.cookie;
    const cookieNames = cookieHeader ? cookieHeader.split(';').map((c) => c.split('=', 1)[0]!.trim()) : [];
    const trustFn = req.app?.get('trust proxy fn') as
      ((addr: string | undefined, i: number) => boolean) | undefined;
    const forwarded = req.headers['x-forwarded-proto'];
    const cookie = req.session?.cookie;
    return {
      callbackHost: req.headers.host,
      requestHost: req.headers.host,
      callbackProtocol: req.protocol === 'https' ? 'https' : 'http',
      requestProtocol: req.protocol === 'https' ? 'https' : 'http',
      forwardedProto: Array.isArray(forwarded) ? forwarded[0] : forwarded,
      trustProxy: typeof trustFn === 'function' ? trustFn(req.socket?.remoteAddress, 0) : false,
      cookieHeaderPresent: cookieHeader !== undefined,
      sessionCookiePresent: cookieNames.includes(this.options.sessionCookieName),
      sessionMiddleware: req.session !== undefined,
      callbackURL: this.options.callbackURL,
      cookie: cookie
        ? {
            name: this.options.sessionCookieName,
            ...(cookie.secure !== undefined && { secure: cookie.secure }),
            ...(cookie.sameSite !== undefined && { sameSite: cookie.sameSite }),
            ...(cookie.domain !== undefined && { domain: cookie.domain }),
          }
        : undefined,
    } as SessionLossEvidence & LoginStartEvidence;
  }

  private _fail(
    self: StrategyCreated<this>,
    req: Request,
    code: KakaoLoginFailureCode,
    status: number,
    reason: string = code,
  ): void {
    this.options.logger({ level: 'warn', event: 'login_failed', reason, ip: req.ip });
    const failure: KakaoLoginFailure = { code, message: LOGIN_FAILURE_MESSAGES[code] };
    self.fail(failure, status);
  }

  private _callback(self: StrategyCreated<this>, req: Request): void {
    const o = this.options;
    const params = parseCallbackParams(req.query, { issuer: o.issuer });
    if (!params.ok) {
      this._fail(self, req, 'invalid_request', 400, params.reason);
      return;
    }
    const session = req.session as unknown as SessionWithBag;
    const bag = session[o.sessionKey];
    if (!isTransactionBag(bag) || Object.keys(bag).length === 0) {
      const diagnosis = diagnoseSessionLoss(this._evidence(req));
      o.logger({
        level: 'warn',
        event: 'login_session_lost',
        reason: diagnosis.cause,
        hint: diagnosis.hint,
        ip: req.ip,
      });
      this._fail(self, req, 'session_missing', 401);
      return;
    }
    // Consumed before anything else happens, whatever the outcome: a state is good for one try.
    const consumed = consumeTransaction(bag, params.state, o.now(), o.limits);
    if (Object.keys(bag).length === 0) delete session[o.sessionKey];
    if (!consumed.ok) {
      this._fail(
        self,
        req,
        consumed.reason === 'expired' ? 'login_expired' : 'state_mismatch',
        401,
        consumed.reason,
      );
      return;
    }
    if (params.error !== undefined) {
      const code: KakaoLoginFailureCode =
        params.error === 'access_denied' ||
        params.error === 'consent_required' ||
        params.error === 'login_required' ||
        params.error === 'interaction_required'
          ? params.error
          : 'authorization_failed';
      this._fail(self, req, code, code === 'access_denied' ? 403 : 401, `kakao_${params.error}`);
      return;
    }
    this._exchange(self, req, params.code, consumed.transaction).catch((err: unknown) => self.error(err));
  }

  private async _exchange(
    self: StrategyCreated<this>,
    req: Request,
    code: string,
    transaction: LoginTransaction,
  ): Promise<void> {
    const o = this.options;
    let tokens: KakaoTokenResponse;
    try {
      tokens = await this.client.exchangeCode({
        code,
        redirectUri: o.callbackURL,
        codeVerifier: transaction.verifier,
      });
    } catch (err) {
      // Kakao refusing this code (reused, expired, wrong verifier, rate limit) is an outcome for the
      // user; only a refused client (secret, key) is the app's configuration problem.
      if (err instanceof KakaoTokenError && err.status === 400 && err.error !== 'invalid_client') {
        this._fail(self, req, 'code_rejected', 401, err.errorCode ?? err.error);
        return;
      }
      this._logError(req, 'token', err);
      self.error(err);
      return;
    }
    let claims: IdTokenClaims | undefined;
    if (o.idTokens) {
      try {
        if (tokens.id_token === undefined) throw new IdTokenError('missing');
        claims = await o.idTokens.verify(tokens.id_token, {
          nonce: transaction.nonce,
          accessToken: tokens.access_token,
        });
      } catch (err) {
        if (err instanceof IdTokenError) {
          this._fail(self, req, 'id_token_invalid', 401, `id_token_${err.reason}`);
          return;
        }
        this._logError(req, 'jwks', err);
        self.error(err);
        return;
      }
    }
    let profile: KakaoProfile;
    try {
      const me = await this.client.getUser(
        tokens.access_token,
        o.propertyKeys ? { propertyKeys: [...o.propertyKeys] } : undefined,
      );
      profile = parseProfile(me);
    } catch (err) {
      this._logError(req, 'user_me', err);
      self.error(err);
      return;
    }
    if (claims) {
      // The user is who the ID token says; a user-info answer about someone else ends the login.
      if (claims.sub !== profile.id) {
        this._fail(self, req, 'id_token_invalid', 401, 'id_token_sub_mismatch');
        return;
      }
      profile = withClaims(profile, claims, o.issuer);
    }
    const done: KakaoVerifyCallback = (err, user, info) => {
      if (err) {
        self.error(err);
      } else if (!user) {
        this._fail(self, req, 'user_rejected', 403);
      } else {
        o.logger({ level: 'info', event: 'login_succeeded', userId: profile.id, ip: req.ip });
        self.success(user, { ...info, returnTo: transaction.returnTo });
      }
    };
    const refreshToken = tokens.refresh_token ?? '';
    const tokenSet: KakaoTokenSet = Object.freeze({ ...tokens });
    try {
      if (o.passReqToCallback) {
        (this.verify as KakaoVerifyFunctionWithRequest)(
          req,
          tokens.access_token,
          refreshToken,
          tokenSet,
          profile,
          done,
        );
      } else {
        (this.verify as KakaoVerifyFunction)(tokens.access_token, refreshToken, tokenSet, profile, done);
      }
    } catch (err) {
      self.error(err);
    }
  }

  private _logError(req: Request, operation: string, err: unknown): void {
    const reason = isKakaoError(err)
      ? `${err.code}:${'reason' in err ? String(err.reason) : 'errorCode' in err ? String(err.errorCode) : operation}`
      : 'unexpected';
    this.options.logger({ level: 'error', event: 'login_failed', reason, ip: req.ip });
  }

  /** Fetches `/v2/user/me` and parses it (Passport's `userProfile` hook). */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: KakaoProfile) => void): void {
    this.client.getUser(accessToken).then(
      (me) => done(null, parseProfile(me)),
      (err: unknown) => done(err),
    );
  }
}

/**
 * The profile in OpenID Connect mode: Kakao's `/v2/user/me` answer, completed with the verified
 * claims (`nickname`, `picture`, `email` fill gaps; the claims are kept whole in `idTokenClaims`).
 */
function withClaims(profile: KakaoProfile, claims: IdTokenClaims, issuer: string): KakaoProfile {
  const nickname = profile.nickname ?? (typeof claims.nickname === 'string' ? claims.nickname : undefined);
  const image = profile.image ?? (typeof claims.picture === 'string' ? claims.picture : undefined);
  return {
    ...profile,
    issuer,
    idTokenClaims: claims,
    ...(nickname !== undefined && { nickname, displayName: profile.displayName ?? nickname }),
    ...(image !== undefined && { image }),
  };
}
