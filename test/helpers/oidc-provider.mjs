// An OpenID Provider for conformance tests: panva's certified `oidc-provider`, configured like Kakao
// (authorization code only, PKCE S256 required, client_secret_post, RS256 ID tokens, Kakao's paths).
// It is ESM-only, so it runs in its own process; test/helpers/oidc-provider.ts starts it.
//
// Input: the JSON in OIDC_PROVIDER_CONFIG:
//   { issuer, clientId, clientSecret, redirectUris: [..], keys: [private RSA JWKs with kid] }
// The issuer may be another origin than the listening one (a proxy in front), so the provider builds its
// URLs from the Host header the proxy forwards.
// Output: one JSON line on stdout once listening: { "url": "http://127.0.0.1:<port>" }.
// Control: POST /_test/keys with { keys: [...] } replaces the signing keys (first key signs), which is
// how the tests rotate the provider's keys between logins.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import process from 'node:process';
import Provider from 'oidc-provider';

const input = JSON.parse(process.env.OIDC_PROVIDER_CONFIG ?? '{}');

function createProvider(keys) {
  const provider = new Provider(input.issuer, {
    clients: [
      {
        client_id: input.clientId,
        client_secret: input.clientSecret,
        redirect_uris: input.redirectUris,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_post',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    clientAuthMethods: ['client_secret_post'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    jwks: { keys },
    cookies: { keys: ['conformance-cookie-key-0123456789'] },
    routes: {
      authorization: '/oauth/authorize',
      token: '/oauth/token',
      jwks: '/.well-known/jwks.json',
      userinfo: '/v1/oidc/userinfo',
    },
    claims: { openid: ['sub'], profile: ['nickname'] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub, nickname: `User ${sub.slice(-4)}` }) };
    },
    // Quiet: the tests read outcomes, not the provider's hints.
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.on('server_error', (_ctx, error) =>
    process.stderr.write(`oidc-provider server_error: ${error}\n`),
  );
  return provider;
}

let handler = createProvider(input.keys).callback();

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/_test/keys') {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const { keys } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        handler = createProvider(keys).callback();
        res.writeHead(204).end();
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
      }
    });
    return;
  }
  handler(req, res);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});

process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
