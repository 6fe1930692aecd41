/**
 * A user's logins as RedisTokenStore keeps them: one string per user, one line per login,
 * `<session id> <expiry base 36>|<sealed>`. For tests that look at (or tamper with) the stored layout
 * through an inspector client.
 */
interface StringClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, keepTtl: 'KEEPTTL'): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

/** The user key's logins: session id → `<expiry>|<sealed>` (expired lines included, as stored). */
export async function storedLogins(redis: StringClient, key: string): Promise<Record<string, string>> {
  const text = await redis.get(key);
  const logins: Record<string, string> = {};
  for (const line of (text ?? '').split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) logins[line.slice(0, space)] = line.slice(space + 1);
  }
  return logins;
}

/** Writes the logins back (keeping the key's TTL), or deletes the key when none is left. */
export async function writeLogins(
  redis: StringClient,
  key: string,
  logins: Record<string, string>,
): Promise<void> {
  const lines = Object.entries(logins).map(([sessionId, value]) => `${sessionId} ${value}`);
  if (lines.length === 0) await redis.del(key);
  else await redis.set(key, lines.join('\n'), 'KEEPTTL');
}

/** One login's stored value, or null. */
export async function loginValue(
  redis: StringClient,
  key: string,
  sessionId: string,
): Promise<string | null> {
  return (await storedLogins(redis, key))[sessionId] ?? null;
}

/** 1 when the login is stored (expired or not), else 0. */
export async function hasLogin(redis: StringClient, key: string, sessionId: string): Promise<number> {
  return sessionId in (await storedLogins(redis, key)) ? 1 : 0;
}

/** How many logins are stored. */
export async function loginCount(redis: StringClient, key: string): Promise<number> {
  return Object.keys(await storedLogins(redis, key)).length;
}

/** The stored logins' session ids. */
export async function loginIds(redis: StringClient, key: string): Promise<string[]> {
  return Object.keys(await storedLogins(redis, key));
}

/** Writes one login's value (tampering, copying), keeping the others and the key's TTL. */
export async function putLogin(
  redis: StringClient,
  key: string,
  sessionId: string,
  value: string,
): Promise<void> {
  await writeLogins(redis, key, { ...(await storedLogins(redis, key)), [sessionId]: value });
}
