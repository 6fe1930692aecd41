/**
 * Public types of the Kakao emulator (`kakao-login-express/testing`).
 */
import type { EmulatorStrategyOptions, LoginAgent, LoginAsOptions } from './login-as';

export type {
  EmulatorStrategyOptions,
  LoginAgent,
  LoginAgentRequest,
  LoginAgentResponse,
  LoginAsOptions,
} from './login-as';

/** Options of {@link createKakaoEmulator}. Every option is optional; the defaults describe a typical REST app. */
export interface KakaoEmulatorOptions {
  /** Interface to bind. Default `'127.0.0.1'`. */
  host?: string;
  /** Port to bind. Default `0` (any free port; read the real one from `emulator.url`). */
  port?: number;
  /** The app's REST API key (`client_id`). Default `'emulator-rest-api-key'`. */
  clientID?: string;
  /**
   * Client secret. When set, the token endpoint requires it as `client_secret` in the form body
   * (`client_secret_post`, the only method Kakao supports) and answers KOE010 otherwise. Default unset.
   */
  clientSecret?: string;
  /**
   * Registered redirect URIs, compared byte for byte (KOE006 error page otherwise). Default unset: any
   * absolute http(s) URI without a fragment is accepted, a convenience real Kakao does not offer.
   */
  redirectUris?: string[];
  /** Registered logout redirect URIs for `/oauth/logout` (KOE007 page otherwise). Default unset: any absolute http(s) URI. */
  logoutRedirectUris?: string[];
  /**
   * Skip the consent page: `/oauth/authorize` signs in at once as the user named by `login_hint` (matched
   * against id or email), else `autoApproveUserId`, and the user agrees to everything the consent screen
   * would have asked (at first login the console's items, later only `scope` items not agreed yet) that
   * they can grant. `prompt=none` keeps its rules. Without it, tests log users in with `loginAs`.
   * Default `false`.
   */
  autoApprove?: boolean;
  /** User signed in by `autoApprove`. Default: the first user. */
  autoApproveUserId?: string;
  /** The users known to the emulator. Default: {@link SEEDED_USERS}. Given: replaces them. */
  users?: EmulatorUserInit[];
  /**
   * Consent items configured "in the console". Kakao asks for them at a user's first login (the consent
   * screen then offers each); a login that sends `scope` asks only for the listed items the user has not
   * agreed to yet, and a `scope` naming an item not configured here stops on a KOE205 error page. `openid`
   * is not a consent item: use `oidc`. Default {@link DEFAULT_CONSENT_ITEMS}.
   */
  consentItems?: string[];
  /**
   * Items among `consentItems` set as required: they cannot be unticked on the consent screen and cannot
   * be revoked (`revocable: false` in `/v2/user/scopes`). Default none.
   */
  requiredConsentItems?: string[];
  /**
   * Kakao Sync service terms configured in the console, shown on the consent screen at first login
   * (required ones cannot be unticked) and served by `/v2/user/service_terms`. Default none.
   */
  serviceTerms?: { tag: string; required?: boolean }[];
  /**
   * "Auto-link on login" in the console. `false`: a user who logs in for the first time is only
   * preregistered (`has_signed_up: false`, little user data) until the app calls `POST /v1/user/signup`.
   * Kakao unlinks users who stay preregistered for 24 hours; simulate that with
   * `unlinkFromKakao(id, 'INCOMPLETE_SIGN_UP')`. Default `true`.
   */
  autoLink?: boolean;
  /**
   * User property keys registered in the console; `update_profile` and `signup` answer -201 for any
   * other key. Default unset: every key is accepted.
   */
  userPropertyKeys?: string[];
  /**
   * Whether `GET /v1/user/ids?from_id=X` includes `X` itself (Kakao does not document it). With `true`
   * each page after the first repeats the last id of the page before. Default `false`.
   */
  userIdsFromIdInclusive?: boolean;
  /**
   * Case of `gender` in `/v1/oidc/userinfo`: Kakao's docs say `female`/`male` in the table and show
   * `MALE` in the sample. Default `'lower'`.
   */
  oidcGenderCase?: 'lower' | 'upper';
  /** Access-token lifetime (`expires_in`). Default `21599` (REST API apps). */
  accessTokenTtlSeconds?: number;
  /** Refresh-token lifetime (`refresh_token_expires_in`). Default `5183999` (two months). */
  refreshTokenTtlSeconds?: number;
  /** Authorization-code lifetime. Default `600`. */
  codeTtlSeconds?: number;
  /**
   * Kakao's per-user token issuance limits: at most 20 access tokens per 10 minutes and 30 refresh tokens
   * per 60 minutes, else KOE237 (400 `invalid_request`). Default `true`.
   */
  tokenRateLimit?: boolean;
  /** HTTP status of `invalid_client` answers (KOE010, KOE101), which Kakao does not document. Default `401`. */
  invalidClientStatus?: number;
  /** `error_code` of a failed PKCE check at the token endpoint (Kakao's is undocumented). Default `'KOE320'`. */
  pkceErrorCode?: string;
  /** Numeric app id (`app_id` in token info and webhooks). Default `1000001`. */
  appId?: number;
  /** Admin key accepted as `Authorization: KakaoAK <key>` and sent on webhooks. Default `'emulator-admin-key'`. */
  adminKey?: string;
  /** Unlink webhook target, called by `unlinkFromKakao`. Default unset (no call). */
  webhookUrl?: string;
  /** Unlink webhook method: `GET` sends a query string, `POST` a form body. Default `'POST'`. */
  webhookMethod?: 'GET' | 'POST';
  /**
   * OpenID Connect enabled "in the console". On: a login without `scope` gets an `id_token`, and one with
   * `scope` gets it only when the scope includes `openid`. Off: no ID tokens at all, and `scope=openid`
   * stops on a KOE205 error page, as at Kakao. Default `false`.
   */
  oidc?: boolean;
  /** `iss` of ID tokens and discovery. Default: the emulator's own origin (`emulator.url`). */
  issuer?: string;
  /**
   * Shape of `GET /v2/app/users` (Kakao's docs disagree): a bare array, or `{ "elements": [...] }`.
   * Default `'array'`.
   */
  appUsersShape?: 'array' | 'elements';
  /**
   * Serve the `/_emulator/*` control API over HTTP. Every control call must carry the emulator's
   * `controlToken` in `X-Emulator-Token`, name a loopback `Host` (`127.0.0.1`, `[::1]` or `localhost` with
   * the emulator's port) and, for `POST`, send `Content-Type: application/json`; anything else gets 403
   * (415 for the content type), so a web page open in the developer's browser cannot drive it, DNS
   * rebinding included. The avatars the consent page shows stay public. Default `true`.
   */
  controlApi?: boolean;
  /**
   * The control token. Default: 32 random bytes made at start (base64url). Set it only to drive an
   * emulator running in another process, and pass it out of band (an environment variable), never
   * through logs.
   */
  controlToken?: string;
  /** How many requests `emulator.requests` keeps (oldest dropped first). Default `10000`. */
  maxRequestLog?: number;
  /** Clock in milliseconds; `advanceClock` adds an offset on top. Default `Date.now`. */
  now?: () => number;
}

/** A running emulator. It plays both Kakao hosts: kauth (`/oauth/*`) and kapi (`/v1/*`, `/v2/*`). */
export interface KakaoEmulator {
  /** Origin of the emulator, e.g. `'http://127.0.0.1:53127'`. */
  readonly url: string;
  /** Origin to use in place of `https://kauth.kakao.com` (same as `url`). */
  readonly authOrigin: string;
  /** Origin to use in place of `https://kapi.kakao.com` (same as `url`). */
  readonly apiOrigin: string;
  /** `iss` of the ID tokens it signs. */
  readonly issuer: string;
  /** The REST API key the emulator accepts as `client_id`. */
  readonly clientID: string;
  /** The client secret the token endpoint requires, if any. */
  readonly clientSecret: string | undefined;
  /** The admin key accepted as `KakaoAK` and sent on webhooks. */
  readonly adminKey: string;
  /** The numeric app id. */
  readonly appId: number;
  /**
   * Options to spread into `KakaoStrategy` / `kakaoAuth`: `{ clientID, clientSecret?, authOrigin, apiOrigin }`
   * (`clientSecret` only when the emulator requires one).
   * @example
   * ```ts
   * import express from 'express';
   * import { kakaoAuth } from 'kakao-login-express';
   * const app = express();
   * const kakao = await createKakaoEmulator();
   * app.use(kakaoAuth({ ...kakao.strategyOptions, callbackURL: 'http://127.0.0.1:3000/auth/kakao/callback' }));
   * ```
   */
  readonly strategyOptions: EmulatorStrategyOptions;
  /**
   * The token the HTTP control API requires in `X-Emulator-Token`. Keep it out of logs: whoever has it can
   * log in as any user.
   */
  readonly controlToken: string;
  /**
   * Logs `userId` in to your app through a supertest agent (or anything shaped like one: it keeps cookies):
   * `GET loginPath` on the agent (expects a 302 to this emulator's authorize URL), the consent decision for
   * that user at the emulator over HTTP (`POST /_emulator/authorize`, no consent page, no `autoApprove`
   * needed), then the callback on the agent. Cookies the login start set travel with the agent.
   *
   * @param options.loginPath - Default `'/auth/kakao'`.
   * @param options.returnTo - Sent as `?returnTo=` on the login start.
   * @param options.scopes - Items the user agrees to. Default: every item the consent screen would offer.
   * @returns the callback's redirect target (where the app sends the logged-in user).
   * @throws Error naming the step that failed: the login start, the emulator's decision (e.g. a KOE006
   *   error page), or a callback that did not answer 302 or redirected with `login_error`.
   * @example
   * ```ts
   * import type { Express } from 'express';
   * import supertest from 'supertest';
   * declare const app: Express; // with kakaoAuth({ ...kakao.strategyOptions, callbackURL }) mounted
   * const kakao = await createKakaoEmulator();
   * const agent = supertest.agent(app);
   * await kakao.loginAs(agent, '4120937465');
   * ```
   */
  loginAs(agent: LoginAgent, userId: string, options?: LoginAsOptions): Promise<{ location: string }>;
  /** Closes the server and every socket, keep-alive and hanging ones included. Idempotent. */
  close(): Promise<void>;
  /**
   * Adds a user (unlinked, nothing agreed).
   * @throws TypeError when the id is not a positive 64-bit decimal string, already exists, or a field is malformed.
   */
  addUser(init: EmulatorUserInit): EmulatorUser;
  /** A snapshot of the user, or `undefined`. */
  getUser(id: string): EmulatorUser | undefined;
  /** Every (or that user's) access token now answers -401 "this access token is already expired". */
  expireAccessTokens(userId?: string): void;
  /** Every (or that user's) refresh token now answers KOE322. */
  expireRefreshTokens(userId?: string): void;
  /**
   * Sets the remaining lifetime of the user's live refresh tokens, e.g. below 30 days to make the next
   * refresh rotate.
   * @throws TypeError when `seconds` is not a finite number.
   */
  setRefreshTokenRemaining(userId: string, seconds: number): void;
  /**
   * Moves the emulator clock forward.
   * @throws TypeError when `ms` is not a finite number.
   */
  advanceClock(ms: number): void;
  /**
   * Adds a fault; faults apply in insertion order, each `times` times.
   * @throws TypeError when the fault is malformed.
   */
  injectFault(fault: EmulatorFault): void;
  /** Removes every fault. */
  clearFaults(): void;
  /**
   * The user disconnects the app from Kakao's side: tokens revoked, consents removed, user unlinked, then the
   * unlink webhook is called (`Authorization: KakaoAK <admin key>`; `app_id`, `user_id`, `referrer_type` as
   * GET query or POST form; no redirects followed; 3 s timeout).
   * Resolves with the webhook's HTTP status, or `undefined` when no webhook is set or it could not be reached.
   * @throws TypeError when the user does not exist.
   */
  unlinkFromKakao(userId: string, referrerType?: string): Promise<number | undefined>;
  /**
   * Signs ID tokens with a new RSA key from now on (Kakao rotates its keys). With `keepOld: true` (the
   * default) the previous keys stay in the JWKS, as in a graceful rotation; with `false` only the new key
   * is published, so tokens signed before are no longer verifiable.
   */
  rotateSigningKey(options?: { keepOld?: boolean }): Promise<void>;
  /**
   * Makes every ID token issued from now on the given bad variant, until called with `undefined`. For
   * testing that a client rejects each one.
   * @throws TypeError when `kind` is not an {@link EmulatorIdTokenFault}.
   */
  setIdTokenFault(kind: EmulatorIdTokenFault | undefined): void;
  /** Requests received, in order (at most `maxRequestLog`). */
  readonly requests: readonly EmulatorRequest[];
  /** Number of requests to that endpoint since start or `resetRequests()`. */
  count(endpoint: EmulatorEndpoint): number;
  /** Empties `requests` and the counters. */
  resetRequests(): void;
  /** Every access token, refresh token, ID token and authorization code issued so far. */
  issuedSecrets(): string[];
}

/** What a request was addressed to. */
export type EmulatorEndpoint =
  | 'authorize'
  | 'authorize_decision'
  | 'token'
  | 'user_me'
  | 'logout'
  | 'unlink'
  | 'access_token_info'
  | 'account_logout'
  | 'user_ids'
  | 'app_users'
  | 'oidc_discovery'
  | 'jwks'
  | 'oidc_userinfo'
  | 'scopes'
  | 'revoke_scopes'
  | 'service_terms'
  | 'revoke_service_terms'
  | 'signup'
  | 'update_profile'
  | 'tokeninfo'
  | 'avatar'
  | 'control'
  | 'other';

/**
 * A bad ID token the emulator can issue instead of a good one (see `setIdTokenFault`):
 * `bad_signature` (right `kid`, signed by another key), `alg_none` (unsigned), `hs256` (HMAC with the client
 * secret, else the client id), `wrong_iss`, `wrong_aud`, `multiple_aud_without_azp`, `missing_iat`,
 * `iat_too_old` (an hour old, not expired), `expired` (2 minutes ago), `missing_sub`, `other_sub` (another
 * user than the token's owner), `wrong_nonce`, `missing_nonce`, `wrong_at_hash`, `kid_absent` (a good
 * signature but no `kid` header: valid while the JWKS holds a single key), `unknown_kid` (a fresh random
 * `kid` each time), `jku_header` (a good signature plus a `jku` header pointing elsewhere).
 */
export type EmulatorIdTokenFault =
  | 'bad_signature'
  | 'alg_none'
  | 'hs256'
  | 'wrong_iss'
  | 'wrong_aud'
  | 'multiple_aud_without_azp'
  | 'missing_iat'
  | 'iat_too_old'
  | 'expired'
  | 'missing_sub'
  | 'other_sub'
  | 'wrong_nonce'
  | 'missing_nonce'
  | 'wrong_at_hash'
  | 'kid_absent'
  | 'unknown_kid'
  | 'jku_header';

/** One request as the emulator received it. */
export interface EmulatorRequest {
  endpoint: EmulatorEndpoint;
  method: string;
  path: string;
  /** Query parameters; repeated keys are kept as arrays. */
  query: Record<string, string | string[]>;
  /** Parsed `application/x-www-form-urlencoded` body, empty otherwise. */
  form: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
  /** Emulator clock, in ms. */
  at: number;
}

/** A misbehaviour to inject, for testing how a client copes with Kakao being down or odd. */
export interface EmulatorFault {
  endpoint: EmulatorEndpoint;
  /**
   * `html_500`: 500 with an HTML body. `non_json`: 200 with an HTML body. `delay`: wait `delayMs`, then answer
   * normally. `hang`: never answer (until `close()`). `drop`: close the connection without an answer (the
   * client sees a network error with no HTTP status). `redirect`: 307 to `location`. `status`: a custom raw
   * answer. With `consume`, `hang` and `drop` are a lost response: Kakao did the work, the client never hears.
   */
  kind: 'html_500' | 'non_json' | 'delay' | 'hang' | 'drop' | 'redirect' | 'status';
  /** For `delay`. Default `1000`. */
  delayMs?: number;
  /** For `status`. Default `500`. */
  status?: number;
  /** For `status`. Default empty. */
  body?: string;
  /** For `status`. Default `'application/json;charset=UTF-8'`. */
  contentType?: string;
  /** For `redirect`. Default `'http://127.0.0.1:9/'`. */
  location?: string;
  /** How many requests the fault applies to. Default `Infinity`. */
  times?: number;
  /**
   * Process the request normally first (codes consumed, tokens revoked…) and then answer with the fault, so
   * a retry sees the consequences (e.g. KOE320). Default `true` for `token`, `false` elsewhere.
   */
  consume?: boolean;
}

/** A Kakao account known to the emulator. */
export interface EmulatorUserInit {
  /** Kakao user id: decimal string, up to 19 digits (beyond 2^53 is fine and intended). */
  id: string;
  /** Default `'User <last 4 digits>'`. */
  nickname?: string;
  /** Serve a personal avatar; otherwise Kakao's default picture (`is_default_image: true`). Default `false`. */
  profileImage?: boolean;
  email?: string;
  /** Default `true`. */
  emailValid?: boolean;
  /** Default `true`. */
  emailVerified?: boolean;
  /** e.g. `'30~39'`. */
  ageRange?: string;
  /** `MMDD`. */
  birthday?: string;
  /** Default `'SOLAR'`. */
  birthdayType?: 'SOLAR' | 'LUNAR';
  /** `YYYY`. */
  birthyear?: string;
  gender?: 'female' | 'male';
  /** e.g. `'+82 10-1234-5678'`. */
  phoneNumber?: string;
  name?: string;
  /** Consent items this user is able and willing to grant. Default: all. */
  grantableScopes?: string[];
  /** Custom app user properties (`properties` in `/v2/user/me`). */
  properties?: Record<string, string>;
}

/** A user snapshot, with the link state. */
export interface EmulatorUser extends EmulatorUserInit {
  /** RFC 3339 UTC time the user linked the app; absent while unlinked. */
  connectedAt?: string;
  /** Consent items the user has agreed to for this app. */
  agreedScopes: string[];
  /** Service terms (tags) the user has agreed to, with when. */
  agreedServiceTerms: { tag: string; agreedAt: string }[];
  /** Whether the user is linked (connected) to the app; preregistered users count as linked. */
  linked: boolean;
  /** Only with `autoLink: false`: `false` while preregistered, `true` after `POST /v1/user/signup`. */
  hasSignedUp?: boolean;
}
