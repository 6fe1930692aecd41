/** Same-origin check for state-changing POSTs such as logout. Pure: takes headers, not a request. */

/**
 * True when a POST may proceed: `Origin` equals the app origin; or `Origin` is `null` and
 * `Sec-Fetch-Site` is `same-origin` (Chromium sends `Origin: null` on a page's own form posts when the page
 * is served with `Referrer-Policy: no-referrer`, helmet's default); or neither header was sent
 * (non-browser clients). `Origin: null` from anywhere else, any other origin, and a `Sec-Fetch-Site`
 * other than `same-origin`/`none` are refused.
 */
export function isSameOriginPost(
  headers: { origin?: string | string[] | undefined; 'sec-fetch-site'?: string | string[] | undefined },
  appOrigin: string,
): boolean {
  const origin = headers.origin;
  const site = headers['sec-fetch-site'];
  if (Array.isArray(origin) || Array.isArray(site)) return false;
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  if (origin === 'null') return site === 'same-origin';
  if (origin !== undefined && origin !== appOrigin) return false;
  return true;
}
