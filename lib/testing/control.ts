/**
 * The control API under `/_emulator/`, for tests that run the emulator in another process and for
 * `loginAs`. Every route maps onto a method of {@link KakaoEmulator}; bodies are JSON. OpenID Connect:
 * `POST rotate-signing-key` `{ keepOld? }`, `POST id-token-fault` `{ kind }` (`null` clears it),
 * `DELETE id-token-fault`. The consent decision: `POST authorize` `{ authorizeUrl, userId, decision?,
 * scopes?, serviceTerms? }` answers `{ location }`, where Kakao would send the browser.
 *
 * Locked down so that leaving an emulator running is safe: a call needs the per-start token in
 * `X-Emulator-Token`, a loopback `Host` and, for `POST`, `Content-Type: application/json`. A web page the
 * developer visits can send none of these to another origin without a CORS preflight (which is never
 * granted), and a DNS-rebinding page arrives with its own host name.
 */
import type { ServerDecision } from './kauth';
import { secretEquals } from './runtime';
import type { EmulatorFault, EmulatorIdTokenFault, EmulatorUserInit, KakaoEmulator } from './types';
import { encodeJson, type Incoming, type Reply } from './wire';

/** Header carrying the control token. */
export const CONTROL_TOKEN_HEADER = 'x-emulator-token';

/** What the control API needs besides the emulator's public methods. */
export interface ControlContext {
  token: string;
  /** The emulator's port: `Host` must be a loopback name with it. */
  port: number;
  decide(decision: ServerDecision): { status: number; body: unknown };
}

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

/** Refuses a control call without the token, from a non-loopback `Host`, or a POST that is not JSON. */
export function refuseControl(inc: Incoming, context: ControlContext): Reply | undefined {
  const host = inc.headers.host;
  const loopback = [`127.0.0.1:${context.port}`, `[::1]:${context.port}`, `localhost:${context.port}`];
  if (typeof host !== 'string' || !loopback.includes(host.toLowerCase())) {
    return reply(403, {
      error: 'forbidden',
      message: 'the control API answers only 127.0.0.1, [::1] or localhost',
    });
  }
  const given = inc.headers[CONTROL_TOKEN_HEADER];
  if (typeof given !== 'string' || !secretEquals(given, context.token)) {
    return reply(403, {
      error: 'forbidden',
      message: 'missing or wrong X-Emulator-Token header (the token is emulator.controlToken)',
    });
  }
  if (inc.method === 'POST' && inc.contentType !== 'application/json') {
    return reply(415, { error: 'unsupported_media_type', message: 'POST bodies must be application/json' });
  }
  return undefined;
}

/** Handles a `/_emulator/*` request. TypeErrors of the emulator methods become 400s. */
export async function control(
  inc: Incoming,
  emulator: KakaoEmulator,
  context: ControlContext,
): Promise<Reply> {
  const refused = refuseControl(inc, context);
  if (refused) return refused;
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
    'POST authorize',
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
      case 'POST authorize': {
        const problem = decisionProblem(body);
        if (problem) return badRequest(problem);
        const decided = context.decide(body as unknown as ServerDecision);
        return reply(decided.status, decided.body);
      }
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

const STRING_LIST = (value: unknown): boolean =>
  value === undefined || (Array.isArray(value) && value.every((item) => typeof item === 'string'));

function decisionProblem(body: Record<string, unknown>): string | undefined {
  if (typeof body.authorizeUrl !== 'string' || !URL.canParse(body.authorizeUrl)) {
    return '"authorizeUrl" must be the absolute authorize URL the app redirected to';
  }
  if (typeof body.userId !== 'string') return '"userId" must be a string';
  if (body.decision !== undefined && body.decision !== 'accept' && body.decision !== 'cancel') {
    return '"decision" must be "accept" or "cancel"';
  }
  if (!STRING_LIST(body.scopes)) return '"scopes" must be an array of consent item ids';
  if (!STRING_LIST(body.serviceTerms)) return '"serviceTerms" must be an array of tags';
  return undefined;
}
