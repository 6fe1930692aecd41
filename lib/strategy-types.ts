/**
 * The strategy's public types (verify callbacks, options, per-request options) and the internal
 * handles kakaoAuth uses to manage a strategy.
 */
import type { Request } from 'express';
import type { KakaoTokenResponse } from './kakao-types';
import type { KakaoStrategyOptionsBase } from './options';
import type { KakaoProfile } from './profile';
import type { MarkerStore } from './stores/contracts';
import type { TokenCipher } from './token-cipher';

export type { KakaoStrategyOptionsBase };

/** The token response handed to the verify callback. */
export type KakaoTokenSet = Readonly<KakaoTokenResponse>;

/** Passport's `done` for the verify callback. */
export type KakaoVerifyCallback = (err?: unknown, user?: Express.User | false, info?: object) => void;

/** Verify callback without the request: `(accessToken, refreshToken, tokens, profile, done)`. */
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

/** Options for a verify callback without the request. */
export interface KakaoStrategyOptions extends KakaoStrategyOptionsBase {
  passReqToCallback?: false;
}

/** Options for a verify callback that receives the request first. */
export interface KakaoStrategyOptionsWithRequest extends KakaoStrategyOptionsBase {
  passReqToCallback: true;
}

/** Per-request options of `passport.authenticate('kakao', { … })`. */
export interface KakaoAuthenticateOptions {
  scope?: string | readonly string[];
  prompt?: string | readonly string[];
  loginHint?: string;
  serviceTerms?: string | readonly string[];
  /** Where to go after login; only same-origin relative paths are kept, anything else becomes `/`. */
  returnTo?: string;
  /** `true`: handle as the callback, `false`: start a login. Default: decided by the request path. */
  callback?: boolean;
}

declare module 'passport' {
  // Lets `passport.authenticate('kakao', { returnTo, loginHint, serviceTerms })` type-check.
  interface AuthenticateOptions {
    returnTo?: string | undefined;
    loginHint?: string | undefined;
    serviceTerms?: string | readonly string[] | undefined;
    callback?: boolean | undefined;
  }
}

/** What kakaoAuth hands a strategy it manages (internal). */
export interface ManagedStrategySupport {
  transactionCipher: TokenCipher;
  stateStore: MarkerStore;
  /** Whether the stores the callback needs are connected (read from client state, no round trip). */
  ready: () => boolean;
}

/** Internal: kakaoAuth supplies the transaction key and the state store through this method name. */
export const MANAGE = Symbol('kakao-login-express.manageStrategy');
/** Internal: marks options of a strategy kakaoAuth builds (it then supplies the transaction key). */
export const MANAGED = Symbol('kakao-login-express.managedOptions');
/**
 * Internal: the token response rides on the success info under this key, invisible to JSON and to
 * Passport's own `authInfo` handling, so kakaoAuth can store it whatever the verify callback does.
 */
export const LOGIN_TOKENS = Symbol('kakao-login-express.loginTokens');
/** Internal: when the login's transaction was created (epoch ms), on the success info like the tokens. */
export const LOGIN_STARTED_AT = Symbol('kakao-login-express.loginStartedAt');
/** Internal: the strategy's resolved options, for kakaoAuth. */
export const RESOLVED = Symbol('kakao-login-express.strategyOptions');
