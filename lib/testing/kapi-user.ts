/**
 * The kapi user APIs beyond `/v2/user/me`: consent items (`/v2/user/scopes`, `/v2/user/revoke/scopes`),
 * Kakao Sync service terms (`/v2/user/service_terms`, `/v2/user/revoke/service_terms`), manual sign-up
 * (`/v1/user/signup`) and user properties (`/v1/user/update_profile`).
 */
import type { Runtime } from './runtime';
import { CONSENT_ITEM_LABELS, type UserRecord } from './users';
import { allParams, authenticate, kapiError, methodNotAllowed } from './kapi';
import { RawJsonInteger, jsonReply, param, type Incoming, type Reply } from './wire';

/** A JSON array of ids inside a parameter: `undefined` when absent, `null` when malformed. */
function idArray(raw: string | undefined): string[] | undefined | null {
  if (raw === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) && parsed.every((id) => typeof id === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

function tagList(raw: string | undefined): string[] | undefined {
  return raw === undefined ? undefined : raw.split(',').filter((tag) => tag !== '');
}

/** A JSON object of strings inside a parameter: `undefined` when absent, `null` when malformed. */
function propertiesOf(raw: string | undefined): Record<string, string> | undefined | null {
  if (raw === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.values(parsed).every((value) => typeof value === 'string')
      ? (parsed as Record<string, string>)
      : null;
  } catch {
    return null;
  }
}

function scopeDocument(
  rt: Runtime,
  user: UserRecord,
  only: readonly string[] | undefined,
): Record<string, unknown> {
  const scopes = rt.settings.consentItems
    .filter((id) => only === undefined || only.includes(id))
    .map((id) => {
      const agreed = user.agreedScopes.includes(id);
      return {
        id,
        display_name: CONSENT_ITEM_LABELS[id]?.[0] ?? id,
        type: 'PRIVACY',
        using: true,
        delegated: false,
        agreed,
        // Kakao sends `revocable` only for agreed items; required items cannot be revoked.
        revocable: agreed ? !rt.settings.requiredConsentItems.includes(id) : undefined,
      };
    });
  return { id: new RawJsonInteger(user.id), scopes };
}

/** `GET /v2/user/scopes`: the app's consent items and whether the user agreed (Bearer or admin key). */
export function scopes(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'GET') return methodNotAllowed('GET');
  const principal = authenticate(inc, rt, true);
  if ('status' in principal) return principal;
  const only = idArray(param(allParams(inc), 'scopes'));
  if (only === null) return kapiError(400, -2, 'scopes must be a JSON array of consent item ids');
  return jsonReply(200, scopeDocument(rt, principal.user, only));
}

/** `POST /v2/user/revoke/scopes`: revokes agreed, revocable items; -3 for a required one, -2 for an unknown one. */
export function revokeScopes(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'POST') return methodNotAllowed('POST');
  const principal = authenticate(inc, rt, true);
  if ('status' in principal) return principal;
  const ids = idArray(param(allParams(inc), 'scopes'));
  if (!ids || ids.length === 0)
    return kapiError(400, -2, 'scopes must be a non-empty JSON array of consent item ids');
  const user = principal.user;
  const unknown = ids.find((id) => !rt.settings.consentItems.includes(id));
  if (unknown !== undefined) return kapiError(400, -2, `unknown scope: ${unknown.slice(0, 64)}`);
  const fixed = ids.find((id) => rt.settings.requiredConsentItems.includes(id));
  if (fixed !== undefined) return kapiError(403, -3, `scope ${fixed} is required and cannot be revoked`);
  user.agreedScopes = user.agreedScopes.filter((id) => !ids.includes(id));
  return jsonReply(200, scopeDocument(rt, user, undefined));
}

/** `GET /v2/user/service_terms` (Kakao Sync): `result=agreed_service_terms` (default) or `app_service_terms`. */
export function serviceTerms(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'GET') return methodNotAllowed('GET');
  const principal = authenticate(inc, rt, true);
  if ('status' in principal) return principal;
  if (rt.settings.serviceTerms.length === 0)
    return kapiError(403, -3, 'Kakao Sync service terms are not set for this app');
  const p = allParams(inc);
  const result = param(p, 'result') ?? 'agreed_service_terms';
  if (result !== 'agreed_service_terms' && result !== 'app_service_terms') {
    return kapiError(400, -2, 'result must be agreed_service_terms or app_service_terms');
  }
  const tags = tagList(param(p, 'tags'));
  const user = principal.user;
  const terms = rt.settings.serviceTerms
    .filter((term) => tags === undefined || tags.includes(term.tag))
    .map((term) => {
      const agreed = user.agreedServiceTerms.find((entry) => entry.tag === term.tag);
      return {
        tag: term.tag,
        required: term.required,
        agreed: agreed !== undefined,
        revocable: agreed !== undefined && !term.required,
        agreed_at: agreed?.agreedAt,
        agreed_by: agreed ? 'KAUTH' : undefined,
      };
    })
    .filter((term) => result === 'app_service_terms' || term.agreed);
  return jsonReply(200, { id: new RawJsonInteger(user.id), service_terms: terms });
}

/** `POST /v2/user/revoke/service_terms`: revokes agreed, non-required terms. */
export function revokeServiceTerms(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'POST') return methodNotAllowed('POST');
  const principal = authenticate(inc, rt, true);
  if ('status' in principal) return principal;
  const tags = tagList(param(allParams(inc), 'tags'));
  if (!tags || tags.length === 0)
    return kapiError(400, -2, 'tags must be a comma-separated list of service-terms tags');
  const unknown = tags.find((tag) => !rt.settings.serviceTerms.some((term) => term.tag === tag));
  if (unknown !== undefined) return kapiError(400, -2, `unknown service terms tag: ${unknown.slice(0, 64)}`);
  const fixed = tags.find((tag) =>
    rt.settings.serviceTerms.some((term) => term.tag === tag && term.required),
  );
  if (fixed !== undefined)
    return kapiError(403, -3, `service terms ${fixed} are required and cannot be revoked`);
  const user = principal.user;
  const revoked = tags.filter((tag) => user.agreedServiceTerms.some((entry) => entry.tag === tag));
  user.agreedServiceTerms = user.agreedServiceTerms.filter((entry) => !tags.includes(entry.tag));
  return jsonReply(200, {
    id: new RawJsonInteger(user.id),
    revoked_service_terms: revoked.map((tag) => ({ tag, agreed: false })),
  });
}

/** Stores properties, -201 for a key the console does not have; `undefined` when done. */
function storeProperties(
  rt: Runtime,
  user: UserRecord,
  raw: string | undefined,
  required: boolean,
): Reply | undefined {
  const properties = propertiesOf(raw);
  if (
    properties === null ||
    (required && (properties === undefined || Object.keys(properties).length === 0))
  ) {
    return kapiError(400, -2, 'properties must be a JSON object of strings');
  }
  if (properties === undefined) return undefined;
  const allowed = rt.settings.userPropertyKeys;
  const unknown = Object.keys(properties).find((key) => allowed !== undefined && !allowed.includes(key));
  if (unknown !== undefined)
    return kapiError(400, -201, `invalid user property key: ${unknown.slice(0, 64)}`);
  user.properties = { ...user.properties, ...properties };
  return undefined;
}

/** `POST /v1/user/signup`: completes a preregistered user's sign-up (apps with auto-link off). Bearer only. */
export function signup(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'POST') return methodNotAllowed('POST');
  const principal = authenticate(inc, rt, false);
  if ('status' in principal) return principal;
  const user = principal.user;
  if (user.hasSignedUp !== false) return kapiError(400, -102, 'already registered');
  const failed = storeProperties(rt, user, param(allParams(inc), 'properties'), false);
  if (failed) return failed;
  user.hasSignedUp = true;
  return jsonReply(200, { id: new RawJsonInteger(user.id) });
}

/** `POST /v1/user/update_profile`: stores user properties. Bearer only. */
export function updateProfile(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'POST') return methodNotAllowed('POST');
  const principal = authenticate(inc, rt, false);
  if ('status' in principal) return principal;
  const failed = storeProperties(rt, principal.user, param(allParams(inc), 'properties'), true);
  if (failed) return failed;
  return jsonReply(200, { id: new RawJsonInteger(principal.user.id) });
}
