import { randomBytes } from 'node:crypto';
import { generateKeyRing, parseKeyRing, type TokenCipherKey } from 'kakao-login-express';
import { parseRedisSettings, type RedisSettings } from './redis';

/** The example app's configuration, read from the environment (see example-app-contract.md). */
export interface AppConfig {
  port: number;
  host: string;
  /** No KAKAO_CLIENT_ID: the built-in emulator plays Kakao. */
  demo: boolean;
  production: boolean;
  clientID: string | undefined;
  clientSecret: string | undefined;
  /** Explicit KAKAO_CALLBACK_URL; undefined means http://localhost:<real port>/auth/kakao/callback. */
  callbackURL: string | undefined;
  /** Consent items sent as `scope` on every login; empty (KAKAO_SCOPES unset) = no `scope` parameter. */
  scopes: string[];
  oidc: boolean;
  authOrigin: string;
  apiOrigin: string;
  adminKey: string | undefined;
  appId: string | undefined;
  /** Where sessions and tokens live (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES); undefined = memory. */
  redis: RedisSettings | undefined;
  sessionSecrets: string[];
  tokenKeys: TokenCipherKey[];
  /** Which secrets were generated because none were configured (development only). */
  generated: { sessionSecret: boolean; tokenKeys: boolean };
  trustProxy: boolean | number | string | undefined;
}

/** A configuration problem; the message lists every problem and how to fix it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function parseTrustProxy(value: string | undefined): AppConfig['trustProxy'] {
  if (value === undefined || value === '') return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/**
 * Reads the environment. In production (`NODE_ENV=production`) it refuses to start without a real
 * Kakao app, Redis, a session secret, token encryption keys and an https callback URL.
 *
 * @throws ConfigError naming every problem and its fix.
 */
export function loadConfig(env: NodeJS.ProcessEnv): AppConfig {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';
  const clientID = env.KAKAO_CLIENT_ID?.trim() || undefined;
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`PORT must be a port number between 0 and 65535 (got "${env.PORT}").`);
  }
  const callbackURL = env.KAKAO_CALLBACK_URL?.trim() || undefined;
  if (callbackURL !== undefined) {
    let ok = false;
    try {
      const url = new URL(callbackURL);
      ok = url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      ok = false;
    }
    if (!ok) {
      problems.push(
        `KAKAO_CALLBACK_URL must be the absolute redirect URI registered in the Kakao console, e.g. https://app.example/auth/kakao/callback (got "${callbackURL}").`,
      );
    }
  }

  const redis = parseRedisSettings(env, problems);
  if (production) {
    if (!clientID)
      problems.push('KAKAO_CLIENT_ID is required in production: the REST API key from Kakao Developers.');
    if (!redis && !problems.some((p) => p.startsWith('REDIS_')))
      problems.push(
        'A Redis is required in production: REDIS_URL (redis://… or rediss://…), REDIS_SENTINELS (host:port,… of the Sentinels) or REDIS_CLUSTER_NODES (host:port,… of some Cluster nodes). Sessions and tokens live there.',
      );
    if (!env.SESSION_SECRET) {
      problems.push(
        'SESSION_SECRET is required in production: one or more comma-separated random strings of 32+ bytes (first signs). Generate: openssl rand -base64 32',
      );
    }
    if (!env.TOKEN_ENCRYPTION_KEYS) {
      problems.push(
        'TOKEN_ENCRYPTION_KEYS is required in production: "kid:base64key" entries, each key 32 random bytes. Generate: echo "k1:$(openssl rand -base64 32)"',
      );
    }
    if (!callbackURL || !callbackURL.startsWith('https://')) {
      problems.push('KAKAO_CALLBACK_URL must be an https:// URL in production (cookies are Secure there).');
    }
  }

  let tokenKeys: TokenCipherKey[] = [];
  if (env.TOKEN_ENCRYPTION_KEYS) {
    try {
      tokenKeys = parseKeyRing(env.TOKEN_ENCRYPTION_KEYS);
    } catch (err) {
      problems.push(`TOKEN_ENCRYPTION_KEYS: ${(err as Error).message}`);
    }
  }
  const sessionSecrets = list(env.SESSION_SECRET);
  if (production && sessionSecrets.some((s) => s.length < 32)) {
    problems.push('SESSION_SECRET entries must each be at least 32 characters in production.');
  }
  if (env.KAKAO_OIDC !== undefined && !['true', 'false', ''].includes(env.KAKAO_OIDC)) {
    problems.push(`KAKAO_OIDC must be "true" or "false" (got "${env.KAKAO_OIDC}").`);
  }

  if (problems.length > 0) {
    throw new ConfigError(`The example app cannot start:\n  - ${problems.join('\n  - ')}`);
  }

  return {
    port,
    host: env.HOST?.trim() || 'localhost',
    demo: !clientID,
    production,
    clientID,
    clientSecret: env.KAKAO_CLIENT_SECRET || undefined,
    callbackURL,
    // Unset: no scope parameter, and Kakao asks for the consent items set up in the console.
    scopes: list(env.KAKAO_SCOPES),
    oidc: env.KAKAO_OIDC === 'true',
    authOrigin: env.KAKAO_AUTH_ORIGIN?.trim() || 'https://kauth.kakao.com',
    apiOrigin: env.KAKAO_API_ORIGIN?.trim() || 'https://kapi.kakao.com',
    adminKey: env.KAKAO_ADMIN_KEY || undefined,
    appId: env.KAKAO_APP_ID?.trim() || undefined,
    redis,
    sessionSecrets: sessionSecrets.length > 0 ? sessionSecrets : [randomBytes(32).toString('base64url')],
    tokenKeys: tokenKeys.length > 0 ? tokenKeys : generateKeyRing(),
    generated: { sessionSecret: sessionSecrets.length === 0, tokenKeys: tokenKeys.length === 0 },
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
  };
}
