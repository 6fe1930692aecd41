/** Same-origin check for state-changing POSTs such as logout. Pure: takes headers, not a request. */

/**
 * True when a POST may proceed: `Origin` equals the app origin, or neither `Origin` nor
 * `Sec-Fetch-Site` was sent (non-browser clients). `Origin: null`, any other origin, and a
 * `Sec-Fetch-Site` other than `same-origin`/`none` are refused.
 */
export function isSameOriginPost(
  headers: { origin?: string | string[] | undefined; 'sec-fetch-site'?: string | string[] | undefined },
  appOrigin: string,
): boolean {
  const origin = headers.origin;
  const site = headers['sec-fetch-site'];
  if (Array.isArray(origin) || Array.isArray(site)) return false;
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  if (origin !== undefined && origin !== appOrigin) return false;
  return true;
}
