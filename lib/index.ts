/**
 * kakao-login-express: Login with Kakao for Express and Passport.
 *
 * The public surface, listed name by name (a test pins it). Internal on purpose, importable from the
 * sources but not promised stable: the HTTP transport, the exact-integer JSON parser, the transaction
 * cookie format, the URL builders, the Redis client adapter, the diagnostics' hint tables and the
 * ID-token verifier. The Kakao emulator is a separate entry point, `kakao-login-express/testing`, so that
 * it never ships in a production bundle by accident.
 */

// The Passport strategy
export { KakaoStrategy } from './strategy';
export type {
  KakaoAuthenticateOptions,
  KakaoStrategyOptions,
  KakaoStrategyOptionsBase,
  KakaoStrategyOptionsWithRequest,
  KakaoTokenSet,
  KakaoVerifyCallback,
  KakaoVerifyFunction,
  KakaoVerifyFunctionWithRequest,
} from './strategy-types';
export { LOGIN_FAILURE_MESSAGES } from './login-failures';
export type { KakaoLoginFailure, KakaoLoginFailureCode } from './login-failures';
export type { KakaoPrompt } from './config';

// Drop-in routes
export { kakaoAuth } from './kakao-auth/index';
export type { KakaoAuthRouter } from './kakao-auth/index';
export type {
  KakaoAuthOptions,
  KakaoAuthOptionsWithStrategy,
  KakaoAuthOptionsWithStrategyOptions,
  KakaoAuthRouteOptions,
  KakaoSessionUser,
} from './kakao-auth/options';
export { kakaoErrorHandler, statusForError } from './kakao-auth/errors';
export type { KakaoErrorHandlerOptions, KakaoRouteError } from './kakao-auth/errors';

// Kakao's APIs
export { KakaoClient, apiErrorConfigurationHint, tokenErrorConfigurationHint } from './kakao-client';
export type { KakaoAccessTokenInfo, KakaoClientOptions, KakaoGetUserOptions } from './kakao-client';
export { KakaoAdminClient } from './admin-client';
export type { KakaoAdminClientOptions, KakaoListUserIdsOptions, KakaoUserIdsPage } from './admin-client';
export { parseProfile } from './profile';
export type { KakaoProfile } from './profile';
export type {
  KakaoAccount,
  KakaoAccountProfile,
  KakaoOidcUserInfo,
  KakaoRevokedServiceTerms,
  KakaoScope,
  KakaoScopes,
  KakaoServiceTerm,
  KakaoServiceTerms,
  KakaoTokenResponse,
  KakaoUserMeResponse,
} from './kakao-types';
export { createUnlinkWebhookHandler } from './unlink-webhook';
export type { UnlinkEvent, UnlinkWebhookOptions } from './unlink-webhook';

// Tokens at rest
export { createTokenCipher, generateKeyRing, parseKeyRing } from './token-cipher';
export type { SealContext, TokenCipher, TokenCipherKey } from './token-cipher';
export { MemoryTokenStore } from './stores/memory-token-store';
export type { MemoryTokenStoreOptions } from './stores/memory-token-store';
export { RedisTokenStore } from './stores/redis-token-store';
export type { RedisTokenStoreOptions } from './stores/redis-token-store';
export type { RedisClientLike } from './stores/redis-client';
export type {
  LoginKey,
  MarkerStore,
  RecordWriteOptions,
  StoredLogin,
  TokenStore,
  WriteOptions,
} from './stores/contracts';
export type { KakaoTokens } from './token-record';

// Helpers, logging, diagnostics
export { sanitizeReturnTo } from './return-to';
export { consoleLogger, createConsoleLogger, silentLogger } from './logger';
export type { KakaoLogEvent, KakaoLogger, KakaoLogLevel } from './logger';
export { startupWarnings } from './kakao-auth/startup';
export type { StartupWarning, StartupWarningCode } from './diagnostics';

// Errors
export {
  IdTokenError,
  KakaoApiError,
  KakaoError,
  KakaoResponseError,
  KakaoSessionError,
  KakaoTokenError,
  ReauthRequiredError,
  TokenDecryptionError,
  TokenKeyUnknownError,
  TokenStoreError,
  isKakaoError,
} from './errors';
export type { KakaoErrorCode, KakaoResponseFailure } from './errors';
