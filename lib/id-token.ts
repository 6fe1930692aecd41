/**
 * OpenID Connect ID-token verification (OIDC Core 3.1.3.7, stricter where it matters): RS256 only,
 * keys from one JWKS URL selected by `kid`, exact `iss`, `aud`/`azp`, time claims with a bounded skew,
 * `nonce`, `sub` and `at_hash`. `jose` checks the signature and the registered claims (`iss`, `aud`,
 * `exp`, `iat`, `nbf`); the strict parsing before it, key selection and the OIDC checks after it are
 * done here, and every rejection has a stable reason code.
 */
import { createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { configError, requireAbsoluteUrl, requireString } from './config';
import { IdTokenError } from './errors';
import { JwksCache } from './jwks';
import { safeEqual } from './pkce';
import { isPlainObject } from './util';

/**
 * Why an ID token was rejected (`IdTokenError.reason`). `missing` is also used by the strategy when
 * the token response has no `id_token`.
 */
export type IdTokenRejection =
  | 'missing'
  | 'malformed'
  | 'alg'
  | 'header'
  | 'kid'
  | 'signature'
  | 'iss'
  | 'aud'
  | 'azp'
  | 'exp'
  | 'iat'
  | 'nbf'
  | 'auth_time'
  | 'nonce'
  | 'sub'
  | 'at_hash';

/** Options of {@link createIdTokenVerifier}. */
export interface IdTokenVerifierOptions {
  /** Expected `iss`, compared exactly (no normalization). Kakao: `https://kauth.kakao.com`. Required. */
  issuer: string;
  /** Expected audience: the REST API key. Required. */
  clientID: string;
  /** Where the signing keys are, the only source of keys. Kakao: `https://kauth.kakao.com/.well-known/jwks.json`. Required. */
  jwksUri: string;
  /**
   * A fetch implementation for the JWKS. Default: none, which means the library's shared keep-alive
   * node:http(s) transport (the same one `KakaoClient` uses).
   */
  fetch?: typeof globalThis.fetch;
  /** Timeout of a JWKS fetch in ms, from connecting to the last byte. Default 5000. */
  timeoutMs?: number;
  /** Allowed clock skew in seconds, from 0 to 60. Default 60. */
  clockToleranceSec?: number;
  /** Maximum age of `iat` in seconds. Default 600. */
  maxAgeSec?: number;
  /** Audiences other than `clientID` a token may also name (then `azp` must be `clientID`). Default none. */
  trustedAudiences?: readonly string[];
  /** How long a fetched JWKS is used before it is fetched again, in ms. Default 600000 (10 minutes). */
  jwksMaxAgeMs?: number;
  /**
   * Least time between JWKS fetches caused by an unknown `kid`, in ms, so tokens with random `kid`s
   * cannot make the app hammer the provider. Scheduled fetches (when the cached set is older than
   * `jwksMaxAgeMs`) do not count: a `kid` published just after one is fetched at once. A failed
   * scheduled fetch is retried after the same time, keeping the last good set meanwhile. Default 30000.
   */
  jwksCooldownMs?: number;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
}

/** The claims of a verified ID token. */
export interface IdTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  auth_time?: number;
  nonce?: string;
  azp?: string;
  at_hash?: string;
  nickname?: string;
  picture?: string;
  email?: string;
  [claim: string]: unknown;
}

/** Verifies ID tokens against one issuer and audience. */
export interface IdTokenVerifier {
  /**
   * Verifies a compact JWS ID token and returns its claims.
   *
   * @param expected.nonce - The nonce sent with the authorization request; when given the token must carry
   *   it, when omitted the token must carry none.
   * @param expected.accessToken - The access token issued with the ID token, checked against `at_hash`.
   * @throws IdTokenError with a reason code ({@link IdTokenRejection}) when the token is rejected.
   * @throws KakaoResponseError (operation `jwks`) when the JWKS cannot be fetched or is unusable.
   */
  verify(
    idToken: string,
    expected: { nonce?: string | undefined; accessToken?: string },
  ): Promise<IdTokenClaims>;
}

const WHAT = 'createIdTokenVerifier';
/** Far above any real ID token (Kakao's are about 1 KB) and small enough to parse cheaply. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
/**
 * Headers that point at keys or change how the token is processed. Keys come only from the configured
 * JWKS, so a token naming its own key source is hostile or broken either way.
 */
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c', 'crit'] as const;
const SUB = /^[\x21-\x7e]{1,255}$/;
/** The registered claims `jose` checks, which keep their own reason codes. */
const JOSE_CLAIMS: ReadonlySet<string> = new Set(['iss', 'aud', 'exp', 'iat', 'nbf']);

function reject(reason: IdTokenRejection): never {
  throw new IdTokenError(reason);
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * True when some JSON object in `text` repeats a member name. `JSON.parse` keeps the last one silently,
 * and two parsers disagreeing on which one counts is a classic signature-bypass ingredient.
 * `text` must already be valid JSON.
 */
function hasDuplicateKeys(text: string): boolean {
  // One entry per open container: the names seen so far for an object, `null` for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const names = stack[stack.length - 1];
      if (expectKey && names) {
        // Decoded, so "a" and "\u0061" count as the same name.
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return true;
        names.add(name);
      }
      expectKey = false;
      i = end;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return false;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one base64url JSON-object segment, strictly: canonical base64url, UTF-8, no duplicate names. */
function decodeSegment(segment: string): Record<string, unknown> {
  const bytes = Buffer.from(segment, 'base64url');
  // Buffer's decoder ignores stray trailing bits; re-encoding exposes a non-canonical segment.
  if (bytes.toString('base64url') !== segment) reject('malformed');
  let text: string;
  let value: unknown;
  try {
    text = utf8.decode(bytes);
    value = JSON.parse(text);
  } catch {
    reject('malformed');
  }
  if (!isPlainObject(value) || hasDuplicateKeys(text)) reject('malformed');
  return value;
}

/** The reason code of a `jose` rejection. */
function joseRejection(error: unknown): IdTokenRejection {
  if (error instanceof joseErrors.JWTClaimValidationFailed || error instanceof joseErrors.JWTExpired) {
    if (JOSE_CLAIMS.has(error.claim)) return error.claim as IdTokenRejection;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'alg';
  if (error instanceof joseErrors.JOSENotSupported) return 'header';
  return 'malformed';
}

function optionalInt(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw configError(`${WHAT}: "${name}" must be an integer from ${min} to ${max} (got ${String(value)}).`);
  }
  return value;
}

/**
 * Creates an ID-token verifier for one issuer, client and JWKS URL. The JWKS is fetched on first use.
 *
 * Checks, in order: size (16 KiB) and shape (three canonical base64url segments, JSON objects without
 * duplicate names); `alg` is `RS256`; no `jku`, `x5u`, `jwk`, `x5c` or `crit` header; the key by `kid`
 * (absent `kid`: the only usable key); the signature; `iss`; `aud` (and `azp`); `exp`, `iat`, `nbf`,
 * `auth_time`; `nonce`; `sub`; `at_hash` when present.
 *
 * @example
 * ```ts
 * declare const tokens: { id_token: string; access_token: string }; // the token response of the login
 * declare const nonce: string; // the nonce sent to the authorize endpoint
 * const verifier = createIdTokenVerifier({
 *   issuer: 'https://kauth.kakao.com',
 *   clientID: process.env.KAKAO_CLIENT_ID!,
 *   jwksUri: 'https://kauth.kakao.com/.well-known/jwks.json',
 * });
 * const claims = await verifier.verify(tokens.id_token, { nonce, accessToken: tokens.access_token });
 * ```
 * @throws TypeError (code `ERR_INVALID_ARG_VALUE`) when an option is missing or malformed.
 */
export function createIdTokenVerifier(options: IdTokenVerifierOptions): IdTokenVerifier {
  if (typeof options !== 'object' || options === null) {
    throw configError(`${WHAT}: options are required: { issuer, clientID, jwksUri }.`);
  }
  const issuer = requireString(WHAT, 'issuer', options.issuer, 'such as https://kauth.kakao.com');
  const clientID = requireString(WHAT, 'clientID', options.clientID, 'the REST API key');
  const jwksUri = requireAbsoluteUrl(
    WHAT,
    'jwksUri',
    options.jwksUri,
    'such as https://kauth.kakao.com/.well-known/jwks.json',
  );
  const skew = optionalInt('clockToleranceSec', options.clockToleranceSec, 60, 0, 60);
  const maxAge = optionalInt('maxAgeSec', options.maxAgeSec, 600, 1, 86_400);
  const timeoutMs = optionalInt('timeoutMs', options.timeoutMs, 5000, 1, 60_000);
  const jwksMaxAgeMs = optionalInt('jwksMaxAgeMs', options.jwksMaxAgeMs, 600_000, 1, 86_400_000);
  const jwksCooldownMs = optionalInt('jwksCooldownMs', options.jwksCooldownMs, 30_000, 0, 86_400_000);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw configError(`${WHAT}: "fetch" must be a fetch function.`);
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw configError(`${WHAT}: "now" must be a function returning milliseconds.`);
  }
  const trusted = new Set<string>();
  for (const audience of options.trustedAudiences ?? []) {
    trusted.add(requireString(WHAT, 'trustedAudiences', audience, 'client ids'));
  }
  const now = options.now ?? Date.now;
  const keys = new JwksCache({
    url: jwksUri,
    fetch: options.fetch,
    timeoutMs,
    maxAgeMs: jwksMaxAgeMs,
    cooldownMs: jwksCooldownMs,
    now,
    onUnknownKid: () => reject('kid'),
  });

  async function verify(
    idToken: string,
    expected: { nonce?: string | undefined; accessToken?: string },
  ): Promise<IdTokenClaims> {
    if (typeof idToken !== 'string' || idToken === '') reject('missing');
    if (idToken.length > MAX_TOKEN_LENGTH) reject('malformed');
    const parts = idToken.split('.');
    if (parts.length !== 3) reject('malformed');
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    if (!SEGMENT.test(headerPart) || !SEGMENT.test(payloadPart) || !/^[A-Za-z0-9_-]*$/.test(signaturePart)) {
      reject('malformed');
    }
    const header = decodeSegment(headerPart);
    if (header.alg !== 'RS256') reject('alg');
    if (FORBIDDEN_HEADERS.some((name) => Object.hasOwn(header, name))) reject('header');
    if (header.kid !== undefined && typeof header.kid !== 'string') reject('header');
    const claims = decodeSegment(payloadPart);

    const key = await keys.select(header.kid);
    try {
      await jwtVerify(idToken, key, {
        algorithms: ['RS256'],
        issuer,
        audience: clientID,
        requiredClaims: ['exp'],
        clockTolerance: skew,
        maxTokenAge: maxAge,
        currentDate: new Date(now()),
      });
    } catch (error) {
      reject(joseRejection(error));
    }

    // jose has checked that `aud` contains the client; OIDC Core adds the rules for several audiences.
    const aud = claims.aud as string | string[];
    const audiences = typeof aud === 'string' ? [aud] : aud;
    if (audiences.length > 1 && claims.azp === undefined) reject('azp');
    if (claims.azp !== undefined && claims.azp !== clientID) reject('azp');
    if (audiences.some((a) => a !== clientID && !trusted.has(a))) reject('aud');

    if (claims.auth_time !== undefined && !isNumber(claims.auth_time)) reject('auth_time');

    if (expected.nonce !== undefined) {
      if (typeof claims.nonce !== 'string' || !safeEqual(claims.nonce, expected.nonce)) reject('nonce');
    } else if (claims.nonce !== undefined) {
      // A nonce nobody asked for means the token belongs to another login (replay or injection).
      reject('nonce');
    }

    if (typeof claims.sub !== 'string' || !SUB.test(claims.sub)) reject('sub');

    if (claims.at_hash !== undefined) {
      if (typeof claims.at_hash !== 'string') reject('at_hash');
      if (expected.accessToken !== undefined) {
        // RS256 → SHA-256; at_hash is the base64url of the digest's left half.
        const digest = createHash('sha256').update(expected.accessToken, 'ascii').digest();
        if (!safeEqual(digest.subarray(0, 16).toString('base64url'), claims.at_hash)) reject('at_hash');
      }
    }
    return claims as IdTokenClaims;
  }

  return { verify };
}
