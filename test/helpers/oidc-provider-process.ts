import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';

/** An RSA signing key in the forms the tests need: for the provider (private JWK) and for re-signing. */
export interface TestSigningKey {
  kid: string;
  privateKey: KeyObject;
  /** Private JWK with `kid`, `alg: RS256`, `use: sig`, as oidc-provider's `jwks` option wants it. */
  privateJwk: JsonWebKey;
}

/** A fresh 2048-bit RSA key. */
export function generateSigningKey(kid: string): TestSigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    privateKey,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
  };
}

/** What the provider process is started with (see oidc-provider.mjs). */
export interface OidcProviderConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /** Signing keys; the first one signs. */
  keys: TestSigningKey[];
}

/** A running oidc-provider child process. */
export interface RunningOidcProvider {
  /** Where it listens (the issuer may be a proxy in front of it). */
  url: string;
  /** Replaces the signing keys (the first one signs); the provider's JWKS publishes all of them. */
  setKeys(keys: TestSigningKey[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts test/helpers/oidc-provider.mjs (oidc-provider is ESM-only, jest here runs CommonJS) and resolves
 * once it listens.
 * @throws Error when the process exits or stays silent for 20 s.
 */
export async function startOidcProvider(config: OidcProviderConfig): Promise<RunningOidcProvider> {
  const json = (keys: TestSigningKey[]): unknown[] => keys.map((key) => key.privateJwk);
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'oidc-provider.mjs')], {
    env: {
      ...process.env,
      OIDC_PROVIDER_CONFIG: JSON.stringify({ ...config, keys: json(config.keys) }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start: ${stderr}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('{"url"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oidc-provider exited with ${String(code)}: ${stderr}`));
    });
  });
  return {
    url,
    async setKeys(keys) {
      const res = await fetch(`${url}/_test/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ keys: json(keys) }),
      });
      if (res.status !== 204) throw new Error(`oidc-provider refused the keys: ${await res.text()}`);
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
