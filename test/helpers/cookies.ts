/** Cookie-jar helpers for supertest agents (the jar is the `cookiejar` package's, as superagent uses it). */
import { CookieAccessInfo, type CookieJar } from 'cookiejar';

/** A supertest or superagent agent: anything with a cookie jar. */
type WithJar = { jar: CookieJar };

/** Copies every cookie of `from`'s jar into `to`'s (a cloned browser, or cookies planted by an attacker). */
export function copyCookies(from: WithJar, to: WithJar, only?: (name: string) => boolean): void {
  const cookies = from.jar.getCookies(CookieAccessInfo.All).filter((c) => !only || only(c.name));
  to.jar.setCookies(cookies.map((c) => c.toString()));
}

/** The names of the cookies in the jar. */
export function cookieNames(agent: WithJar): string[] {
  return agent.jar
    .getCookies(CookieAccessInfo.All)
    .map((c) => c.name)
    .sort();
}

/** The value of a cookie in the jar, whatever its path. */
export function jarCookie(agent: WithJar, name: string): string | undefined {
  return agent.jar.getCookies(CookieAccessInfo.All).find((c) => c.name === name)?.value;
}

/** The session id inside a signed express-session cookie value (`s:<id>.<signature>`, URL-encoded). */
export function sessionIdOf(cookieValue: string): string {
  const text = decodeURIComponent(cookieValue);
  if (!text.startsWith('s:')) throw new Error('not a signed session cookie');
  return text.slice(2, text.lastIndexOf('.'));
}

/** The `Set-Cookie` lines of a response, as an array. */
export function setCookies(res: { headers: Record<string, unknown> }): string[] {
  const value = res.headers['set-cookie'];
  return Array.isArray(value) ? (value as string[]) : typeof value === 'string' ? [value] : [];
}
