/**
 * The signing keys of one JWKS URL for ID-token verification: fetched through the shared transport,
 * filtered to usable RS256 verification keys, cached, and refetched on schedule or for an unknown `kid`
 * within a cooldown.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { KakaoResponseError } from './errors';
import { requestJson, type HttpOptions } from './http';
import { isPlainObject } from './util';

const MAX_JWKS_BYTES = 64 * 1024;
/** A JWKS with more usable keys than this is cut: a provider rotates a handful, not hundreds. */
const MAX_KEYS = 32;
const MIN_RSA_BITS = 2048;
const JWKS_MEDIA_TYPES: readonly string[] = ['application/json', 'application/jwk-set+json'];

/** How a {@link JwksCache} fetches and how long it keeps what it fetched. */
export interface JwksCacheOptions {
  url: string;
  /** Default: the shared keep-alive node:http(s) transport. */
  fetch: typeof globalThis.fetch | undefined;
  timeoutMs: number;
  /** A set older than this is fetched again on the next use (a scheduled fetch). */
  maxAgeMs: number;
  /** Least time between fetches caused by an unknown `kid`; also the retry delay of a failed scheduled fetch. */
  cooldownMs: number;
  now: () => number;
  /** What `select` does when no usable key matches (throws the caller's rejection). */
  onUnknownKid: () => never;
}

interface UsableKey {
  kid: string | undefined;
  key: KeyObject;
}

/** The usable RS256 verification keys of a JWKS document; unusable entries are skipped, not fatal. */
function usableKeys(body: unknown): UsableKey[] {
  if (!isPlainObject(body) || !Array.isArray(body.keys)) {
    throw new KakaoResponseError({ reason: 'bad_shape', operation: 'jwks', status: 200 });
  }
  const keys: UsableKey[] = [];
  for (const jwk of body.keys as unknown[]) {
    if (keys.length >= MAX_KEYS) break;
    if (!isPlainObject(jwk) || jwk.kty !== 'RSA') continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.alg !== undefined && jwk.alg !== 'RS256') continue;
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
      continue;
    if (jwk.kid !== undefined && typeof jwk.kid !== 'string') continue;
    if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
    } catch {
      continue;
    }
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) continue;
    keys.push({ kid: jwk.kid, key });
  }
  return keys;
}

/** GETs the JWKS through the shared transport: no redirects, one deadline, a size cap, JSON only. */
async function fetchJwks(url: string, http: HttpOptions): Promise<unknown> {
  const operation = 'jwks';
  const response = await requestJson(
    operation,
    url,
    { method: 'GET', jsonMediaTypes: JWKS_MEDIA_TYPES },
    http,
  );
  if (response.status !== 200) {
    throw new KakaoResponseError({ reason: 'http_status', operation, status: response.status });
  }
  if (response.body === undefined) {
    throw new KakaoResponseError({ reason: 'non_json', operation, status: 200 });
  }
  return response.body;
}

/**
 * One cached JWKS (only the latest is kept), fetched again when older than `maxAgeMs` (a scheduled
 * fetch) and, for an unknown `kid`, at most once per `cooldownMs`, with one fetch in flight at a time.
 * Only fetches caused by an unknown `kid` (and the very first one) start the cooldown, so a key that is
 * rotated right after a scheduled fetch is picked up by the next login, while a flood of random `kid`s
 * still causes one fetch per cooldown.
 */
export class JwksCache {
  private current: { keys: UsableKey[]; fetchedAt: number } | undefined;
  /** Start of the last fetch caused by an unknown `kid` (or the first fetch). */
  private lastKidFetchAt = Number.NEGATIVE_INFINITY;
  /** Start of the last scheduled fetch; a failed one is retried only after `cooldownMs`. */
  private lastScheduledAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;

  private readonly http: HttpOptions;
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;

  constructor(private readonly options: JwksCacheOptions) {
    this.http = { fetch: options.fetch, timeoutMs: options.timeoutMs, maxResponseBytes: MAX_JWKS_BYTES };
    this.maxAgeMs = options.maxAgeMs;
    this.cooldownMs = options.cooldownMs;
    this.now = options.now;
  }

  async select(kid: string | undefined): Promise<KeyObject> {
    await this.ensureFresh();
    let found = this.find(kid);
    if (!found && kid !== undefined) {
      if (this.inflight) {
        // Someone is fetching already (a rotation seen by several logins at once): share it.
        await this.inflight;
        found = this.find(kid);
      } else if (this.now() - this.lastKidFetchAt >= this.cooldownMs) {
        // A rotated key: the provider may have published it after our last fetch.
        this.lastKidFetchAt = this.now();
        await this.refresh();
        found = this.find(kid);
      }
    }
    return found ?? this.options.onUnknownKid();
  }

  private async ensureFresh(): Promise<void> {
    const now = this.now();
    if (this.current && now - this.current.fetchedAt < this.maxAgeMs) return;
    // A stale set beats none while the provider is failing; it is retried after the cooldown.
    if (this.current && now - this.lastScheduledAt < this.cooldownMs) return;
    if (!this.current) this.lastKidFetchAt = now;
    this.lastScheduledAt = now;
    try {
      await this.refresh();
    } catch (error) {
      if (!this.current) throw error;
    }
  }

  private find(kid: string | undefined): KeyObject | undefined {
    const keys = this.current?.keys ?? [];
    // Without a `kid` the choice is only unambiguous when there is a single candidate.
    if (kid === undefined) return keys.length === 1 ? keys[0]!.key : undefined;
    return keys.find((candidate) => candidate.kid === kid)?.key;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    const body = await fetchJwks(this.options.url, this.http);
    this.current = { keys: usableKeys(body), fetchedAt: this.now() };
  }
}
