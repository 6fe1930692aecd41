import { inspect } from 'node:util';

import { KakaoAdminClient, type KakaoAdminClientOptions } from '../../lib/admin-client';
import { KakaoApiError, KakaoResponseError } from '../../lib/errors';
import { createKakaoEmulator, type KakaoEmulator } from '../../lib/testing';

const MINJI = '4120937465';
const JIHO = '1376016924429759228';
const SEOYEON = '3000000003';
const REDIRECT_URI = 'http://127.0.0.1:9/auth/kakao/callback';
// Short on purpose: the generic redaction of long tokens would not catch it.
const ADMIN_KEY = 'adm-Key.0042';

let emulator: KakaoEmulator;

beforeEach(async () => {
  emulator = await createKakaoEmulator({ autoApprove: true, adminKey: ADMIN_KEY, tokenRateLimit: false });
});

afterEach(async () => {
  await emulator.close();
});

function client(options: Partial<KakaoAdminClientOptions> = {}): KakaoAdminClient {
  return new KakaoAdminClient({ adminKey: ADMIN_KEY, apiOrigin: emulator.apiOrigin, ...options });
}

/** Signs the user in at the emulator (which links them) and returns a fresh access token. */
async function login(userId: string): Promise<string> {
  const query = new URLSearchParams({
    client_id: emulator.clientID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    login_hint: userId,
  });
  const authorize = await fetch(`${emulator.authOrigin}/oauth/authorize?${query.toString()}`, {
    redirect: 'manual',
  });
  const code = new URL(authorize.headers.get('location') ?? '').searchParams.get('code');
  if (!code) throw new Error(`the emulator did not issue a code for ${userId}`);
  const token = await fetch(`${emulator.authOrigin}/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: emulator.clientID,
      redirect_uri: REDIRECT_URI,
      code,
    }),
  });
  const body = (await token.json()) as { access_token: string };
  return body.access_token;
}

async function userMeStatus(accessToken: string): Promise<number> {
  const response = await fetch(`${emulator.apiOrigin}/v2/user/me`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  await response.body?.cancel();
  return response.status;
}

/** Everything an error could leak through: message, stack, properties, cause chain, inspection. */
function everythingShownBy(error: unknown): string {
  return [
    inspect(error, { showHidden: true, depth: 10 }),
    JSON.stringify(error),
    String(error),
    (error as Error).stack ?? '',
  ].join('\n');
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('KakaoAdminClient construction', () => {
  it('rejects a missing admin key with a teaching TypeError', () => {
    expect(() => new KakaoAdminClient({} as KakaoAdminClientOptions)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringContaining('Admin key') as unknown,
      }),
    );
  });

  it('rejects a key given with its KakaoAK prefix without quoting the key', () => {
    const error = (() => {
      try {
        new KakaoAdminClient({ adminKey: 'KakaoAK s3cr3t-admin' });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a throw');
    })();
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(error.message).toContain('leave out the "KakaoAK " prefix');
    expect(error.message).not.toContain('s3cr3t');
  });

  it('rejects a key with a space or a line break without quoting it', () => {
    for (const adminKey of ['s3cr3t admin', 's3cr3t\r\nX-Injected: 1', '']) {
      expect(() => new KakaoAdminClient({ adminKey })).toThrow(TypeError);
      try {
        new KakaoAdminClient({ adminKey });
      } catch (error) {
        expect(everythingShownBy(error)).not.toContain('s3cr3t');
      }
    }
  });

  it('suggests the right name for a misspelt option', () => {
    expect(() => new KakaoAdminClient({ adminkey: ADMIN_KEY } as unknown as KakaoAdminClientOptions)).toThrow(
      /did you mean "adminKey"/,
    );
  });

  it('keeps the admin key out of inspection and JSON', () => {
    const admin = client();
    expect(inspect(admin, { showHidden: true, depth: 10 })).not.toContain(ADMIN_KEY);
    expect(JSON.stringify(admin)).not.toContain(ADMIN_KEY);
    expect(Object.values(admin).join(' ')).not.toContain(ADMIN_KEY);
  });

  it.each([
    ['0123'],
    [''],
    ['12a'],
    ['123456789012345678901'],
    ['12345678901234567890'],
    ['9223372036854775808'],
    [' 5120937465'],
  ])('rejects the user id %j before calling Kakao, without quoting it', async (userId) => {
    const error = await caught(client().unlink(userId));
    expect(error).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    if (userId.trim() !== '') expect((error as Error).message).not.toContain(userId.trim());
    expect(emulator.count('unlink')).toBe(0);
  });
});

describe('KakaoAdminClient.unlink', () => {
  it('unlinks a linked user, sending the key as KakaoAK and the user as target_id in the form', async () => {
    await login(MINJI);
    await expect(client().unlink(MINJI)).resolves.toEqual({ id: MINJI, alreadyUnlinked: false });

    const request = emulator.requests.find((r) => r.endpoint === 'unlink');
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v1/user/unlink',
      form: { target_id_type: 'user_id', target_id: MINJI },
      query: {},
    });
    expect(request?.headers.authorization).toBe(`KakaoAK ${ADMIN_KEY}`);
    expect(emulator.getUser(MINJI)?.linked).toBe(false);
  });

  it('counts a user who is not linked (-101) as already unlinked', async () => {
    await expect(client().unlink(SEOYEON)).resolves.toEqual({ id: SEOYEON, alreadyUnlinked: true });
    expect(emulator.count('unlink')).toBe(1);
  });

  it('is idempotent after Kakao unlinked the user from its side', async () => {
    await login(MINJI);
    await emulator.unlinkFromKakao(MINJI);
    await expect(client().unlink(MINJI)).resolves.toEqual({ id: MINJI, alreadyUnlinked: true });
  });

  it('unlinks a 19-digit user and returns the id digit for digit', async () => {
    await login(JIHO);
    await expect(client().unlink(JIHO)).resolves.toEqual({ id: JIHO, alreadyUnlinked: false });
  });

  it('rejects an answer about another user as bad_shape', async () => {
    emulator.injectFault({ endpoint: 'unlink', kind: 'status', status: 200, body: '{"id":4120937466}' });
    const error = await caught(client().unlink(MINJI));
    expect(error).toBeInstanceOf(KakaoResponseError);
    expect(error).toMatchObject({ reason: 'bad_shape', operation: 'unlink' });
  });
});

describe('KakaoAdminClient.logout', () => {
  it('expires every token of the user but leaves them linked', async () => {
    const first = await login(MINJI);
    const second = await login(MINJI);
    expect(await userMeStatus(first)).toBe(200);

    await expect(client().logout(MINJI)).resolves.toEqual({ id: MINJI });

    expect(await userMeStatus(first)).toBe(401);
    expect(await userMeStatus(second)).toBe(401);
    expect(emulator.getUser(MINJI)?.linked).toBe(true);
    const request = emulator.requests.find((r) => r.endpoint === 'logout');
    expect(request?.form).toEqual({ target_id_type: 'user_id', target_id: MINJI });
  });

  it('reports a user who is not linked as KakaoApiError -101', async () => {
    const error = await caught(client().logout(SEOYEON));
    expect(error).toBeInstanceOf(KakaoApiError);
    expect(error).toMatchObject({ apiCode: -101, status: 400 });
  });
});

describe('KakaoAdminClient.getUser', () => {
  it('reads the 19-digit user with the exact id and the consented data', async () => {
    await login(JIHO);
    const user = await client().getUser(JIHO);
    expect(user.id).toBe(JIHO);
    expect(user.kakao_account?.profile?.nickname).toBe(emulator.getUser(JIHO)?.nickname);

    const request = emulator.requests.find((r) => r.endpoint === 'user_me');
    expect(request).toMatchObject({ method: 'GET', query: { target_id_type: 'user_id', target_id: JIHO } });
    expect(request?.headers.authorization).toBe(`KakaoAK ${ADMIN_KEY}`);
  });

  it('sends property_keys as a JSON array in the query', async () => {
    await login(MINJI);
    const user = await client().getUser(MINJI, { propertyKeys: ['kakao_account.email'] });
    expect(user.id).toBe(MINJI);
    expect(user.kakao_account?.email).toBe(emulator.getUser(MINJI)?.email);
    expect(user.kakao_account?.profile).toBeUndefined();
    const request = emulator.requests.find((r) => r.endpoint === 'user_me');
    expect(request?.query.property_keys).toBe('["kakao_account.email"]');
  });

  it('rejects malformed property keys before calling Kakao', async () => {
    await expect(client().getUser(MINJI, { propertyKeys: ['a b'] })).rejects.toThrow(TypeError);
    expect(emulator.count('user_me')).toBe(0);
  });
});

describe('KakaoAdminClient user id listing', () => {
  const added = ['9000000001', '9000000002', '9000000003', '9000000004', '9000000005', '9223372036854775807'];

  async function linkMany(): Promise<string[]> {
    for (const id of added) emulator.addUser({ id });
    const linked = [MINJI, JIHO, ...added];
    for (const id of linked) await login(id);
    return linked.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  }

  it('reads one page with its next from_id', async () => {
    const linked = await linkMany();
    const page = await client().listUserIds({ limit: 3 });
    expect(page).toEqual({ ids: linked.slice(0, 3), nextFromId: linked[2] });
    const request = emulator.requests.find((r) => r.endpoint === 'user_ids');
    expect(request).toMatchObject({ method: 'GET', query: { limit: '3' } });
    expect(request?.headers.authorization).toBe(`KakaoAK ${ADMIN_KEY}`);
  });

  it('pages through every linked id exactly, 19-digit ids included', async () => {
    const linked = await linkMany();
    const seen: string[] = [];
    for await (const id of client().listAllUserIds({ limit: 3 })) seen.push(id);
    expect(seen).toEqual(linked);
    expect(seen).toContain('9223372036854775807');
    expect(seen).toContain(JIHO);
    expect(emulator.count('user_ids')).toBe(3);
    expect(emulator.requests.filter((r) => r.endpoint === 'user_ids').map((r) => r.query.from_id)).toEqual([
      undefined,
      linked[2],
      linked[5],
    ]);
  });

  it('pages in descending order from a given id', async () => {
    const linked = await linkMany();
    const seen: string[] = [];
    for await (const id of client().listAllUserIds({ limit: 2, order: 'desc', fromId: linked[5] })) {
      seen.push(id);
    }
    expect(seen).toEqual(linked.slice(0, 5).reverse());
  });

  it('ends on an empty list', async () => {
    await expect(client().listUserIds()).resolves.toEqual({ ids: [], nextFromId: undefined });
  });

  it('never follows after_url elsewhere and stops when a page does not advance', async () => {
    emulator.injectFault({
      endpoint: 'user_ids',
      kind: 'status',
      status: 200,
      body: '{"elements":[5],"before_url":null,"after_url":"http://127.0.0.1:9/v1/user/ids?limit=1&from_id=5"}',
    });
    const seen: string[] = [];
    const error = await caught(
      (async () => {
        for await (const id of client().listAllUserIds({ limit: 1 })) seen.push(id);
      })(),
    );
    expect(error).toMatchObject({ name: 'KakaoResponseError', reason: 'bad_shape', operation: 'user_ids' });
    // The repeated id is yielded once: pages may overlap when from_id is inclusive.
    expect(seen).toEqual(['5']);
    // Both pages went to the configured origin, the second with the from_id Kakao pointed at.
    expect(emulator.requests.filter((r) => r.endpoint === 'user_ids').map((r) => r.query.from_id)).toEqual([
      undefined,
      '5',
    ]);
  });

  it('rejects malformed paging options before calling Kakao', async () => {
    await expect(client().listUserIds({ limit: 0 })).rejects.toThrow(/from 1 to 100/);
    await expect(client().listUserIds({ limit: 101 })).rejects.toThrow(TypeError);
    await expect(client().listUserIds({ order: 'up' as 'asc' })).rejects.toThrow(/"asc" or "desc"/);
    await expect(client().listUserIds({ fromId: '-1' })).rejects.toThrow(TypeError);
    expect(emulator.count('user_ids')).toBe(0);
  });
});

describe('KakaoAdminClient errors never carry the admin key', () => {
  it('maps a wrong admin key to KakaoApiError -401 without the key anywhere', async () => {
    await login(MINJI);
    const wrongKey = 'wrong-Key.77';
    const error = await caught(client({ adminKey: wrongKey }).unlink(MINJI));
    expect(error).toBeInstanceOf(KakaoApiError);
    expect(error).toMatchObject({ apiCode: -401, status: 401, code: 'ERR_KAKAO_API' });
    expect(everythingShownBy(error)).not.toContain(wrongKey);
    expect(emulator.getUser(MINJI)?.linked).toBe(true);
  });

  it("drops Kakao's message when it quotes the admin key", async () => {
    emulator.injectFault({
      endpoint: 'user_ids',
      kind: 'status',
      status: 401,
      body: JSON.stringify({ msg: `appKey(${ADMIN_KEY}) is already deactivated`, code: -401 }),
    });
    const error = await caught(client().listUserIds());
    expect(error).toMatchObject({ name: 'KakaoApiError', apiCode: -401, msg: undefined });
    expect(everythingShownBy(error)).not.toContain(ADMIN_KEY);
  });

  it('keeps the key out of network and timeout errors', async () => {
    emulator.injectFault({ endpoint: 'logout', kind: 'hang' });
    const timeout = await caught(client({ timeoutMs: 200 }).logout(MINJI));
    expect(timeout).toMatchObject({ name: 'KakaoResponseError', reason: 'timeout', operation: 'logout' });
    expect(everythingShownBy(timeout)).not.toContain(ADMIN_KEY);

    const network = await caught(client({ apiOrigin: 'http://127.0.0.1:9' }).getUser(MINJI));
    expect(network).toMatchObject({ name: 'KakaoResponseError', reason: 'network' });
    expect(everythingShownBy(network)).not.toContain(ADMIN_KEY);
  });

  it('maps the rate limit to KakaoApiError -10', async () => {
    emulator.injectFault({
      endpoint: 'user_ids',
      kind: 'status',
      status: 429,
      body: '{"msg":"API limit has been exceeded.","code":-10}',
    });
    await expect(client().listUserIds()).rejects.toMatchObject({ apiCode: -10, status: 429 });
  });
});
