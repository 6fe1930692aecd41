/**
 * `kakao-login-express/testing`: a faithful local Kakao (kauth + kapi) for tests, demos and CI.
 *
 * Deliberately not exported: the handlers, the state model and the wire helpers. They are internal so the
 * emulator can follow Kakao's behaviour without breaking callers; drive it over HTTP and through
 * {@link KakaoEmulator}.
 */
export { createKakaoEmulator } from './emulator';
export { EMULATOR_ENDPOINTS } from './routes';
export { DEFAULT_CONSENT_ITEMS, SEEDED_USERS } from './users';
export type {
  EmulatorEndpoint,
  EmulatorFault,
  EmulatorIdTokenFault,
  EmulatorRequest,
  EmulatorStrategyOptions,
  EmulatorUser,
  EmulatorUserInit,
  KakaoEmulator,
  KakaoEmulatorOptions,
  LoginAgent,
  LoginAgentRequest,
  LoginAgentResponse,
  LoginAsOptions,
} from './types';
