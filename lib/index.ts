/**
 * kakao-login-express: Login with Kakao for Express and Passport.
 *
 * Public surface only. Internal on purpose (importable from the sources, not promised stable):
 * the HTTP transport (`http.ts`), the exact-integer JSON parser, the transaction bag format and
 * the authorize-URL builder. The Kakao emulator is a separate entry point,
 * `kakao-login-express/testing`, so that it never ships in a production bundle by accident.
 */
export { KakaoStrategy, LOGIN_FAILURE_MESSAGES } from './strategy';
export type {
  KakaoAuthenticateOptions,
  KakaoLoginFailure,
  KakaoLoginFailureCode,
  KakaoStrategyOptions,
  KakaoStrategyOptionsBase,
  KakaoStrategyOptionsWithRequest,
  KakaoTokenSet,
  KakaoVerifyCallback,
  KakaoVerifyFunction,
  KakaoVerifyFunctionWithRequest,
} from './strategy';
export { kakaoAuth, defaultRenderError, statusForError } from './routes';
export type { KakaoAuthOptions, KakaoAuthRouter, KakaoRouteError, KakaoSessionUser } from './routes';
export { KakaoClient } from './kakao-client';
export type { KakaoClientOptions, KakaoAccessTokenInfo, KakaoGetUserOptions } from './kakao-client';
export { parseProfile } from './profile';
export type { KakaoProfile } from './profile';
export { sanitizeReturnTo } from './return-to';
export { createTokenCipher, parseKeyRing, generateKeyRing } from './token-cipher';
export type { TokenCipher, TokenCipherKey, SealContext } from './token-cipher';
export { RedisTokenStore, MemoryTokenStore } from './token-store';
export type { TokenStore, TokenRecordKey } from './token-store';
export { TokenVault } from './tokens';
export type { KakaoTokens, TokenVaultOptions } from './tokens';
export { consoleLogger, createConsoleLogger, silentLogger } from './logger';
export type { KakaoLogger, KakaoLogEvent, KakaoLogLevel } from './logger';
export type { KakaoPrompt } from './config';
export * from './errors';
export type * from './kakao-types';
export { KakaoAdminClient } from './admin-client';
export type { KakaoAdminClientOptions, KakaoListUserIdsOptions, KakaoUserIdsPage } from './admin-client';
export { createUnlinkWebhookHandler } from './unlink-webhook';
export type { UnlinkEvent, UnlinkWebhookOptions } from './unlink-webhook';
export { createIdTokenVerifier } from './id-token';
export type { IdTokenClaims, IdTokenVerifier, IdTokenVerifierOptions, IdTokenRejection } from './id-token';
export {
  diagnoseSessionLoss,
  diagnoseLoginStart,
  startupWarnings,
  SESSION_LOSS_HINTS,
  STARTUP_WARNING_MESSAGES,
} from './diagnostics';
export type {
  Diagnosis,
  SessionLossCause,
  StartupWarning,
  StartupWarningCode,
  StartupConfigEvidence,
} from './diagnostics';
