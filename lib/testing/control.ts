/**
 * The control API under `/_emulator/`, for tests that run the emulator in another process. Every route maps
 * onto a method of {@link KakaoEmulator}; bodies are JSON. OpenID Connect: `POST rotate-signing-key`
 * `{ keepOld? }`, `POST id-token-fault` `{ kind }` (`null` clears it), `DELETE id-token-fault`.
 */
import type { EmulatorFault, EmulatorIdTokenFault, EmulatorUserInit, KakaoEmulator } from './types';
import { encodeJson, type Incoming, type Reply } from './wire';

/** Path prefix of the control API (and of the avatars, which are not control routes). */
export const CONTROL_PREFIX = '/_emulator/';

function reply(status: number, value?: unknown): Reply {
  if (value === undefined) return { status, headers: { 'Cache-Control': 'no-store' }, body: '' };
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
    body: encodeJson(value),
  };
}

function badRequest(message: string): Reply {
  return reply(400, { error: 'bad_request', message });
}

function jsonBody(inc: Incoming): Record<string, unknown> | undefined {
  if (inc.bodyText.trim() === '') return {};
  if (inc.contentType !== 'application/json') return undefined;
  try {
    const parsed: unknown = JSON.parse(inc.bodyText);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function optionalUserId(body: Record<string, unknown>): string | undefined | null {
  if (body.userId === undefined) return undefined;
  return typeof body.userId === 'string' ? body.userId : null;
}

/** Handles a `/_emulator/*` request. TypeErrors of the emulator methods become 400s. */
export async function control(inc: Incoming, emulator: KakaoEmulator): Promise<Reply> {
  const route = `${inc.method} ${inc.path.slice(CONTROL_PREFIX.length)}`;
  if (route === 'GET health') return reply(200, { ok: true });
  if (route === 'GET requests') return reply(200, emulator.requests);
  if (route === 'GET issued-secrets') return reply(200, { secrets: emulator.issuedSecrets() });
  if (inc.method === 'GET' && inc.path.startsWith(`${CONTROL_PREFIX}users/`)) {
    const user = emulator.getUser(decodeURIComponent(inc.path.slice(`${CONTROL_PREFIX}users/`.length)));
    return user ? reply(200, user) : reply(404, { error: 'not_found', message: 'no such user' });
  }
  if (route === 'DELETE faults') {
    emulator.clearFaults();
    return reply(204);
  }
  if (route === 'DELETE id-token-fault') {
    emulator.setIdTokenFault(undefined);
    return reply(204);
  }
  const body = jsonBody(inc);
  const known = [
    'POST reset-requests',
    'POST users',
    'POST expire-access-tokens',
    'POST expire-refresh-tokens',
    'POST refresh-token-remaining',
    'POST advance-clock',
    'POST faults',
    'POST unlink',
    'POST rotate-signing-key',
    'POST id-token-fault',
  ];
  if (!known.includes(route)) return reply(404, { error: 'not_found', message: 'unknown control route' });
  if (!body) return badRequest('the body must be a JSON object sent as application/json');
  try {
    switch (route) {
      case 'POST reset-requests':
        emulator.resetRequests();
        return reply(204);
      case 'POST users':
        return reply(201, emulator.addUser(body as unknown as EmulatorUserInit));
      case 'POST expire-access-tokens':
      case 'POST expire-refresh-tokens': {
        const userId = optionalUserId(body);
        if (userId === null) return badRequest('"userId" must be a string');
        if (route === 'POST expire-access-tokens') emulator.expireAccessTokens(userId);
        else emulator.expireRefreshTokens(userId);
        return reply(204);
      }
      case 'POST refresh-token-remaining':
        if (typeof body.userId !== 'string') return badRequest('"userId" must be a string');
        emulator.setRefreshTokenRemaining(body.userId, body.seconds as number);
        return reply(204);
      case 'POST advance-clock':
        emulator.advanceClock(body.ms as number);
        return reply(204);
      case 'POST faults':
        emulator.injectFault(body as unknown as EmulatorFault);
        return reply(201, { ok: true });
      case 'POST rotate-signing-key':
        await emulator.rotateSigningKey(body as { keepOld?: boolean });
        return reply(204);
      case 'POST id-token-fault':
        emulator.setIdTokenFault(
          body.kind === null ? undefined : (body.kind as EmulatorIdTokenFault | undefined),
        );
        return reply(204);
      default: {
        if (typeof body.userId !== 'string') return badRequest('"userId" must be a string');
        if (body.referrerType !== undefined && typeof body.referrerType !== 'string') {
          return badRequest('"referrerType" must be a string');
        }
        const webhookStatus = await emulator.unlinkFromKakao(body.userId, body.referrerType);
        return reply(200, { webhookStatus: webhookStatus ?? null });
      }
    }
  } catch (error) {
    if (error instanceof TypeError) return badRequest(error.message);
    throw error;
  }
}
