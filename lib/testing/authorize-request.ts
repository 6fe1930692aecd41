/**
 * Kakao's checks of `GET /oauth/authorize`, in Kakao's order: client, redirect URI (both stop on an error
 * page), then the parameters (redirected back as OAuth errors), except a `scope` the console does not
 * have, which also stops on an error page (KOE205).
 */
import type { PendingAuthorization } from './state';
import type { Runtime } from './runtime';
import { appendQuery, isAbsoluteHttpUrl, param, repeatedParam, type ParamMap } from './wire';

const PROMPTS = new Set(['login', 'none', 'create', 'select_account', 'cert']);
const AUTHORIZE_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'prompt',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'login_hint',
  'service_terms',
];

/** What an authorization request asks for, once validated. */
export type AuthorizationRequest = Omit<
  PendingAuthorization,
  'id' | 'expiresAt' | 'preselectedUserId' | 'items' | 'serviceTerms'
>;

/** The outcome of checking an authorize request: a stop on Kakao's error page, a redirect, or go. */
export type Checked =
  | { kind: 'page'; status: number; koe: string; description: string }
  | { kind: 'redirect'; location: string }
  | { kind: 'ok'; request: AuthorizationRequest; prompts: string[] };

export function isRegistered(list: readonly string[] | undefined, uri: string): boolean {
  return list ? list.includes(uri) : isAbsoluteHttpUrl(uri);
}

/** Kakao's docs show comma-separated scopes, its SDKs send space-separated ones: accept both. */
function splitList(raw: string): string[] {
  return [...new Set(raw.split(/[\s,]+/).filter((item) => item !== ''))];
}

export function shorten(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Kakao's checks of an authorize request, in Kakao's order. */
export function checkAuthorize(q: ParamMap, rt: Runtime): Checked {
  const page = (koe: string, description: string): Checked => ({
    kind: 'page',
    status: 400,
    koe,
    description,
  });
  const clientId = param(q, 'client_id');
  if (clientId !== rt.settings.clientID)
    return page('KOE101', `Not exist client_id [${shorten(clientId ?? '')}]`);
  const redirectUri = param(q, 'redirect_uri');
  if (
    redirectUri === undefined ||
    Array.isArray(q.redirect_uri) ||
    !isRegistered(rt.settings.redirectUris, redirectUri)
  ) {
    return page('KOE006', 'redirect_uri is not registered for this app.');
  }
  const state = param(q, 'state');
  const fail = (error: string, description: string): Checked => ({
    kind: 'redirect',
    location: appendQuery(redirectUri, [
      ['error', error],
      ['error_description', description],
      ['state', state],
    ]),
  });
  const repeated = repeatedParam(q, AUTHORIZE_PARAMS);
  if (repeated) return fail('invalid_request', `parameter ${repeated} is repeated`);
  const responseType = param(q, 'response_type');
  if (responseType === 'token')
    return fail('invalid_request', 'Implicit grant is not supported (response_type=token).');
  if (responseType !== 'code')
    return fail('invalid_request', `Unsupported response type: ${shorten(responseType ?? '')}`);

  const scopeParam = param(q, 'scope');
  const requested = scopeParam === undefined ? undefined : splitList(scopeParam);
  // `openid` is valid only with OpenID Connect on; any other id must be a console consent item.
  const unknown = requested?.find((item) =>
    item === 'openid' ? !rt.settings.oidc : !rt.settings.consentItems.includes(item),
  );
  if (unknown !== undefined) return page('KOE205', `Invalid scope: ${shorten(unknown)}`);

  const prompts = splitList(param(q, 'prompt') ?? '');
  const badPrompt = prompts.find((prompt) => !PROMPTS.has(prompt));
  if (badPrompt !== undefined) return fail('invalid_request', `Unsupported prompt: ${shorten(badPrompt)}`);
  if (prompts.includes('none') && prompts.length > 1)
    return fail('invalid_request', 'prompt=none cannot be combined');

  const codeChallenge = param(q, 'code_challenge');
  const challengeMethod = param(q, 'code_challenge_method');
  if (codeChallenge !== undefined || challengeMethod !== undefined) {
    if (challengeMethod !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
    if (codeChallenge === undefined || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)) {
      return fail('invalid_request', 'code_challenge must be the base64url SHA-256 of the code_verifier');
    }
  }
  const nonce = param(q, 'nonce');
  if (nonce !== undefined && nonce.length > 512) return fail('invalid_request', 'nonce is too long');
  const termsParam = param(q, 'service_terms');
  const serviceTermTags = termsParam === undefined ? undefined : splitList(termsParam);
  const unknownTerm = serviceTermTags?.find(
    (tag) => !rt.settings.serviceTerms.some((term) => term.tag === tag),
  );
  if (unknownTerm !== undefined)
    return fail('invalid_request', `Invalid service_terms: ${shorten(unknownTerm)}`);
  return {
    kind: 'ok',
    prompts,
    request: {
      clientId,
      redirectUri,
      state,
      requested,
      serviceTermTags,
      // With OIDC on, an ID token comes without `scope`, or with a `scope` that includes `openid`.
      withIdToken: rt.settings.oidc && (requested === undefined || requested.includes('openid')),
      codeChallenge,
      nonce,
      loginHint: param(q, 'login_hint'),
    },
  };
}
