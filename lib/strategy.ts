import type { Request, Response } from 'express';
import passport from 'passport';
import { buildAuthorizeUrl } from './kakao-urls';
import { parseCallbackParams } from './callback-params';
import { parsePrompt, parseScopes, parseTags } from './config';
import { diagnoseLoginStart, diagnoseSessionLoss } from './diagnostics';
import { IdTokenError, KakaoTokenError, TokenStoreError, isKakaoError } from './errors';
import type { IdTokenClaims } from './id-token';
import { tokenErrorConfigurationHint, type KakaoClient } from './kakao-client';
import type { KakaoTokenResponse } from './kakao-types';
import {
  LOGIN_FAILURE_MESSAGES,
  failureForAuthorizationError,
  type KakaoLoginFailure,
  type KakaoLoginFailureCode,
} from './login-failures';
import { checkVerify, parseLoginHint, resolveStrategyOptions, type ResolvedStrategyOptions } from './options';
import {
  LOGIN_STARTED_AT,
  LOGIN_TOKENS,
  MANAGE,
  MANAGED,
  RESOLVED,
  type KakaoAuthenticateOptions,
  type KakaoStrategyOptions,
  type KakaoStrategyOptionsWithRequest,
  type KakaoTokenSet,
  type KakaoVerifyCallback,
  type KakaoVerifyFunction,
  type KakaoVerifyFunctionWithRequest,
  type ManagedStrategySupport,
} from './strategy-types';
import { pkceChallenge } from './pkce';
import { parseProfile, withIdTokenClaims, type KakaoProfile } from './profile';
import { isNavigation, loginEvidence, sessionCookieEvidence } from './request-evidence';
import { sanitizeReturnTo } from './return-to';
import { markerNames } from './stores/contracts';
import { MemoryMarkers } from './stores/memory-token-store';
import { createTokenCipher, generateKeyRing } from './token-cipher';
import { issueTransactionCookie, takeTransactionCookie, transactionCookiePath } from './transaction-cookies';
import { checkTransaction, createTransaction, stateDigest, type LoginTransaction } from './transactions';

/**
 * Passport strategy for Kakao Login (name `kakao`): the authorization-code flow with PKCE (S256) and a
 * one-time `state` on every login. Each pending login lives sealed in its own cookie of the browser that
 * started it (nothing is stored on the server before login); the callback consumes its state once,
 * across processes, before any call to Kakao.
 *
 * @example
 * ```ts
 * import passport from 'passport';
 * passport.use(new KakaoStrategy(
 *   { clientID: process.env.KAKAO_CLIENT_ID!, callbackURL: 'https://app.example/auth/kakao/callback',
 *     transactionSecret: process.env.SESSION_SECRET! },
 *   (accessToken, refreshToken, tokens, profile, done) => done(null, { id: profile.id }),
 * ));
 * ```
 * @throws TypeError (code `ERR_INVALID_ARG_VALUE`) when an option is missing or malformed, or the verify
 *   callback has passport-kakao's 4-argument form.
 */
export class KakaoStrategy extends passport.Strategy {
  // Passport runs each request on Object.create(strategy): state lives in ordinary properties, since
  // ECMAScript #private members would fail their brand check on those per-request objects.
  override name = 'kakao';
  /** The client used for token, user-info and logout calls. */
  readonly client: KakaoClient;
  private readonly o: ResolvedStrategyOptions;
  private readonly verify: KakaoVerifyFunction | KakaoVerifyFunctionWithRequest;
  /** Mutable state shared by the per-request objects Passport derives from this instance. */
  private readonly runtime: { support?: ManagedStrategySupport; warned: Set<string> } = { warned: new Set() };

  constructor(options: KakaoStrategyOptions, verify: KakaoVerifyFunction);
  constructor(options: KakaoStrategyOptionsWithRequest, verify: KakaoVerifyFunctionWithRequest);
  constructor(
    options: KakaoStrategyOptions | KakaoStrategyOptionsWithRequest,
    verify: KakaoVerifyFunction | KakaoVerifyFunctionWithRequest,
  ) {
    super();
    const managed = (options as { [MANAGED]?: boolean } | undefined)?.[MANAGED] === true;
    const { [MANAGED]: _ignored, ...plain } = (options ?? {}) as typeof options & { [MANAGED]?: boolean };
    this.o = resolveStrategyOptions(options === null || typeof options !== 'object' ? options : plain, {
      managed,
    });
    checkVerify(verify, this.o.passReqToCallback);
    this.client = this.o.client;
    this.verify = verify;
  }

  /** The origin of the callback URL: the app's own origin. */
  get appOrigin(): string {
    return this.o.appOrigin;
  }

  /** The path part of the callback URL. */
  get callbackPath(): string {
    return this.o.callbackPath;
  }

  /** Internal (kakaoAuth). */
  get [RESOLVED](): ResolvedStrategyOptions {
    return this.o;
  }

  /** Internal (kakaoAuth): supplies the transaction key, the state store and a readiness check. */
  [MANAGE](support: ManagedStrategySupport): void {
    this.runtime.support = support;
  }

  override authenticate(req: Request, options: KakaoAuthenticateOptions = {}): void {
    const support = this.runtime.support ?? this.fallbackSupport();
    if (this.isCallback(req, options)) this.callback(req, support).catch((err: unknown) => this.error(err));
    else this.start(req, options, support);
  }

  /** The callback is the request on the callback URL's path; `options.callback` settles it explicitly. */
  private isCallback(req: Request, options: KakaoAuthenticateOptions): boolean {
    if (typeof options.callback === 'boolean') return options.callback;
    if ((req.originalUrl ?? req.url).split('?')[0] === this.o.callbackPath) return true;
    const query = req.query as Record<string, unknown>;
    return 'code' in query || 'error' in query;
  }

  /** Used without kakaoAuth: the configured secret (or, in development, a key of this process) and memory markers. */
  private fallbackSupport(): ManagedStrategySupport {
    const o = this.o;
    if (!o.transactionCipher) {
      // Development only (production requires the secret): logins do not survive a restart.
      o.logger({ level: 'warn', event: 'transaction_key_generated', reason: 'no_transaction_secret' });
    }
    const stateStore = o.stateStore;
    this.runtime.support = {
      transactionCipher:
        o.transactionCipher ?? createTokenCipher({ keys: generateKeyRing() }).derive('login-transaction'),
      stateStore: stateStore ?? new MemoryMarkers(o.now),
      ready: () => stateStore?.isReady?.() ?? true,
    };
    return this.runtime.support;
  }

  private start(req: Request, options: KakaoAuthenticateOptions, support: ManagedStrategySupport): void {
    const o = this.o;
    const res = req.res as Response;
    if (!isNavigation(req)) {
      this.reject(req, 'not_navigation', 403);
      return;
    }
    if (!support.ready()) {
      o.logger({ level: 'warn', event: 'login_start_refused', reason: 'store_not_ready', ip: req.ip });
      this.error(new TokenStoreError('The stores the login callback needs are not connected'));
      return;
    }
    let scope = o.scope;
    let prompt = o.prompt;
    let serviceTerms = o.serviceTerms;
    let loginHint = o.loginHint;
    try {
      if (options.scope !== undefined) scope = parseScopes('passport.authenticate', options.scope);
      if (options.prompt !== undefined) prompt = parsePrompt('passport.authenticate', options.prompt);
      if (options.serviceTerms !== undefined) {
        serviceTerms = parseTags('passport.authenticate', 'serviceTerms', options.serviceTerms);
      }
      if (options.loginHint !== undefined)
        loginHint = parseLoginHint('passport.authenticate', options.loginHint);
    } catch (err) {
      this.error(err);
      return;
    }
    this.warnOnce(req);
    const startPath = (req.originalUrl ?? req.url).split('?')[0] ?? '/';
    const tx = createTransaction({
      returnTo: sanitizeReturnTo(options.returnTo ?? '/', {
        origin: o.appOrigin,
        reservedPrefixes: o.reservedPrefixes,
      }),
      withNonce: o.idTokens !== undefined,
      now: o.now(),
      cookiePath: transactionCookiePath(o.cookies, startPath, o.callbackPath),
    });
    issueTransactionCookie(req, res, support.transactionCipher, o.cookies, o.limits, tx);
    // With OIDC on in the console Kakao issues the ID token when no scope is sent; a scope that is
    // sent must include openid.
    const sent = o.idTokens && scope.length > 0 && !scope.includes('openid') ? ['openid', ...scope] : scope;
    this.redirect(
      buildAuthorizeUrl({
        authOrigin: o.client.authOrigin,
        clientID: o.clientID,
        redirectUri: o.callbackURL,
        state: tx.state,
        codeChallenge: pkceChallenge(tx.verifier),
        scope: sent,
        prompt,
        loginHint,
        serviceTerms,
        nonce: tx.nonce,
      }),
    );
  }

  private warnOnce(req: Request): void {
    // At the start, the session cookie is the one that may not come back (the login's own cookie always can).
    const cookie = sessionCookieEvidence(req, this.o.sessionCookieName);
    const warning = diagnoseLoginStart(loginEvidence(req, this.o.callbackURL, this.o.cookies, cookie));
    const warned = this.runtime.warned;
    if (!warning || warned.has(warning.hint)) return;
    // Once per cause and host: this fires on every login start until the setup is fixed.
    if (warned.size < 100) warned.add(warning.hint);
    this.o.logger({
      level: 'warn',
      event: 'login_start_misconfigured',
      reason: warning.cause,
      hint: warning.hint,
      ip: req.ip,
    });
  }

  private reject(req: Request, code: KakaoLoginFailureCode, status: number, reason: string = code): void {
    this.o.logger({ level: 'warn', event: 'login_failed', reason, ip: req.ip });
    const failure: KakaoLoginFailure = { code, message: LOGIN_FAILURE_MESSAGES[code] };
    this.fail(failure, status);
  }

  private async callback(req: Request, support: ManagedStrategySupport): Promise<void> {
    const o = this.o;
    const res = req.res as Response;
    const params = parseCallbackParams(req.query, { issuer: o.issuer });
    if (!params.ok) {
      this.reject(req, 'invalid_request', 400, params.reason);
      return;
    }
    const tx = this.takeTransaction(req, res, support, params.state);
    if (!tx) return;
    // Claimed once, across processes, before anything else happens: a second delivery of this callback
    // (a double-submitted redirect, a cloned cookie jar) never reaches Kakao.
    const remaining = Math.max(1, o.limits.ttlMs - (o.now() - tx.createdAt));
    if (!(await support.stateStore.add(markerNames.state(stateDigest(tx.state)), '1', remaining))) {
      this.reject(req, 'login_expired', 401, 'state_reused');
      return;
    }
    if (params.error !== undefined) {
      const code = failureForAuthorizationError(params.error);
      this.reject(req, code, code === 'access_denied' ? 403 : 401, `kakao_${params.error}`);
      return;
    }
    await this.exchange(req, params.code, tx);
  }

  /** Finds, clears and opens the callback's transaction cookie; fails the login when it cannot. */
  private takeTransaction(req: Request, res: Response, support: ManagedStrategySupport, state: string) {
    const o = this.o;
    const taken = takeTransactionCookie(
      req,
      res,
      support.transactionCipher,
      o.cookies,
      o.callbackPath,
      state,
    );
    if (taken.ok) {
      const check = checkTransaction(taken.tx, state, o.now(), o.limits.ttlMs);
      if (check === 'ok') return taken.tx;
      this.reject(req, check === 'expired' ? 'login_expired' : 'state_mismatch', 401, check);
      return undefined;
    }
    if (taken.reason === 'no_transaction_cookie') {
      const diagnosis = diagnoseSessionLoss(loginEvidence(req, o.callbackURL, o.cookies));
      o.logger({
        level: 'warn',
        event: 'login_session_lost',
        reason: diagnosis.cause,
        hint: diagnosis.hint,
        ip: req.ip,
      });
      this.reject(req, 'session_missing', 401);
    } else if (taken.reason === 'transaction_missing') {
      // Other logins of this browser are pending: this one was dropped for a newer one, or expired.
      this.reject(req, 'login_expired', 401, taken.reason);
    } else {
      this.reject(req, 'state_mismatch', 401, taken.reason);
    }
    return undefined;
  }

  private async exchange(req: Request, code: string, tx: LoginTransaction): Promise<void> {
    const o = this.o;
    let tokens: KakaoTokenResponse;
    try {
      tokens = await this.client.exchangeCode({
        code,
        redirectUri: o.callbackURL,
        codeVerifier: tx.verifier,
      });
    } catch (err) {
      // A refused client, secret or redirect URI is the app's configuration, not the user's doing:
      // the operator gets the fix in the log, the user a distinct failure.
      const hint = tokenErrorConfigurationHint(err);
      if (hint !== undefined || (err instanceof KakaoTokenError && err.error === 'invalid_client')) {
        const reason = err instanceof KakaoTokenError ? (err.errorCode ?? err.error) : 'invalid_client';
        o.logger({
          level: 'error',
          event: 'login_failed',
          reason,
          ...(hint !== undefined && { hint }),
          ip: req.ip,
        });
        this.fail({ code: 'misconfigured', message: LOGIN_FAILURE_MESSAGES.misconfigured }, 401);
        return;
      }
      // Kakao refusing this code (reused, expired, wrong verifier, rate limit) is an outcome for the user.
      if (err instanceof KakaoTokenError && err.status < 500) {
        this.reject(req, 'code_rejected', 401, err.errorCode ?? err.error);
        return;
      }
      this.logError(req, 'token', err);
      this.error(err);
      return;
    }
    let claims: IdTokenClaims | undefined;
    if (o.idTokens) {
      try {
        if (tokens.id_token === undefined) throw new IdTokenError('missing');
        claims = await o.idTokens.verify(tokens.id_token, {
          nonce: tx.nonce,
          accessToken: tokens.access_token,
        });
      } catch (err) {
        if (err instanceof IdTokenError) {
          this.reject(req, 'id_token_invalid', 401, `id_token_${err.reason}`);
          return;
        }
        this.logError(req, 'jwks', err);
        this.error(err);
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
      this.logError(req, 'user_me', err);
      this.error(err);
      return;
    }
    if (claims) {
      // The user is who the ID token says; a user-info answer about someone else ends the login.
      if (claims.sub !== profile.id) {
        this.reject(req, 'id_token_invalid', 401, 'id_token_sub_mismatch');
        return;
      }
      profile = withIdTokenClaims(profile, claims, o.issuer);
    }
    this.runVerify(req, tokens, profile, tx);
  }

  private runVerify(
    req: Request,
    tokens: KakaoTokenResponse,
    profile: KakaoProfile,
    tx: LoginTransaction,
  ): void {
    const o = this.o;
    const tokenSet: KakaoTokenSet = Object.freeze({ ...tokens });
    const done: KakaoVerifyCallback = (err, user, info) => {
      if (err) this.error(err);
      else if (!user) this.reject(req, 'user_rejected', 403);
      else {
        o.logger({ level: 'info', event: 'login_succeeded', userId: profile.id, ip: req.ip });
        this.success(
          user,
          Object.defineProperties(
            { ...info, returnTo: tx.returnTo },
            {
              [LOGIN_TOKENS]: { value: tokenSet },
              [LOGIN_STARTED_AT]: { value: tx.createdAt },
            },
          ),
        );
      }
    };
    const refreshToken = tokens.refresh_token ?? '';
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
      this.error(err);
    }
  }

  private logError(req: Request, operation: string, err: unknown): void {
    const reason = isKakaoError(err)
      ? `${err.code}:${'reason' in err ? String(err.reason) : 'errorCode' in err ? String(err.errorCode) : operation}`
      : 'unexpected';
    this.o.logger({ level: 'error', event: 'login_failed', reason, ip: req.ip });
  }
}
