/**
 * OpenID Connect pieces of the emulator: RS256 signing keys (made on first use, rotatable), the JWKS,
 * ID tokens (good ones, or one of the {@link EmulatorIdTokenFault} variants) and their verification for
 * `/oauth/tokeninfo`.
 */
import {
  createHash,
  createHmac,
  generateKeyPair,
  randomBytes,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import type { EmulatorIdTokenFault } from './types';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Every {@link EmulatorIdTokenFault}, for validation. */
export const ID_TOKEN_FAULTS: readonly EmulatorIdTokenFault[] = Object.freeze([
  'bad_signature',
  'alg_none',
  'hs256',
  'wrong_iss',
  'wrong_aud',
  'multiple_aud_without_azp',
  'missing_iat',
  'iat_too_old',
  'expired',
  'missing_sub',
  'other_sub',
  'wrong_nonce',
  'missing_nonce',
  'wrong_at_hash',
  'kid_absent',
  'unknown_kid',
  'jku_header',
] as EmulatorIdTokenFault[]);

/** Old keys stay published this many at most (current key included) when rotating with `keepOld`. */
const MAX_PUBLISHED_KEYS = 3;

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JsonWebKey;
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const exported = publicKey.export({ format: 'jwk' });
  const kid = createHash('sha256')
    .update(`${exported.n ?? ''}.${exported.e ?? ''}`)
    .digest('base64url')
    .slice(0, 16);
  return {
    kid,
    privateKey,
    publicKey,
    jwk: { kty: 'RSA', kid, alg: 'RS256', use: 'sig', n: exported.n, e: exported.e },
  };
}

/** What an ID token is issued with, besides its claims. */
export interface IdTokenContext {
  /** The access token issued alongside (for `at_hash` faults). */
  accessToken: string;
  /** The HMAC key of the `hs256` fault: the client secret, else the client id. */
  hmacSecret: string;
}

/** The emulator's ID-token signing keys; generated lazily because RSA generation takes a moment. */
export class OidcKeys {
  private current: Promise<SigningKey> | undefined;
  private published: SigningKey[] = [];
  /** A key that is never published: signs the `bad_signature` and `unknown_kid` variants. */
  private rogue: Promise<SigningKey> | undefined;
  /** The variant the next ID tokens are issued as; `undefined` for good tokens. */
  fault: EmulatorIdTokenFault | undefined;

  private signingKey(): Promise<SigningKey> {
    this.current ??= newSigningKey().then((key) => {
      this.published = [key];
      return key;
    });
    return this.current;
  }

  /**
   * Signs with a new key from now on. `keepOld` keeps the previous keys in the JWKS (a graceful
   * rotation); otherwise only the new key is published.
   */
  async rotate(keepOld: boolean): Promise<void> {
    await this.signingKey();
    const next = await newSigningKey();
    this.current = Promise.resolve(next);
    this.published = keepOld ? [...this.published, next].slice(-MAX_PUBLISHED_KEYS) : [next];
  }

  /** `{ keys: [...] }` as served at `/.well-known/jwks.json`. */
  async jwks(): Promise<{ keys: JsonWebKey[] }> {
    await this.signingKey();
    return { keys: this.published.map((key) => key.jwk) };
  }

  /** Signs claims as a compact RS256 JWT with the current key. */
  async sign(claims: Record<string, unknown>): Promise<string> {
    const key = await this.signingKey();
    return signRs256({ kid: key.kid, typ: 'JWT', alg: 'RS256' }, claims, key.privateKey);
  }

  /** An ID token for these claims: a good one, or the variant `fault` asks for. */
  async issue(claims: Record<string, unknown>, context: IdTokenContext): Promise<string> {
    const fault = this.fault;
    if (fault === undefined) return this.sign(claims);
    const key = await this.signingKey();
    const header: Record<string, unknown> = { kid: key.kid, typ: 'JWT', alg: 'RS256' };
    const body: Record<string, unknown> = { ...claims };
    const iat = typeof claims.iat === 'number' ? claims.iat : Math.floor(Date.now() / 1000);
    let signer = key.privateKey;
    switch (fault) {
      case 'bad_signature':
        // Right kid, wrong key: only the signature check can catch it.
        signer = (await this.rogueKey()).privateKey;
        break;
      case 'alg_none':
        return `${base64urlJson({ typ: 'JWT', alg: 'none' })}.${base64urlJson(body)}.`;
      case 'hs256': {
        const input = `${base64urlJson({ ...header, alg: 'HS256' })}.${base64urlJson(body)}`;
        return `${input}.${createHmac('sha256', context.hmacSecret).update(input).digest('base64url')}`;
      }
      case 'wrong_iss':
        body.iss = 'https://kauth.kakao.com.evil.example';
        break;
      case 'wrong_aud':
        body.aud = 'another-rest-api-key';
        break;
      case 'multiple_aud_without_azp':
        body.aud = [claims.aud, 'another-rest-api-key'];
        delete body.azp;
        break;
      case 'missing_iat':
        delete body.iat;
        break;
      case 'iat_too_old':
        body.iat = iat - 3600;
        body.exp = iat + 3600;
        break;
      case 'expired':
        body.iat = iat - 300;
        body.exp = iat - 120;
        break;
      case 'missing_sub':
        delete body.sub;
        break;
      case 'other_sub':
        body.sub = '9000000009';
        break;
      case 'wrong_nonce':
        body.nonce = randomBytes(16).toString('base64url');
        break;
      case 'missing_nonce':
        delete body.nonce;
        break;
      case 'wrong_at_hash':
        body.at_hash = createHash('sha256')
          .update(`not-${context.accessToken}`)
          .digest()
          .subarray(0, 16)
          .toString('base64url');
        break;
      case 'kid_absent':
        delete header.kid;
        break;
      case 'unknown_kid':
        header.kid = randomBytes(8).toString('base64url');
        signer = (await this.rogueKey()).privateKey;
        break;
      case 'jku_header':
        header.jku = 'https://attacker.example/.well-known/jwks.json';
        break;
    }
    return signRs256(header, body, signer);
  }

  private rogueKey(): Promise<SigningKey> {
    this.rogue ??= newSigningKey();
    return this.rogue;
  }

  /** The claims of a JWT this emulator signed with a published key, or `undefined` (expiry is the caller's). */
  async verify(token: string): Promise<Record<string, unknown> | undefined> {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    await this.signingKey();
    try {
      const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
      const key = this.published.find((candidate) => candidate.kid === head.kid);
      if (head.alg !== 'RS256' || !key) return undefined;
      if (
        !verify(
          'sha256',
          Buffer.from(`${header}.${payload}`),
          key.publicKey,
          Buffer.from(signature, 'base64url'),
        )
      ) {
        return undefined;
      }
      const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
}

function signRs256(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const input = `${base64urlJson(header)}.${base64urlJson(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** The discovery document, Kakao's content with the emulator's endpoints. */
export function discoveryDocument(issuer: string, origin: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${origin}/oauth/authorize`,
    token_endpoint: `${origin}/oauth/token`,
    userinfo_endpoint: `${origin}/v1/oidc/userinfo`,
    jwks_uri: `${origin}/.well-known/jwks.json`,
    token_endpoint_auth_methods_supported: ['client_secret_post'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    request_uri_parameter_supported: false,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    claims_supported: [
      'iss',
      'aud',
      'sub',
      'auth_time',
      'exp',
      'iat',
      'nonce',
      'nickname',
      'picture',
      'email',
    ],
  };
}
