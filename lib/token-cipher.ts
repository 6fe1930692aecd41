/**
 * AES-256-GCM sealing of tokens at rest, with a key ring (`kid`) and the owner bound as AAD.
 *
 * Envelope: `kt1.<kid>.<iv>.<ciphertext>.<tag>`, every binary part unpadded base64url; the IV is 12
 * random bytes per seal, the tag 16 bytes. The AAD is `kt1|<kid>|<purpose>|<userId>|<sessionId>` (plus
 * `|<name>` when the value is bound to a name, such as a cookie's), so editing the version or the `kid`,
 * or copying a value to another user, session or cookie, breaks the tag.
 *
 * Rotation is by key id: the first key of the ring seals, every key opens. A value sealed under a key id
 * the ring does not know is a different failure from tampering (another process may hold that key).
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { checkOptionNames, configError } from './config';
import { TokenDecryptionError, TokenKeyUnknownError } from './errors';

/** One entry of the key ring. */
export interface TokenCipherKey {
  /** Key id written into every envelope: 1–16 characters of `A-Z a-z 0-9 _ -`. Not secret. */
  kid: string;
  /** Exactly 32 random bytes (from a secret store or KMS, never derived from a password). */
  key: Buffer;
}

/** Who a sealed value belongs to. Every field is authenticated (AAD), none is encrypted or stored. */
export interface SealContext {
  /** What the value is, e.g. `kakao-refresh`; a value sealed for one purpose never opens for another. */
  purpose: string;
  /** The user the value belongs to; absent and `''` are the same. */
  userId?: string;
  /** The login (session) the value belongs to; absent and `''` are the same. */
  sessionId?: string;
  /** The name the value is stored under, such as a cookie's name; bound only when given. */
  name?: string;
}

/** Seals and opens strings with the current key of a key ring. */
export interface TokenCipher {
  /** The `kid` that {@link TokenCipher.seal} uses: the first key of the ring. */
  readonly currentKid: string;
  /**
   * Encrypts `plaintext` for `context` with the current key and a fresh random IV.
   *
   * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when `plaintext` is not a string or is larger than 32 KiB
   *   (UTF-8), or when `context` is invalid.
   */
  seal(plaintext: string, context: SealContext): string;
  /**
   * Decrypts an envelope made by {@link TokenCipher.seal} for the same `context`. `stale` is true when
   * it was sealed with another key of the ring than the current one: seal it again and store the new
   * envelope.
   *
   * @throws TokenKeyUnknownError when the envelope is well-formed but sealed under a key id this ring
   *   does not hold (during a key rotation another process may hold it: do not delete the value).
   * @throws TokenDecryptionError on every other failure (tampering, wrong owner, unknown version,
   *   garbage, not a string), with one fixed message and no cause.
   * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when `context` is invalid (a programming mistake).
   */
  open(sealed: string, context: SealContext): { plaintext: string; stale: boolean };
  /**
   * A cipher over subkeys of this ring for another purpose (HKDF-SHA256 with `label` as info): same key
   * ids, same rotation, keys that never open this ring's values.
   */
  derive(label: string): TokenCipher;
}

const VERSION = 'kt1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** Largest plaintext accepted by seal(); its envelope stays well below MAX_ENVELOPE_CHARS. */
const MAX_PLAINTEXT_BYTES = 32 * 1024;
/** Anything longer is rejected before any decoding work. */
const MAX_ENVELOPE_CHARS = 64 * 1024;
const KID_PATTERN = /^[A-Za-z0-9_-]{1,16}$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;
const GENERATE_HINT = `generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;

interface RingEntry {
  readonly kid: string;
  readonly key: KeyObject;
  readonly stale: boolean;
}

/**
 * Creates a cipher over a key ring: the first key seals, every key opens.
 *
 * @param options.keys - The key ring, current key first (no default; see {@link parseKeyRing} and
 *   {@link generateKeyRing}). The buffers are copied: changing them afterwards has no effect.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) for an empty ring, a malformed `kid`, a duplicate `kid` or
 *   a key that is not 32 bytes. The message names the `kid`, never the key.
 * @example
 * ```ts
 * declare const refreshToken: string;
 * const cipher = createTokenCipher({ keys: parseKeyRing(process.env.TOKEN_KEYS ?? '') });
 * const sealed = cipher.seal(refreshToken, { purpose: 'kakao-refresh', userId: '42', sessionId: 'abc' });
 * const { plaintext, stale } = cipher.open(sealed, { purpose: 'kakao-refresh', userId: '42', sessionId: 'abc' });
 * ```
 */
export function createTokenCipher(options: { keys: readonly TokenCipherKey[] }): TokenCipher {
  if (typeof options !== 'object' || options === null) {
    throw configError('createTokenCipher: options must be an object like { keys: parseKeyRing(spec) }.');
  }
  checkOptionNames('createTokenCipher', options, ['keys']);
  const keys = options.keys as unknown;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw configError(
      `createTokenCipher: "keys" must be a non-empty array of { kid, key } (the first key encrypts); ${GENERATE_HINT}`,
    );
  }
  const checked = keys.map((entry: unknown, index) => checkKey(entry, index));
  checked.forEach(({ kid, key }, index) => {
    const twin = checked
      .slice(0, index)
      .find((other) => other.kid === kid || timingSafeEqual(other.key, key));
    if (twin?.kid === kid) {
      throw configError(
        `createTokenCipher: key id "${kid}" appears twice in the key ring; every kid must be unique.`,
      );
    }
    if (twin) {
      throw configError(
        `createTokenCipher: keys "${twin.kid}" and "${kid}" are the same key under two ids; give each kid its own 32 random bytes.`,
      );
    }
  });
  const cipher = ringCipher(
    // createSecretKey copies the bytes, so the ring is immune to later changes of the caller's buffer.
    checked.map(({ kid, key }, index) => ({ kid, key: createSecretKey(key), stale: index !== 0 })),
  );
  return GENERATED_KEYS.has(checked[0]!.key)
    ? Object.freeze(Object.defineProperty({ ...cipher }, FROM_GENERATED_KEY, { value: true }))
    : cipher;
}

function ringCipher(entries: readonly RingEntry[]): TokenCipher {
  const ring = new Map(entries.map((entry) => [entry.kid, entry]));
  const current = entries[0]!;

  return Object.freeze({
    currentKid: current.kid,

    derive(label: string): TokenCipher {
      if (typeof label !== 'string' || label === '') {
        throw configError('TokenCipher.derive: "label" must be a non-empty string naming the purpose.');
      }
      return ringCipher(
        entries.map((entry) => ({
          ...entry,
          key: createSecretKey(
            Buffer.from(hkdfSync('sha256', entry.key.export(), 'kakao-login-express', label, KEY_BYTES)),
          ),
        })),
      );
    },

    seal(plaintext: string, context: SealContext): string {
      if (typeof plaintext !== 'string') {
        throw configError(`TokenCipher.seal: plaintext must be a string (got ${typeof plaintext}).`);
      }
      const data = Buffer.from(plaintext, 'utf8');
      if (data.length > MAX_PLAINTEXT_BYTES) {
        throw configError(
          `TokenCipher.seal: plaintext must be at most ${MAX_PLAINTEXT_BYTES} bytes (got ${data.length}).`,
        );
      }
      const aad = buildAad(current.kid, context, 'TokenCipher.seal');
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad);
      const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [
        VERSION,
        current.kid,
        iv.toString('base64url'),
        ciphertext.toString('base64url'),
        tag.toString('base64url'),
      ].join('.');
    },

    open(sealed: string, context: SealContext): { plaintext: string; stale: boolean } {
      // Context problems are the caller's bug, not a property of the stored record: report them as such.
      const contextParts = checkContext(context, 'TokenCipher.open');
      if (typeof sealed !== 'string' || sealed.length > MAX_ENVELOPE_CHARS) throw new TokenDecryptionError();
      const parts = sealed.split('.');
      if (parts.length !== 5) throw new TokenDecryptionError();
      const [version, kid, ivText, ciphertextText, tagText] = parts as [
        string,
        string,
        string,
        string,
        string,
      ];
      if (version !== VERSION) throw new TokenDecryptionError();
      const entry = ring.get(kid);
      if (entry === undefined) {
        if (KID_PATTERN.test(kid)) throw new TokenKeyUnknownError(kid);
        throw new TokenDecryptionError();
      }
      const iv = decodeCanonical(ivText);
      const ciphertext = decodeCanonical(ciphertextText);
      const tag = decodeCanonical(tagText);
      if (iv?.length !== IV_BYTES || tag?.length !== TAG_BYTES || ciphertext === undefined) {
        throw new TokenDecryptionError();
      }
      let plaintext: Buffer;
      try {
        const decipher = createDecipheriv('aes-256-gcm', entry.key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(joinAad(kid, contextParts));
        decipher.setAuthTag(tag);
        plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      } catch {
        // Deliberately no cause: the one fixed error must not tell an attacker which check failed.
        throw new TokenDecryptionError();
      }
      const text = plaintext.toString('utf8');
      return { plaintext: text, stale: entry.stale };
    },
  });
}

/**
 * Parses a key ring from configuration text: `kid:base64key,kid2:base64key2`, current key first. Keys
 * may be standard base64 (padded or not) or base64url; spaces around entries are ignored.
 *
 * @param spec - The ring, typically from an environment variable such as `KAKAO_TOKEN_KEYS`.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) for every mistake (empty ring, an entry without `kid:`, a
 *   malformed `kid`, a duplicate `kid`, a key that is not base64 or not 32 bytes). The message names
 *   the entry and the `kid`, never the key text.
 * @example
 * ```ts
 * const keys = parseKeyRing('k2:3q2+7w…=,k1:q83vEj…=');
 * ```
 */
export function parseKeyRing(spec: string): TokenCipherKey[] {
  const example = 'expected "kid:base64key,kid2:base64key2" with the current key first';
  if (typeof spec !== 'string') {
    throw configError(`parseKeyRing: the key ring must be a string (got ${typeof spec}); ${example}.`);
  }
  if (spec.trim() === '') {
    throw configError(`parseKeyRing: the key ring is empty; ${example}. For a new key, ${GENERATE_HINT}`);
  }
  const keys: TokenCipherKey[] = [];
  const seen = new Set<string>();
  spec.split(',').forEach((raw, index) => {
    const where = `entry ${index + 1}`;
    const entry = raw.trim();
    if (entry === '') {
      throw configError(`parseKeyRing: ${where} is empty (a stray or trailing comma?); ${example}.`);
    }
    const colon = entry.indexOf(':');
    if (colon === -1) {
      // The entry is probably a bare key: do not echo it.
      throw configError(`parseKeyRing: ${where} has no "kid:" in front of the key; ${example}.`);
    }
    const kid = entry.slice(0, colon).trim();
    const keyText = entry.slice(colon + 1).trim();
    if (!KID_PATTERN.test(kid)) {
      // An invalid kid might be key material written in the wrong order: describe it, never echo it.
      throw configError(
        `parseKeyRing: ${where} has an invalid key id (${kid.length} characters); a kid is 1–16 characters of A-Z, a-z, 0-9, "_" or "-".`,
      );
    }
    if (seen.has(kid)) {
      throw configError(
        `parseKeyRing: key id "${kid}" appears twice in the key ring; every kid must be unique.`,
      );
    }
    seen.add(kid);
    if (keyText === '') {
      throw configError(`parseKeyRing: key "${kid}" has no key after the colon; ${GENERATE_HINT}`);
    }
    if (/^[0-9a-fA-F]{64}$/.test(keyText)) {
      throw configError(
        `parseKeyRing: key "${kid}" looks like hex, but the key ring takes base64; convert it with: node -e "console.log(Buffer.from(process.argv[1], 'hex').toString('base64'))" <hex>`,
      );
    }
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(keyText)) {
      throw configError(
        `parseKeyRing: key "${kid}" is not valid base64 or base64url (it contains other characters); ${GENERATE_HINT}`,
      );
    }
    const key = Buffer.from(keyText.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== KEY_BYTES) {
      throw configError(
        `parseKeyRing: key "${kid}" must be ${KEY_BYTES} bytes (got ${key.length}); ${GENERATE_HINT}`,
      );
    }
    keys.push({ kid, key });
  });
  return keys;
}

/**
 * A key ring of one fresh random key with kid `dev`, for development when no keys are configured.
 * Records sealed with it cannot be opened after a restart.
 */
export function generateKeyRing(): TokenCipherKey[] {
  const key = randomBytes(KEY_BYTES);
  GENERATED_KEYS.add(key);
  return [{ kid: 'dev', key }];
}

/** Keys made by generateKeyRing(), so a cipher built on one can be refused in production. */
const GENERATED_KEYS = new WeakSet<Buffer>();
const FROM_GENERATED_KEY = Symbol('kakao-login-express.generatedKey');

/** True for a cipher whose current key came from {@link generateKeyRing} (a per-process key). */
export function usesGeneratedKey(cipher: TokenCipher): boolean {
  return (cipher as unknown as Record<symbol, unknown>)[FROM_GENERATED_KEY] === true;
}

/**
 * A cipher over keys derived from secrets such as express-session's `secret` (first seals, all
 * open): each secret gives a key id from its digest and a key through HKDF-SHA256 with `label`.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) for an empty list or a secret shorter than 16 characters.
 */
export function cipherFromSecrets(secrets: readonly string[], label: string, what: string): TokenCipher {
  if (secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s.length >= 16)) {
    throw configError(
      `${what}: each secret must be a string of at least 16 characters (use the same secret(s) as express-session, e.g. process.env.SESSION_SECRET).`,
    );
  }
  return ringCipher(
    secrets.map((secret, index) => ({
      kid: `s${createHash('sha256').update(`${label}|${secret}`).digest('base64url').slice(0, 10)}`,
      key: createSecretKey(Buffer.from(hkdfSync('sha256', secret, 'kakao-login-express', label, KEY_BYTES))),
      stale: index !== 0,
    })),
  );
}

function checkKey(entry: unknown, index: number): TokenCipherKey {
  const where = `createTokenCipher: keys[${index}]`;
  if (typeof entry !== 'object' || entry === null) {
    throw configError(`${where} must be an object { kid, key }.`);
  }
  const { kid, key } = entry as { kid?: unknown; key?: unknown };
  if (typeof kid !== 'string' || !KID_PATTERN.test(kid)) {
    const got = typeof kid === 'string' ? `${kid.length} characters` : typeof kid;
    throw configError(
      `${where}.kid must be 1–16 characters of A-Z, a-z, 0-9, "_" or "-" (got ${got}); the kid is written into every envelope.`,
    );
  }
  if (!Buffer.isBuffer(key)) {
    throw configError(
      `${where}: key "${kid}" must be a Buffer of ${KEY_BYTES} bytes (got ${typeof key}); ${GENERATE_HINT}`,
    );
  }
  if (key.length !== KEY_BYTES) {
    throw configError(
      `${where}: key "${kid}" must be ${KEY_BYTES} bytes (got ${key.length}); ${GENERATE_HINT}`,
    );
  }
  return { kid, key };
}

function checkContext(context: SealContext, what: string): readonly string[] {
  if (typeof context !== 'object' || context === null) {
    throw configError(`${what}: context must be an object { purpose, userId?, sessionId?, name? }.`);
  }
  const { purpose, userId, sessionId, name } = context;
  if (typeof purpose !== 'string' || purpose === '') {
    throw configError(`${what}: context.purpose must be a non-empty string such as "kakao-refresh".`);
  }
  for (const [field, value] of [
    ['userId', userId],
    ['sessionId', sessionId],
    ['name', name],
  ] as const) {
    if (value !== undefined && typeof value !== 'string') {
      throw configError(`${what}: context.${field} must be a string when given (got ${typeof value}).`);
    }
  }
  return name ? [purpose, userId ?? '', sessionId ?? '', name] : [purpose, userId ?? '', sessionId ?? ''];
}

function buildAad(kid: string, context: SealContext, what: string): Buffer {
  return joinAad(kid, checkContext(context, what));
}

/**
 * `|` and `%` inside a field are percent-encoded so that the joined AAD is unambiguous: without it,
 * user `a|b` with session `c` and user `a` with session `b|c` would authenticate the same bytes.
 * Fields without those characters appear verbatim, as in the documented format.
 */
function joinAad(kid: string, fields: readonly string[]): Buffer {
  return Buffer.from([VERSION, kid, ...fields.map(escapeField)].join('|'), 'utf8');
}

function escapeField(value: string): string {
  return value.replace(/%/g, '%25').replace(/\|/g, '%7C');
}

/** Decodes unpadded base64url, refusing every text that is not exactly what encoding produces. */
function decodeCanonical(text: string): Buffer | undefined {
  if (!BASE64URL_PATTERN.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
