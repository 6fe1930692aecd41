import { createHash, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { IdTokenError, KakaoResponseError } from '../../lib/errors';
import { createIdTokenVerifier, type IdTokenVerifierOptions } from '../../lib/id-token';

const ISSUER = 'https://kauth.kakao.com';
const CLIENT = 'rest-api-key-0123456789';
const SECRET = 'client-secret-0123456789';
const NONCE = 'n-0S6_WzA2Mj-nonce-value-000000';
const ACCESS_TOKEN = 'access-token-abcdefghijklmnopqrstuvwxyz0123456789';
const T0 = 1_717_200_000_000;

interface RsaKey {
  kid: string;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

function rsaKey(kid: string, bits = 2048): RsaKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const { n, e } = publicKey.export({ format: 'jwk' });
  return { kid, privateKey, jwk: { kty: 'RSA', kid, alg: 'RS256', use: 'sig', n, e } };
}

const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A compact RS256 JWS over exactly the given header and payload (objects, or raw JSON text). */
function signed(header: unknown, payload: unknown, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
}

let k1: RsaKey;
let k2: RsaKey;
let rogue: RsaKey;
let small: RsaKey;

/** A JWKS server on a real socket: what it serves and how often it was asked. */
const jwksServer = {
  server: undefined as Server | undefined,
  url: '',
  body: '' as string,
  status: 200,
  contentType: 'application/json',
  location: undefined as string | undefined,
  hang: false,
  requests: 0,
  serve(keys: unknown[]): void {
    this.body = JSON.stringify({ keys });
    this.status = 200;
    this.contentType = 'application/json';
    this.location = undefined;
    this.hang = false;
  },
};

let clock = T0;

beforeAll(async () => {
  k1 = rsaKey('k1');
  k2 = rsaKey('k2');
  rogue = rsaKey('rogue');
  small = rsaKey('small', 1024);
  jwksServer.server = createServer((_req, res) => {
    jwksServer.requests += 1;
    if (jwksServer.hang) return;
    const headers: Record<string, string> = { 'content-type': jwksServer.contentType };
    if (jwksServer.location) headers.location = jwksServer.location;
    res.writeHead(jwksServer.status, headers);
    res.end(jwksServer.body);
  });
  await new Promise<void>((resolve) => jwksServer.server!.listen(0, '127.0.0.1', resolve));
  jwksServer.url = `http://127.0.0.1:${(jwksServer.server!.address() as AddressInfo).port}/.well-known/jwks.json`;
});

afterAll(async () => {
  jwksServer.server!.closeAllConnections();
  await new Promise((resolve) => jwksServer.server!.close(resolve));
});

beforeEach(() => {
  clock = T0;
  jwksServer.requests = 0;
  jwksServer.serve([k1.jwk]);
});

function verifier(options: Partial<IdTokenVerifierOptions> = {}) {
  return createIdTokenVerifier({
    issuer: ISSUER,
    clientID: CLIENT,
    jwksUri: jwksServer.url,
    now: () => clock,
    ...options,
  });
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(clock / 1000);
  const base: Record<string, unknown> = {
    iss: ISSUER,
    aud: CLIENT,
    sub: '4120937465',
    iat,
    exp: iat + 3600,
    auth_time: iat,
    nonce: NONCE,
    nickname: 'Minji',
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base;
}

function token(overrides: Record<string, unknown> = {}, key: RsaKey = k1, header: object = {}): string {
  return signed({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header }, claims(overrides), key.privateKey);
}

const expected = { nonce: NONCE, accessToken: ACCESS_TOKEN };

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IdTokenError) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('a valid ID token', () => {
  test('is accepted and its claims are returned', async () => {
    const result = await verifier().verify(token({ at_hash: atHash(ACCESS_TOKEN) }), expected);
    expect(result).toMatchObject({
      iss: ISSUER,
      aud: CLIENT,
      sub: '4120937465',
      nonce: NONCE,
      nickname: 'Minji',
    });
  });

  test('without nonce is accepted when no nonce was sent', async () => {
    await expect(verifier().verify(token({ nonce: undefined }), {})).resolves.toMatchObject({
      sub: '4120937465',
    });
  });

  test('the error never carries the token', async () => {
    const bad = token({ iss: 'https://evil.example' });
    const error = await verifier()
      .verify(bad, expected)
      .catch((e: unknown) => e as IdTokenError);
    expect(error).toBeInstanceOf(IdTokenError);
    expect(
      JSON.stringify({ ...(error as object), m: (error as Error).message, s: (error as Error).stack }),
    ).not.toContain(bad.split('.')[2]!.slice(0, 20));
  });
});

describe('R21 signature and algorithm (rp-id_token-bad-sig-rs256, rp-id_token-sig-none)', () => {
  test('rp-id_token-bad-sig-rs256: a token signed by another key under a published kid is rejected', async () => {
    expect(await reason(verifier().verify(token({}, { ...rogue, kid: 'k1' }), expected))).toBe('signature');
  });

  test('a token whose payload was changed after signing is rejected', async () => {
    const [h, , s] = token().split('.');
    const forged = `${h}.${b64(claims({ sub: '1' }))}.${s}`;
    expect(await reason(verifier().verify(forged, expected))).toBe('signature');
  });

  test('rp-id_token-sig-none: alg none is rejected, with or without a signature', async () => {
    const input = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}`;
    expect(await reason(verifier().verify(`${input}.`, expected))).toBe('alg');
    expect(await reason(verifier().verify(`${input}.c2ln`, expected))).toBe('alg');
  });

  test.each(['HS256', 'HS384', 'HS512'])(
    '%s signed with the client secret is rejected (key confusion)',
    async (alg) => {
      const input = `${b64({ alg, typ: 'JWT', kid: 'k1' })}.${b64(claims())}`;
      const mac = createHmac(`sha${alg.slice(2)}`, SECRET)
        .update(input)
        .digest('base64url');
      expect(await reason(verifier().verify(`${input}.${mac}`, expected))).toBe('alg');
    },
  );

  test.each(['RS384', 'RS512', 'PS256', 'ES256', 'rs256', 'RS256 ', ''])(
    'alg %j is not on the allowlist',
    async (alg) => {
      const t = signed({ alg, kid: 'k1' }, claims(), k1.privateKey);
      expect(await reason(verifier().verify(t, expected))).toBe('alg');
    },
  );

  test('a missing alg is rejected', async () => {
    expect(await reason(verifier().verify(signed({ kid: 'k1' }, claims(), k1.privateKey), expected))).toBe(
      'alg',
    );
  });

  test.each([
    ['jku', 'https://evil.example/jwks.json'],
    ['x5u', 'https://evil.example/cert.pem'],
    ['jwk', { kty: 'RSA', n: 'AQAB', e: 'AQAB' }],
    ['x5c', ['MIIB']],
    ['crit', ['exp']],
  ])('a %s header is rejected even on a correctly signed token', async (name, value) => {
    expect(await reason(verifier().verify(token({}, k1, { [name]: value }), expected))).toBe('header');
    expect(jwksServer.requests).toBe(0);
  });

  test('a non-string kid is rejected', async () => {
    expect(await reason(verifier().verify(token({}, k1, { kid: 7 }), expected))).toBe('header');
  });
});

describe('R27 malformed tokens are rejected before any key is fetched', () => {
  const valid = (): string => token();
  test.each([
    ['two segments', () => valid().split('.').slice(0, 2).join('.')],
    ['four segments', () => `${valid()}.AAAA`],
    ['an empty header', () => `.${valid().split('.').slice(1).join('.')}`],
    ['a padded segment', () => valid().replace('.', '=.')],
    [
      'standard base64 characters',
      () => `${valid().split('.')[0]}+.${valid().split('.').slice(1).join('.')}`,
    ],
    [
      'a non-canonical base64url segment',
      () => {
        // 26 bytes encode to 35 characters whose last one carries 2 unused bits; setting them changes
        // the text but not the bytes.
        const header = b64('{"alg":"RS256","kid":"k1"}');
        const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(
          header.slice(-1),
        );
        const tweaked =
          header.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last + 1]!;
        const input = `${tweaked}.${b64(claims())}`;
        return `${input}.${sign('sha256', Buffer.from(input), k1.privateKey).toString('base64url')}`;
      },
    ],
    ['a header that is not JSON', () => `${b64('not json')}.${b64(claims())}.AAAA`],
    ['a header that is a JSON array', () => `${b64('["RS256"]')}.${b64(claims())}.AAAA`],
    [
      'a header with invalid UTF-8',
      () => `${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${b64(claims())}.AAAA`,
    ],
    [
      'duplicate header names',
      () => signed('{"alg":"RS256","kid":"k1","alg":"RS256"}', claims(), k1.privateKey),
    ],
    [
      'duplicate header names spelled with escapes',
      () => signed('{"alg":"RS256","kid":"k1","\\u0061lg":"RS256"}', claims(), k1.privateKey),
    ],
    ['claims that are not an object', () => signed({ alg: 'RS256', kid: 'k1' }, '"a string"', k1.privateKey)],
    [
      'duplicate claim names',
      () => signed({ alg: 'RS256', kid: 'k1' }, `{"iss":"${ISSUER}","sub":"1","sub":"2"}`, k1.privateKey),
    ],
    ['a token over 16 KiB', () => token({ padding: 'x'.repeat(17 * 1024) })],
  ])('%s', async (_name, make) => {
    expect(await reason(verifier().verify(make(), expected))).toBe('malformed');
    expect(jwksServer.requests).toBe(0);
  });

  test('nested objects may repeat names across different objects', async () => {
    const t = signed(
      { alg: 'RS256', kid: 'k1' },
      JSON.stringify({ ...claims(), a: { x: 1 }, b: { x: 2 }, c: [{ x: 1 }, { x: 2 }] }),
      k1.privateKey,
    );
    expect(await reason(verifier().verify(t, expected))).toBe('accepted');
  });

  test('an empty token is reported as missing', async () => {
    expect(await reason(verifier().verify('', expected))).toBe('missing');
  });
});

describe('R22 key selection and the JWKS cache (rp-id_token-kid-absent-*, rp-key-rotation-op-sign-key)', () => {
  test('the key is chosen by kid among several', async () => {
    jwksServer.serve([k1.jwk, k2.jwk]);
    const v = verifier();
    expect(await reason(v.verify(token({}, k2), expected))).toBe('accepted');
    expect(await reason(v.verify(token({}, k1), expected))).toBe('accepted');
    expect(jwksServer.requests).toBe(1);
  });

  test('rp-id_token-kid-absent-single-jwks: without kid the only key is used', async () => {
    const t = signed({ alg: 'RS256' }, claims(), k1.privateKey);
    expect(await reason(verifier().verify(t, expected))).toBe('accepted');
  });

  test('rp-id_token-kid-absent-multiple-jwks: without kid and several keys the token is rejected', async () => {
    jwksServer.serve([k1.jwk, k2.jwk]);
    const t = signed({ alg: 'RS256' }, claims(), k1.privateKey);
    expect(await reason(verifier().verify(t, expected))).toBe('kid');
  });

  test('unusable keys are ignored: other kty, use enc, another alg, wrong key_ops, under 2048 bits, broken', async () => {
    const unusable = [
      {
        kty: 'EC',
        kid: 'ec',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      },
      { ...k2.jwk, kid: 'enc', use: 'enc' },
      { ...k2.jwk, kid: 'rs512', alg: 'RS512' },
      { ...k2.jwk, kid: 'ops', key_ops: ['encrypt'] },
      { ...small.jwk },
      { kty: 'RSA', kid: 'broken', n: '!!', e: 'AQAB' },
      'not a key',
    ];
    jwksServer.serve([...unusable, k1.jwk]);
    const v = verifier();
    // k1 is the single usable key, so a token without kid verifies against it.
    expect(await reason(v.verify(signed({ alg: 'RS256' }, claims(), k1.privateKey), expected))).toBe(
      'accepted',
    );
    for (const kid of ['enc', 'rs512', 'ops']) {
      expect(await reason(v.verify(token({}, { ...k2, kid }), expected))).toBe('kid');
    }
    expect(await reason(v.verify(token({}, small), expected))).toBe('kid');
  });

  test('an unknown kid causes one refetch, then a 30 s cooldown; concurrent unknown kids share one fetch', async () => {
    const v = verifier();
    expect(await reason(v.verify(token(), expected))).toBe('accepted');
    expect(jwksServer.requests).toBe(1);
    const randomKid = (): string => token({}, { ...rogue, kid: `r-${Math.random()}` });
    // Just fetched: an unknown kid does not refetch.
    expect(await reason(v.verify(randomKid(), expected))).toBe('kid');
    expect(jwksServer.requests).toBe(1);
    clock += 30_000;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => reason(v.verify(randomKid(), expected))),
    );
    expect(results).toEqual(['kid', 'kid', 'kid', 'kid', 'kid']);
    expect(jwksServer.requests).toBe(2);
    clock += 29_000;
    expect(await reason(v.verify(randomKid(), expected))).toBe('kid');
    expect(jwksServer.requests).toBe(2);
    clock += 1_000;
    expect(await reason(v.verify(randomKid(), expected))).toBe('kid');
    expect(jwksServer.requests).toBe(3);
  });

  test('rp-key-rotation-op-sign-key: a token signed by a newly published key is accepted after one refetch', async () => {
    const v = verifier();
    expect(await reason(v.verify(token({}, k1), expected))).toBe('accepted');
    jwksServer.serve([k2.jwk]);
    clock += 30_000;
    expect(await reason(v.verify(token({}, k2), expected))).toBe('accepted');
    expect(jwksServer.requests).toBe(2);
    // The old key is gone from the provider, and the cache keeps only the latest set.
    expect(await reason(v.verify(token({}, k1), expected))).toBe('kid');
  });

  test('a key rotated right after a scheduled fetch is fetched at once, and the cooldown still bounds a flood', async () => {
    const v = verifier();
    expect(await reason(v.verify(token({}, k1), expected))).toBe('accepted');
    // The cached set expires: the next login triggers a scheduled fetch, which still sees only k1.
    clock += 600_000;
    expect(await reason(v.verify(token({}, k1), expected))).toBe('accepted');
    expect(jwksServer.requests).toBe(2);
    // Kakao rotates abruptly one second later.
    jwksServer.serve([k2.jwk]);
    clock += 1_000;
    expect(await reason(v.verify(token({}, k2), expected))).toBe('accepted');
    expect(jwksServer.requests).toBe(3);
    // That refetch was caused by an unknown kid: for 30 s random kids cause no fetch at all.
    const randomKid = (): string => token({}, { ...rogue, kid: `r-${Math.random()}` });
    for (let i = 0; i < 20; i++) expect(await reason(v.verify(randomKid(), expected))).toBe('kid');
    expect(jwksServer.requests).toBe(3);
    clock += 30_000;
    expect(await reason(v.verify(randomKid(), expected))).toBe('kid');
    expect(jwksServer.requests).toBe(4);
  });

  test('concurrent tokens signed by a newly rotated key all wait for the same single refetch', async () => {
    const v = verifier();
    await v.verify(token({}, k1), expected);
    jwksServer.serve([k1.jwk, k2.jwk]);
    clock += 30_000;
    const results = await Promise.all([1, 2, 3].map(() => reason(v.verify(token({}, k2), expected))));
    expect(results).toEqual(['accepted', 'accepted', 'accepted']);
    expect(jwksServer.requests).toBe(2);
  });

  test('the JWKS is fetched again after 10 minutes', async () => {
    const v = verifier();
    await v.verify(token(), expected);
    clock += 599_000;
    await v.verify(token(), expected);
    expect(jwksServer.requests).toBe(1);
    clock += 1_000;
    await v.verify(token(), expected);
    expect(jwksServer.requests).toBe(2);
  });

  test('the last good JWKS is kept when a refetch fails, and retried only after the cooldown', async () => {
    const v = verifier();
    await v.verify(token(), expected);
    jwksServer.status = 500;
    clock += 600_000;
    expect(await reason(v.verify(token(), expected))).toBe('accepted');
    expect(jwksServer.requests).toBe(2);
    expect(await reason(v.verify(token(), expected))).toBe('accepted');
    expect(jwksServer.requests).toBe(2);
    jwksServer.serve([k2.jwk]);
    clock += 30_000;
    expect(await reason(v.verify(token({}, k2), expected))).toBe('accepted');
    expect(jwksServer.requests).toBe(3);
  });

  test.each([
    ['http_status', () => (jwksServer.status = 503)],
    ['redirect', () => ((jwksServer.status = 302), (jwksServer.location = 'http://127.0.0.1:9/'))],
    ['non_json', () => (jwksServer.contentType = 'text/html')],
    ['non_json', () => (jwksServer.body = '{"keys": [')],
    ['bad_shape', () => (jwksServer.body = '{"keys": {}}')],
    ['too_large', () => (jwksServer.body = JSON.stringify({ keys: [], pad: 'x'.repeat(70_000) }))],
  ])(
    'an unusable JWKS answer is a KakaoResponseError %s for operation jwks, not an IdTokenError',
    async (why, breakIt) => {
      breakIt();
      const error = await verifier()
        .verify(token(), expected)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KakaoResponseError);
      expect(error).toMatchObject({ reason: why, operation: 'jwks' });
    },
  );

  test('a JWKS served as application/jwk-set+json is accepted', async () => {
    jwksServer.contentType = 'application/jwk-set+json; charset=utf-8';
    expect(await reason(verifier().verify(token(), expected))).toBe('accepted');
  });

  test('a JWKS that does not answer in time fails with reason timeout', async () => {
    jwksServer.hang = true;
    const error = await verifier({ timeoutMs: 200 })
      .verify(token(), expected)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'timeout', operation: 'jwks' });
  });

  test('an unreachable JWKS fails with reason network', async () => {
    const error = await verifier({ jwksUri: 'http://127.0.0.1:9/jwks.json' })
      .verify(token(), expected)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'network', operation: 'jwks' });
  });
});

describe('R19 iss (rp-id_token-issuer-mismatch)', () => {
  test.each([
    ['another issuer', 'https://evil.example'],
    ['a trailing slash', `${ISSUER}/`],
    ['no scheme', 'kauth.kakao.com'],
    ['another case', 'https://KAUTH.kakao.com'],
    ['missing', undefined],
    ['not a string', 42],
  ])('rp-id_token-issuer-mismatch: %s is rejected', async (_name, iss) => {
    expect(await reason(verifier().verify(token({ iss: iss ?? undefined }), expected))).toBe('iss');
  });
});

describe('R20 aud and azp (rp-id_token-aud)', () => {
  test.each([
    ['another client', 'other-client', 'aud'],
    ['a list without the client', ['other-client'], 'aud'],
    ['missing', undefined, 'aud'],
    ['an empty list', [], 'aud'],
    ['a number', 1, 'aud'],
  ])('rp-id_token-aud: aud %s is rejected', async (_name, aud, why) => {
    expect(await reason(verifier().verify(token({ aud }), expected))).toBe(why);
  });

  test('several audiences without azp are rejected', async () => {
    expect(await reason(verifier().verify(token({ aud: [CLIENT, 'other-client'] }), expected))).toBe('azp');
  });

  test('an azp other than the client is rejected, also with a single audience', async () => {
    expect(await reason(verifier().verify(token({ azp: 'other-client' }), expected))).toBe('azp');
    expect(await reason(verifier().verify(token({ aud: [CLIENT, 'x'], azp: 'x' }), expected))).toBe('azp');
  });

  test('an untrusted extra audience is rejected even with azp; a trusted one is accepted', async () => {
    const t = token({ aud: [CLIENT, 'other-client'], azp: CLIENT });
    expect(await reason(verifier().verify(t, expected))).toBe('aud');
    expect(await reason(verifier({ trustedAudiences: ['other-client'] }).verify(t, expected))).toBe(
      'accepted',
    );
  });

  test('azp equal to the client with a single audience is accepted', async () => {
    expect(await reason(verifier().verify(token({ azp: CLIENT }), expected))).toBe('accepted');
  });
});

describe('R23 time claims (rp-id_token-iat)', () => {
  const now = (): number => Math.floor(clock / 1000);
  test.each([
    ['exp missing', () => ({ exp: undefined }), 'exp'],
    ['exp as a string', () => ({ exp: String(now() + 3600) }), 'exp'],
    ['exp 61 s ago', () => ({ exp: now() - 61 }), 'exp'],
    ['exp exactly 60 s ago', () => ({ exp: now() - 60 }), 'exp'],
    ['rp-id_token-iat: iat missing', () => ({ iat: undefined }), 'iat'],
    ['iat as a string', () => ({ iat: String(now()) }), 'iat'],
    ['iat 61 s in the future', () => ({ iat: now() + 61 }), 'iat'],
    ['iat older than the maximum age', () => ({ iat: now() - 661 }), 'iat'],
    ['nbf 61 s in the future', () => ({ nbf: now() + 61 }), 'nbf'],
    ['nbf as a string', () => ({ nbf: String(now()) }), 'nbf'],
    ['auth_time as a string', () => ({ auth_time: String(now()) }), 'auth_time'],
  ])('%s is rejected', async (_name, overrides, why) => {
    expect(await reason(verifier().verify(token(overrides()), expected))).toBe(why);
  });

  test.each([
    ['exp 59 s ago (within the skew)', () => ({ exp: now() - 59 })],
    ['iat 60 s in the future', () => ({ iat: now() + 60 })],
    ['iat 10 minutes old', () => ({ iat: now() - 600 })],
    ['nbf now', () => ({ nbf: now() })],
  ])('%s is accepted', async (_name, overrides) => {
    expect(await reason(verifier().verify(token(overrides()), expected))).toBe('accepted');
  });

  test('a smaller clock tolerance and maximum age apply', async () => {
    const v = verifier({ clockToleranceSec: 5, maxAgeSec: 60 });
    expect(await reason(v.verify(token({ exp: now() - 6 }), expected))).toBe('exp');
    expect(await reason(v.verify(token({ iat: now() - 70 }), expected))).toBe('iat');
  });
});

describe('R24 nonce (rp-nonce-invalid)', () => {
  test.each([
    ['rp-nonce-invalid: another nonce', 'n-other-nonce-value-00000000000'],
    ['a nonce that differs in the last character', `${NONCE.slice(0, -1)}1`],
    ['missing', undefined],
    ['a number', 1],
  ])('%s is rejected', async (_name, nonce) => {
    expect(await reason(verifier().verify(token({ nonce }), expected))).toBe('nonce');
  });

  test('a nonce in the token when none was sent is rejected', async () => {
    expect(await reason(verifier().verify(token(), { accessToken: ACCESS_TOKEN }))).toBe('nonce');
  });
});

describe('R25 sub (rp-id_token-sub)', () => {
  test.each([
    ['rp-id_token-sub: missing', undefined],
    ['empty', ''],
    ['a number', 4120937465],
    ['256 characters', 'a'.repeat(256)],
    ['non-ASCII', '사용자'],
    ['with a control character', 'a\nb'],
  ])('%s is rejected', async (_name, sub) => {
    expect(await reason(verifier().verify(token({ sub }), expected))).toBe('sub');
  });

  test('255 ASCII characters are accepted', async () => {
    expect(await reason(verifier().verify(token({ sub: 'a'.repeat(255) }), expected))).toBe('accepted');
  });
});

describe('R26 at_hash', () => {
  test('a wrong at_hash is rejected', async () => {
    expect(await reason(verifier().verify(token({ at_hash: atHash('another-token') }), expected))).toBe(
      'at_hash',
    );
  });

  test('an at_hash that is not a string is rejected', async () => {
    expect(await reason(verifier().verify(token({ at_hash: 1 }), expected))).toBe('at_hash');
  });

  test('a correct at_hash is accepted', async () => {
    expect(await reason(verifier().verify(token({ at_hash: atHash(ACCESS_TOKEN) }), expected))).toBe(
      'accepted',
    );
  });
});

describe('options', () => {
  test.each([
    ['clockToleranceSec above 60', { clockToleranceSec: 61 }],
    ['a relative jwksUri', { jwksUri: '/jwks.json' }],
    ['an empty issuer', { issuer: '' }],
    ['a negative maxAgeSec', { maxAgeSec: -1 }],
  ])('%s is a configuration error', (_name, options) => {
    expect(() => verifier(options as Partial<IdTokenVerifierOptions>)).toThrow(TypeError);
  });
});
