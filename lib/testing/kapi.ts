/**
 * The kapi role: `/v2/user/me`, `/v1/user/logout`, `/v1/user/unlink`, `/v1/user/access_token_info`,
 * `/v1/user/ids`, `/v2/app/users` and `/v1/oidc/userinfo`, with Bearer and `KakaoAK` authentication and
 * Kakao's `{ msg, code }` errors. User ids are written into the JSON digit for digit.
 */
import { avatarUrl, secretEquals, type Runtime } from './runtime';
import { hasDataFor, isUserId, type UserRecord } from './users';
import { RawJsonInteger, jsonReply, param, type Incoming, type ParamMap, type Reply } from './wire';

/** Who a kapi call acts for. */
export interface Principal {
  user: UserRecord;
  /** The Bearer token used, absent for admin-key calls. */
  accessToken: string | undefined;
  /** Scopes of the Bearer token. */
  scopes: readonly string[];
}

/** Kakao's kapi error body `{ msg, code }`. */
export function kapiError(
  status: number,
  code: number,
  msg: string,
  headers: Record<string, string> = {},
): Reply {
  return jsonReply(status, { msg, code }, headers);
}

function unauthorized(msg: string, scheme: 'Bearer' | 'KakaoAK'): Reply {
  return kapiError(401, -401, msg, { 'WWW-Authenticate': `${scheme} error=invalid_token` });
}

export function methodNotAllowed(allow: string): Reply {
  return kapiError(405, -2, `method not allowed; use ${allow}`, { Allow: allow });
}

/** Query and form parameters together (Kakao accepts either for most user APIs). */
export function allParams(inc: Incoming): ParamMap {
  return { ...inc.query, ...inc.form };
}

function credentials(inc: Incoming): { scheme: string; value: string } | undefined {
  const header = inc.headers.authorization;
  const match = typeof header === 'string' ? /^(\S+)[ \t]+(\S+)[ \t]*$/.exec(header) : null;
  return match ? { scheme: match[1]!.toLowerCase(), value: match[2]! } : undefined;
}

function bearerPrincipal(rt: Runtime, token: string): Principal | Reply {
  const found = rt.state.findAccessToken(token);
  if (!found) return unauthorized('this access token does not exist', 'Bearer');
  if (found.expired) return unauthorized('this access token is already expired', 'Bearer');
  const user = rt.state.users.get(found.record.userId);
  if (!user || !user.linked) return unauthorized('this access token does not exist', 'Bearer');
  return { user, accessToken: token, scopes: found.record.scopes };
}

/** Authenticates a user-scoped call: Bearer always, `KakaoAK` + `target_id` when `admin` is allowed. */
export function authenticate(inc: Incoming, rt: Runtime, admin: boolean): Principal | Reply {
  const given = credentials(inc);
  if (!given) return unauthorized('this access token does not exist', 'Bearer');
  if (given.scheme === 'bearer') return bearerPrincipal(rt, given.value);
  if (given.scheme !== 'kakaoak') return unauthorized('this access token does not exist', 'Bearer');
  if (!secretEquals(given.value, rt.settings.adminKey)) return unauthorized('invalid admin key', 'KakaoAK');
  if (!admin) return unauthorized('this API takes a user access token, not an admin key', 'Bearer');
  const p = allParams(inc);
  if (param(p, 'target_id_type') !== 'user_id') return kapiError(400, -2, 'target_id_type must be user_id');
  const targetId = param(p, 'target_id');
  if (!isUserId(targetId)) return kapiError(400, -2, 'target_id must be a user id');
  const user = rt.state.users.get(targetId);
  if (!user || !user.linked) return kapiError(400, -101, 'NotRegisteredUserException');
  return { user, accessToken: undefined, scopes: user.agreedScopes };
}

/** Admin-key-only app calls (no target user). `undefined` when authorised. */
function authenticateApp(inc: Incoming, rt: Runtime): Reply | undefined {
  const given = credentials(inc);
  if (!given || given.scheme !== 'kakaoak')
    return unauthorized('this API needs the admin key (KakaoAK)', 'KakaoAK');
  return secretEquals(given.value, rt.settings.adminKey)
    ? undefined
    : unauthorized('invalid admin key', 'KakaoAK');
}

/** Parses `property_keys`: `undefined` = everything, `null` = malformed. */
function propertyKeys(p: ParamMap): string[] | undefined | null {
  const raw = param(p, 'property_keys');
  if (raw === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) && parsed.every((key) => typeof key === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

function selector(keys: readonly string[] | undefined): (key: string) => boolean {
  if (keys === undefined) return () => true;
  // A key ending in '.' selects a whole group ("kakao_account." / "properties.").
  return (key) => keys.some((wanted) => wanted === key || (wanted.endsWith('.') && key.startsWith(wanted)));
}

/** `kakao_account` with Kakao's `<item>_needs_agreement` semantics. */
function kakaoAccount(
  rt: Runtime,
  user: UserRecord,
  selected: (key: string) => boolean,
): Record<string, unknown> {
  const configured = (item: string): boolean => rt.settings.consentItems.includes(item);
  const agreed = (item: string): boolean => configured(item) && user.agreedScopes.includes(item);
  // true = obtainable by asking for consent; false with no value = not obtainable.
  const needs = (item: string): boolean | undefined =>
    configured(item) ? !agreed(item) && hasDataFor(user, item) : undefined;
  const account: Record<string, unknown> = {};
  if (selected('kakao_account.profile')) {
    account.profile_needs_agreement = needs('profile');
    account.profile_nickname_needs_agreement = needs('profile_nickname');
    account.profile_image_needs_agreement = needs('profile_image');
    const nickname = agreed('profile_nickname') || agreed('profile');
    const image = agreed('profile_image') || agreed('profile');
    if (nickname || image) {
      account.profile = {
        nickname: nickname ? user.nickname : undefined,
        thumbnail_image_url: image ? avatarUrl(rt, user, 110) : undefined,
        profile_image_url: image ? avatarUrl(rt, user, 640) : undefined,
        is_default_image: image ? !user.profileImage : undefined,
        is_default_nickname: nickname ? false : undefined,
      };
    }
  }
  if (selected('kakao_account.name')) {
    account.name_needs_agreement = needs('name');
    if (agreed('name')) account.name = user.name;
  }
  if (selected('kakao_account.email')) {
    account.email_needs_agreement = needs('account_email');
    if (agreed('account_email') && user.email !== undefined) {
      account.is_email_valid = user.emailValid;
      account.is_email_verified = user.emailVerified;
      account.email = user.email;
    }
  }
  if (selected('kakao_account.age_range')) {
    account.age_range_needs_agreement = needs('age_range');
    if (agreed('age_range')) account.age_range = user.ageRange;
  }
  if (selected('kakao_account.birthyear')) {
    account.birthyear_needs_agreement = needs('birthyear');
    if (agreed('birthyear')) account.birthyear = user.birthyear;
  }
  if (selected('kakao_account.birthday')) {
    account.birthday_needs_agreement = needs('birthday');
    if (agreed('birthday') && user.birthday !== undefined) {
      account.birthday = user.birthday;
      account.birthday_type = user.birthdayType;
      account.is_leap_month = false;
    }
  }
  if (selected('kakao_account.gender')) {
    account.gender_needs_agreement = needs('gender');
    if (agreed('gender')) account.gender = user.gender;
  }
  if (selected('kakao_account.phone_number')) {
    account.phone_number_needs_agreement = needs('phone_number');
    if (agreed('phone_number')) account.phone_number = user.phoneNumber;
  }
  for (const key of Object.keys(account)) if (account[key] === undefined) delete account[key];
  return account;
}

/** One user as `/v2/user/me` and `/v2/app/users` show it. */
function userDocument(
  rt: Runtime,
  user: UserRecord,
  keys: readonly string[] | undefined,
): Record<string, unknown> {
  const selected = selector(keys);
  const properties = Object.fromEntries(
    Object.entries(user.properties ?? {}).filter(([name]) => selected(`properties.${name}`)),
  );
  const account = kakaoAccount(rt, user, selected);
  if (user.hasSignedUp === false) {
    // A preregistered user shows only the id, the profile and the e-mail until the app calls signup.
    for (const key of Object.keys(account)) {
      if (!/^(profile|profile_nickname|profile_image)(_needs_agreement)?$|email/.test(key))
        delete account[key];
    }
  }
  return {
    id: new RawJsonInteger(user.id),
    has_signed_up: user.hasSignedUp,
    connected_at: user.connectedAt,
    properties: Object.keys(properties).length > 0 && user.hasSignedUp !== false ? properties : undefined,
    kakao_account: keys !== undefined && Object.keys(account).length === 0 ? undefined : account,
  };
}

/**
 * `GET|POST /v2/user/me`. `secure_resource` is accepted but image URLs always use the emulator's own origin,
 * the only place that serves them.
 */
export function userMe(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'GET' && inc.method !== 'POST') return methodNotAllowed('GET, POST');
  const principal = authenticate(inc, rt, true);
  if ('status' in principal) return principal;
  const keys = propertyKeys(allParams(inc));
  if (keys === null) return kapiError(400, -2, 'property_keys must be a JSON array of strings');
  return jsonReply(200, userDocument(rt, principal.user, keys));
}

/** `POST /v1/user/logout`: Bearer expires that token (and its refresh token); admin key expires all the user's. */
export function logout(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'POST') return methodNotAllowed('POST');
  const principal = authenticate(inc, rt, true);
  if ('status' in principal) return principal;
  if (principal.accessToken === undefined) {
    rt.state.revokeUserTokens(principal.user.id);
  } else {
    const refreshToken = rt.state.findAccessToken(principal.accessToken)?.record.refreshToken;
    rt.state.revokeAccessToken(principal.accessToken);
    if (refreshToken !== undefined) rt.state.revokeRefreshToken(refreshToken);
  }
  return jsonReply(200, { id: new RawJsonInteger(principal.user.id) });
}

/** `POST /v1/user/unlink`: consents and tokens revoked. App-initiated, so no webhook. */
export function unlink(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'POST') return methodNotAllowed('POST');
  const principal = authenticate(inc, rt, true);
  if ('status' in principal) return principal;
  rt.state.unlink(principal.user);
  return jsonReply(200, { id: new RawJsonInteger(principal.user.id) });
}

/** `GET /v1/user/access_token_info`. */
export function accessTokenInfo(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'GET') return methodNotAllowed('GET');
  const principal = authenticate(inc, rt, false);
  if ('status' in principal) return principal;
  const record = rt.state.findAccessToken(principal.accessToken ?? '')?.record;
  const expiresIn = record ? Math.max(0, Math.floor((record.expiresAt - rt.state.now()) / 1000)) : 0;
  return jsonReply(200, {
    id: new RawJsonInteger(principal.user.id),
    expires_in: expiresIn,
    app_id: rt.settings.appId,
  });
}

/** `GET /v1/user/ids`: linked user ids, paged, admin key only, 100 calls per minute. */
export function userIds(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'GET') return methodNotAllowed('GET');
  const denied = authenticateApp(inc, rt);
  if (denied) return denied;
  if (!rt.state.admitAppCall('user_ids', 100, 60_000))
    return kapiError(429, -10, 'API limit has been exceeded.');
  const p = allParams(inc);
  const limitParam = param(p, 'limit') ?? '100';
  const limit = /^\d{1,3}$/.test(limitParam) ? Number(limitParam) : NaN;
  if (!(limit >= 1 && limit <= 100)) return kapiError(400, -2, 'limit must be from 1 to 100');
  const order = param(p, 'order') ?? 'asc';
  if (order !== 'asc' && order !== 'desc') return kapiError(400, -2, 'order must be asc or desc');
  const fromParam = param(p, 'from_id');
  if (fromParam !== undefined && !isUserId(fromParam)) return kapiError(400, -2, 'from_id must be a user id');
  const sign = order === 'asc' ? 1 : -1;
  const ids = [...rt.state.users.values()]
    .filter((user) => user.linked)
    .map((user) => BigInt(user.id))
    .sort((a, b) => (a < b ? -sign : a > b ? sign : 0));
  const from = fromParam === undefined ? undefined : BigInt(fromParam);
  // Whether from_id itself is included is not documented: a knob, tested both ways.
  const inclusive = rt.settings.userIdsFromIdInclusive;
  const after =
    from === undefined
      ? ids
      : ids.filter((id) =>
          order === 'asc' ? id > from || (inclusive && id === from) : id < from || (inclusive && id === from),
        );
  const page = after.slice(0, limit);
  const base = `${rt.origin}/v1/user/ids?limit=${limit}`;
  const last = page[page.length - 1];
  const first = page[0];
  const hasBefore = from !== undefined && after.length < ids.length;
  return jsonReply(200, {
    elements: page.map((id) => new RawJsonInteger(id.toString())),
    before_url:
      hasBefore && first !== undefined
        ? `${base}&order=${order === 'asc' ? 'desc' : 'asc'}&from_id=${first}`
        : null,
    after_url: after.length > limit && last !== undefined ? `${base}&order=${order}&from_id=${last}` : null,
  });
}

/** `GET /v2/app/users`: several users at once, admin key only. */
export function appUsers(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'GET') return methodNotAllowed('GET');
  const denied = authenticateApp(inc, rt);
  if (denied) return denied;
  const p = allParams(inc);
  if (param(p, 'target_id_type') !== 'user_id') return kapiError(400, -2, 'target_id_type must be user_id');
  const raw = param(p, 'target_ids') ?? '';
  // Parsed by hand: JSON.parse would round 19-digit ids.
  if (!/^\[\s*(?:"?\d{1,19}"?\s*(?:,\s*"?\d{1,19}"?\s*)*)?\]$/.test(raw)) {
    return kapiError(400, -2, 'target_ids must be a JSON array of user ids');
  }
  const targetIds = [...new Set(raw.match(/\d+/g) ?? [])];
  const keys = propertyKeys(p);
  if (keys === null) return kapiError(400, -2, 'property_keys must be a JSON array of strings');
  const max = keys === undefined ? 100 : 20;
  if (targetIds.length === 0 || targetIds.length > max) {
    return kapiError(400, -2, `target_ids must hold 1 to ${max} ids`);
  }
  const users = targetIds
    .map((id) => rt.state.users.get(id))
    .filter((user): user is UserRecord => user !== undefined && user.linked)
    .map((user) => userDocument(rt, user, keys));
  return jsonReply(200, rt.settings.appUsersShape === 'elements' ? { elements: users } : users);
}

/** `GET|POST /v1/oidc/userinfo`: standard claims, `sub` as a string. */
export function oidcUserInfo(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'GET' && inc.method !== 'POST') return methodNotAllowed('GET, POST');
  const principal = authenticate(inc, rt, false);
  if ('status' in principal) return principal;
  if (!rt.settings.oidc || !principal.scopes.includes('openid')) {
    return kapiError(403, -3, 'OpenID Connect is not enabled for this app or this token');
  }
  const user = principal.user;
  const agreed = (item: string): boolean => user.agreedScopes.includes(item);
  let birthdate: string | undefined;
  const year = agreed('birthyear') ? user.birthyear : undefined;
  const day =
    agreed('birthday') && user.birthday
      ? `${user.birthday.slice(0, 2)}-${user.birthday.slice(2)}`
      : undefined;
  if (year && day) birthdate = `${year}-${day}`;
  else if (day) birthdate = `0000-${day}`;
  else if (year) birthdate = year;
  const email = agreed('account_email') ? user.email : undefined;
  const phone = agreed('phone_number') ? user.phoneNumber : undefined;
  return jsonReply(200, {
    sub: user.id,
    name: agreed('name') ? user.name : undefined,
    nickname: agreed('profile_nickname') ? user.nickname : undefined,
    picture: agreed('profile_image') ? avatarUrl(rt, user, 110) : undefined,
    email,
    email_verified: email === undefined ? undefined : user.emailValid === true && user.emailVerified === true,
    gender: agreed('gender') && user.gender ? genderCase(rt, user.gender) : undefined,
    birthdate,
    phone_number: phone,
    phone_number_verified: phone === undefined ? undefined : true,
  });
}

/** Kakao's docs disagree on the case of `gender` in OIDC user info; the emulator follows the knob. */
function genderCase(rt: Runtime, gender: string): string {
  return rt.settings.oidcGenderCase === 'upper' ? gender.toUpperCase() : gender;
}
