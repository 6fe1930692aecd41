/**
 * Which endpoint a request path belongs to, for routing, the request log, counters and faults.
 */
import { CONTROL_PREFIX } from './control';
import type { EmulatorEndpoint } from './types';

export const ROUTES: Readonly<Record<string, EmulatorEndpoint>> = {
  '/oauth/authorize': 'authorize',
  '/oauth/authorize/decision': 'authorize_decision',
  '/oauth/token': 'token',
  '/oauth/logout': 'account_logout',
  '/oauth/tokeninfo': 'tokeninfo',
  '/v2/user/me': 'user_me',
  '/v1/user/logout': 'logout',
  '/v1/user/unlink': 'unlink',
  '/v1/user/access_token_info': 'access_token_info',
  '/v1/user/ids': 'user_ids',
  '/v2/app/users': 'app_users',
  '/v1/oidc/userinfo': 'oidc_userinfo',
  '/v2/user/scopes': 'scopes',
  '/v2/user/revoke/scopes': 'revoke_scopes',
  '/v2/user/service_terms': 'service_terms',
  '/v2/user/revoke/service_terms': 'revoke_service_terms',
  '/v1/user/signup': 'signup',
  '/v1/user/update_profile': 'update_profile',
  '/.well-known/openid-configuration': 'oidc_discovery',
  '/.well-known/jwks.json': 'jwks',
};

/** Every endpoint name, for validating faults. */
export const EMULATOR_ENDPOINTS: readonly EmulatorEndpoint[] = Object.freeze([
  ...new Set(Object.values(ROUTES)),
  'avatar',
  'control',
  'other',
] as EmulatorEndpoint[]);

/** The endpoint a path belongs to, whatever the method. */
export function classifyPath(path: string): EmulatorEndpoint {
  const known = ROUTES[path];
  if (known) return known;
  if (path.startsWith('/_emulator/avatar/')) return 'avatar';
  if (path.startsWith(CONTROL_PREFIX)) return 'control';
  return 'other';
}
