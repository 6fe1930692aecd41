import http from 'node:http';

/**
 * An HTTP request over node:http that resolves to a WHATWG Response (`status`, `headers.get()`,
 * `headers.getSetCookie()`, `text()`, `json()`), without following redirects. Unlike Node's fetch it
 * sends `Sec-Fetch-*` headers as given: the Fetch standard forbids scripts to set them, so fetch always
 * says `Sec-Fetch-Mode: cors`, which the login start rightly refuses as not a navigation.
 */
export function httpRequest(
  url: string | URL,
  init: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: init.method ?? 'GET', headers: init.headers ?? {}, timeout: init.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value])
              headers.append(name, v);
          }
          const status = res.statusCode ?? 0;
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, headers }));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${init.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A GET as a browser's top-level navigation sends it (`Sec-Fetch-Mode: navigate`, `Sec-Fetch-Dest: document`). */
export function navigate(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return httpRequest(url, {
    headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', ...headers },
  });
}
