/**
 * OpenID Connect pieces of the emulator: an RS256 signing key (made on first use), the JWKS, ID tokens
 * and their verification for `/oauth/tokeninfo`.
 */
import { createHash, generateKeyPair, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JsonWebKey;
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The emulator's ID-token signing key; generated lazily because RSA generation takes a moment. */
export class OidcKeys {
  private key: Promise<SigningKey> | undefined;

  private get(): Promise<SigningKey> {
    this.key ??= generateKeyPairAsync('rsa', { modulusLength: 2048 }).then(({ privateKey, publicKey }) => {
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
    });
    return this.key;
  }

  /** `{ keys: [...] }` as served at `/.well-known/jwks.json`. */
  async jwks(): Promise<{ keys: JsonWebKey[] }> {
    return { keys: [(await this.get()).jwk] };
  }

  /** Signs claims as a compact RS256 JWT. */
  async sign(claims: Record<string, unknown>): Promise<string> {
    const key = await this.get();
    const input = `${base64urlJson({ kid: key.kid, typ: 'JWT', alg: 'RS256' })}.${base64urlJson(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
  }

  /** The claims of a JWT this emulator signed, or `undefined` when malformed or forged (expiry is the caller's). */
  async verify(token: string): Promise<Record<string, unknown> | undefined> {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    const key = await this.get();
    try {
      const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
      if (head.alg !== 'RS256' || head.kid !== key.kid) return undefined;
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
