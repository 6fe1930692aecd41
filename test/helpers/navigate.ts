import http from 'node:http';

/**
 * A GET as a browser's top-level navigation sends it (`Sec-Fetch-Mode: navigate`, `Sec-Fetch-Dest:
 * document`), over node:http: Node's fetch always says `Sec-Fetch-Mode: cors` (the Fetch standard
 * forbids scripts to set `Sec-` headers), which the login start refuses as it should. Redirects are not
 * followed. Resolves to a WHATWG Response, so callers use `status`, `headers.get()`,
 * `headers.getSetCookie()` and `json()` as with fetch.
 */
export function navigate(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const out = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value])
              out.append(name, v);
          }
          const status = res.statusCode ?? 0;
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, headers: out }));
        });
      },
    );
    req.on('error', reject);
  });
}
