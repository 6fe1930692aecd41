/**
 * The emulator server: one `node:http` server playing kauth and kapi, with routing, the request log,
 * fault injection and the out-of-band actions tests need (clock, expiry, unlink from Kakao's side).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTROL_PREFIX, control } from './control';
import { accessTokenInfo, appUsers, logout, oidcUserInfo, unlink, userIds, userMe } from './kapi';
import { accountLogout, authorize, decide, token, tokenInfo } from './kauth';
import { ID_TOKEN_FAULTS, OidcKeys, discoveryDocument } from './oidc';
import { normalizeOptions } from './options';
import type { Runtime } from './runtime';
import { EmulatorState } from './state';
import type {
  EmulatorEndpoint,
  EmulatorFault,
  EmulatorIdTokenFault,
  EmulatorRequest,
  EmulatorUser,
  EmulatorUserInit,
  KakaoEmulator,
  KakaoEmulatorOptions,
} from './types';
import { avatarSvg, snapshotUser } from './users';
import { jsonReply, parseCookies, parseParams, type Incoming, type Reply } from './wire';

/** Largest request body accepted; bigger ones get 413. */
const MAX_BODY_BYTES = 64 * 1024;
/** Kakao gives up on an unlink webhook after 3 seconds. */
const WEBHOOK_TIMEOUT_MS = 3000;

const ROUTES: Readonly<Record<string, EmulatorEndpoint>> = {
  '/oauth/authorize': 'authorize',
  '/oauth/authorize/decision': 'authorize_decision',
  '/oauth/token': 'token',
  '/oauth/logout': 'account_logout',
  '/oauth/tokeninfo': 'tokeninfo',
  '/v2/user/me': 'user_me',
  '/v1/user/logout': 'logout',
  '/v1/user/unlink': 'unlink',
  '/v1/user/access_token_info': 'access_token_info',
  '/v1/user/ids': 'user_ids',
  '/v2/app/users': 'app_users',
  '/v1/oidc/userinfo': 'oidc_userinfo',
  '/.well-known/openid-configuration': 'oidc_discovery',
  '/.well-known/jwks.json': 'jwks',
};

/** Every endpoint name, for validating faults. */
export const EMULATOR_ENDPOINTS: readonly EmulatorEndpoint[] = Object.freeze([
  ...new Set(Object.values(ROUTES)),
  'avatar',
  'control',
  'other',
] as EmulatorEndpoint[]);

const FAULT_KINDS: readonly EmulatorFault['kind'][] = [
  'html_500',
  'non_json',
  'delay',
  'hang',
  'drop',
  'redirect',
  'status',
];
const AVATAR_PATH = /^\/_emulator\/avatar\/(default|[1-9]\d{0,18})\/(640|110)\.svg$/;
const HANG = Symbol('hang');
const DROP = Symbol('drop');
const TOO_LARGE = Symbol('too large');

/** The endpoint a path belongs to, whatever the method. */
export function classifyPath(path: string): EmulatorEndpoint {
  const known = ROUTES[path];
  if (known) return known;
  if (path.startsWith('/_emulator/avatar/')) return 'avatar';
  if (path.startsWith(CONTROL_PREFIX)) return 'control';
  return 'other';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > MAX_BODY_BYTES) {
      reject(TOO_LARGE);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        done = true;
        reject(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function toIncoming(req: IncomingMessage, bodyText: string): Incoming {
  const rawUrl = req.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart),
    query: parseParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1)),
    form: contentType === 'application/x-www-form-urlencoded' ? parseParams(bodyText) : parseParams(''),
    bodyText,
    contentType,
    headers: { ...req.headers },
    cookies: parseCookies(req.headers.cookie),
  };
}

function plainReply(status: number, text: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, body: text };
}

function validateFault(fault: EmulatorFault): EmulatorFault {
  const bad = (message: string): never => {
    throw new TypeError(`injectFault: ${message}`);
  };
  if (typeof fault !== 'object' || fault === null) bad('a fault must be an object');
  if (!EMULATOR_ENDPOINTS.includes(fault.endpoint) || fault.endpoint === 'control') {
    bad(`"endpoint" must be one of ${EMULATOR_ENDPOINTS.filter((e) => e !== 'control').join(', ')}`);
  }
  if (!FAULT_KINDS.includes(fault.kind)) bad(`"kind" must be one of ${FAULT_KINDS.join(', ')}`);
  const times = fault.times ?? Infinity;
  if (times !== Infinity && !(Number.isInteger(times) && times > 0))
    bad('"times" must be a positive integer');
  if (fault.delayMs !== undefined && !(Number.isFinite(fault.delayMs) && fault.delayMs >= 0)) {
    bad('"delayMs" must be a non-negative number');
  }
  if (
    fault.status !== undefined &&
    !(Number.isInteger(fault.status) && fault.status >= 200 && fault.status <= 599)
  ) {
    bad('"status" must be an HTTP status from 200 to 599');
  }
  for (const key of ['body', 'contentType', 'location'] as const) {
    if (fault[key] !== undefined && typeof fault[key] !== 'string') bad(`"${key}" must be a string`);
  }
  for (const key of ['contentType', 'location'] as const) {
    if (/[\r\n]/.test(fault[key] ?? '')) bad(`"${key}" must not contain line breaks`);
  }
  if (fault.consume !== undefined && typeof fault.consume !== 'boolean') bad('"consume" must be a boolean');
  return { ...fault, times };
}

function faultReply(fault: EmulatorFault): Reply | typeof HANG | typeof DROP {
  switch (fault.kind) {
    case 'hang':
      return HANG;
    case 'drop':
      return DROP;
    case 'html_500':
      return {
        status: 500,
        headers: { 'Content-Type': 'text/html; charset=utf-8' },
        body: '<!doctype html><html><head><title>500 Internal Server Error</title></head><body><h1>500 Internal Server Error</h1></body></html>',
      };
    case 'non_json':
      return {
        status: 200,
        headers: { 'Content-Type': 'text/html; charset=utf-8' },
        body: '<!doctype html><html><body><p>Service temporarily unavailable. Please try again later.</p></body></html>',
      };
    case 'redirect':
      return { status: 307, headers: { Location: fault.location ?? 'http://127.0.0.1:9/' }, body: '' };
    default:
      return {
        status: fault.status ?? 500,
        headers: { 'Content-Type': fault.contentType ?? 'application/json;charset=UTF-8' },
        body: fault.body ?? '',
      };
  }
}

class EmulatorServer implements KakaoEmulator {
  readonly clientID: string;
  readonly clientSecret: string | undefined;
  readonly adminKey: string;
  readonly appId: number;
  private readonly log: EmulatorRequest[] = [];
  private readonly counts = new Map<EmulatorEndpoint, number>();
  private faults: { fault: EmulatorFault; remaining: number }[] = [];
  private readonly sleepers = new Set<() => void>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly server: Server,
    private readonly rt: Runtime,
  ) {
    this.clientID = rt.settings.clientID;
    this.clientSecret = rt.settings.clientSecret;
    this.adminKey = rt.settings.adminKey;
    this.appId = rt.settings.appId;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void this.handle(req, res);
    });
  }

  get url(): string {
    return this.rt.origin;
  }

  get authOrigin(): string {
    return this.rt.origin;
  }

  get apiOrigin(): string {
    return this.rt.origin;
  }

  get issuer(): string {
    return this.rt.issuer;
  }

  get requests(): readonly EmulatorRequest[] {
    return this.log;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const wake of this.sleepers) wake();
      this.sleepers.clear();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  addUser(init: EmulatorUserInit): EmulatorUser {
    return this.rt.state.addUser(init);
  }

  getUser(id: string): EmulatorUser | undefined {
    const user = this.rt.state.users.get(id);
    return user ? snapshotUser(user) : undefined;
  }

  expireAccessTokens(userId?: string): void {
    this.rt.state.expireAccessTokens(userId);
  }

  expireRefreshTokens(userId?: string): void {
    this.rt.state.expireRefreshTokens(userId);
  }

  setRefreshTokenRemaining(userId: string, seconds: number): void {
    this.rt.state.setRefreshTokenRemaining(userId, seconds);
  }

  advanceClock(ms: number): void {
    this.rt.state.advanceClock(ms);
  }

  injectFault(fault: EmulatorFault): void {
    const valid = validateFault(fault);
    this.faults.push({ fault: valid, remaining: valid.times ?? Infinity });
  }

  clearFaults(): void {
    this.faults = [];
  }

  async unlinkFromKakao(userId: string, referrerType = 'UNLINK_FROM_APPS'): Promise<number | undefined> {
    const user = this.rt.state.users.get(userId);
    if (!user) throw new TypeError(`unlinkFromKakao: no user with id ${JSON.stringify(userId)}`);
    this.rt.state.unlink(user);
    const { webhookUrl, webhookMethod, appId, adminKey } = this.rt.settings;
    if (webhookUrl === undefined) return undefined;
    const fields = new URLSearchParams({
      app_id: String(appId),
      user_id: userId,
      referrer_type: referrerType,
    });
    const init: RequestInit = {
      method: webhookMethod,
      headers: { Authorization: `KakaoAK ${adminKey}` },
      redirect: 'manual',
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    };
    let target = webhookUrl;
    if (webhookMethod === 'GET') {
      target = `${webhookUrl}${webhookUrl.includes('?') ? '&' : '?'}${fields.toString()}`;
    } else {
      init.headers = { ...init.headers, 'Content-Type': 'application/x-www-form-urlencoded' };
      init.body = fields.toString();
    }
    try {
      const response = await fetch(target, init);
      await response.body?.cancel();
      return response.status;
    } catch {
      return undefined;
    }
  }

  async rotateSigningKey(options: { keepOld?: boolean } = {}): Promise<void> {
    if (options.keepOld !== undefined && typeof options.keepOld !== 'boolean') {
      throw new TypeError('rotateSigningKey: "keepOld" must be a boolean');
    }
    await this.rt.keys.rotate(options.keepOld ?? true);
  }

  setIdTokenFault(kind: EmulatorIdTokenFault | undefined): void {
    if (kind !== undefined && !ID_TOKEN_FAULTS.includes(kind)) {
      throw new TypeError(
        `setIdTokenFault: "kind" must be one of ${ID_TOKEN_FAULTS.join(', ')} (or undefined)`,
      );
    }
    this.rt.keys.fault = kind;
  }

  count(endpoint: EmulatorEndpoint): number {
    return this.counts.get(endpoint) ?? 0;
  }

  resetRequests(): void {
    this.log.length = 0;
    this.counts.clear();
  }

  issuedSecrets(): string[] {
    return this.rt.state.issuedSecrets();
  }

  private record(endpoint: EmulatorEndpoint, inc: Incoming): void {
    this.counts.set(endpoint, this.count(endpoint) + 1);
    this.log.push({
      endpoint,
      method: inc.method,
      path: inc.path,
      query: inc.query,
      form: inc.form,
      headers: inc.headers,
      at: this.rt.state.now(),
    });
    if (this.log.length > this.rt.settings.maxRequestLog) this.log.shift();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      let bodyText: string;
      try {
        bodyText = await readBody(req);
      } catch (error) {
        if (error !== TOO_LARGE) throw error;
        this.send(res, plainReply(413, 'Request body too large', { Connection: 'close' }));
        return;
      }
      const inc = toIncoming(req, bodyText);
      const endpoint = classifyPath(inc.path);
      this.record(endpoint, inc);
      const reply = await this.dispatch(endpoint, inc);
      if (reply === DROP) res.socket?.destroy();
      else if (reply !== HANG) this.send(res, reply);
    } catch {
      // A bug or hostile input must never take the emulator down; the client sees a Kakao-like 500.
      if (!res.headersSent) {
        this.send(
          res,
          jsonReply(500, {
            error: 'server_error',
            error_description: 'internal error',
            error_code: 'KOE003',
          }),
        );
      } else {
        res.destroy();
      }
    }
  }

  private takeFault(endpoint: EmulatorEndpoint): EmulatorFault | undefined {
    const entry = this.faults.find((candidate) => candidate.fault.endpoint === endpoint);
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.faults.splice(this.faults.indexOf(entry), 1);
    return entry.fault;
  }

  private async dispatch(
    endpoint: EmulatorEndpoint,
    inc: Incoming,
  ): Promise<Reply | typeof HANG | typeof DROP> {
    // The control API is never faulted, so a test can always clear faults over HTTP.
    const fault = endpoint === 'control' ? undefined : this.takeFault(endpoint);
    if (!fault) return this.route(endpoint, inc);
    if (fault.kind === 'delay') {
      await this.sleep(fault.delayMs ?? 1000);
      return this.route(endpoint, inc);
    }
    if (fault.consume ?? endpoint === 'token') await this.route(endpoint, inc);
    return faultReply(fault);
  }

  private sleep(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private async route(endpoint: EmulatorEndpoint, inc: Incoming): Promise<Reply> {
    const rt = this.rt;
    switch (endpoint) {
      case 'authorize':
        return authorize(inc, rt);
      case 'authorize_decision':
        return decide(inc, rt);
      case 'token':
        return token(inc, rt);
      case 'account_logout':
        return accountLogout(inc, rt);
      case 'tokeninfo':
        return tokenInfo(inc, rt);
      case 'user_me':
        return userMe(inc, rt);
      case 'logout':
        return logout(inc, rt);
      case 'unlink':
        return unlink(inc, rt);
      case 'access_token_info':
        return accessTokenInfo(inc, rt);
      case 'user_ids':
        return userIds(inc, rt);
      case 'app_users':
        return appUsers(inc, rt);
      case 'oidc_userinfo':
        return oidcUserInfo(inc, rt);
      case 'oidc_discovery':
        return jsonReply(200, discoveryDocument(rt.issuer, rt.origin));
      case 'jwks':
        return jsonReply(200, await rt.keys.jwks(), { 'Cache-Control': 'public, max-age=3600' });
      case 'avatar':
        return this.avatar(inc);
      case 'control':
        return rt.settings.controlApi ? control(inc, this) : plainReply(404, 'Not Found');
      default:
        // Browsers ask for a favicon on the consent page; answer without a console error.
        if (inc.path === '/favicon.ico')
          return { status: 204, headers: { 'Cache-Control': 'public, max-age=86400' }, body: '' };
        return plainReply(404, 'Not Found');
    }
  }

  private avatar(inc: Incoming): Reply {
    const match = AVATAR_PATH.exec(inc.path);
    if (!match || (inc.method !== 'GET' && inc.method !== 'HEAD')) return plainReply(404, 'Not Found');
    const user = match[1] === 'default' ? undefined : this.rt.state.users.get(match[1]!);
    if (match[1] !== 'default' && !user?.profileImage) return plainReply(404, 'Not Found');
    return {
      status: 200,
      headers: {
        'Content-Type': 'image/svg+xml',
        'Cache-Control': 'public, max-age=3600',
        // An SVG opened directly is a document: forbid scripts in it.
        'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
        'X-Content-Type-Options': 'nosniff',
      },
      body: avatarSvg(user, Number(match[2])),
    };
  }

  private send(res: ServerResponse, reply: Reply): void {
    if (res.destroyed || res.writableEnded) return;
    const body = Buffer.from(reply.body, 'utf8');
    res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(body.length) });
    res.end(body);
  }
}

function originOf(host: string, address: AddressInfo): string {
  let name: string;
  if (host === '0.0.0.0') name = '127.0.0.1';
  else if (host === '::') name = '[::1]';
  else if (host.includes(':')) name = `[${host.replace(/^\[|\]$/g, '')}]`;
  else name = host;
  return `http://${name}:${address.port}`;
}

/**
 * Starts a Kakao emulator: Kakao Login (kauth) and the user APIs (kapi) on one local HTTP server, with a
 * consent page, real single-use codes, PKCE, token rotation, KOE errors, webhooks and fault injection.
 * See {@link KakaoEmulatorOptions} for every option and its default.
 *
 * @throws TypeError when an option is invalid (the message names it and the fix).
 * @throws the listen error (e.g. `EADDRINUSE`) when the port cannot be bound.
 */
export async function createKakaoEmulator(options?: KakaoEmulatorOptions): Promise<KakaoEmulator> {
  const { settings, users } = normalizeOptions(options);
  const rt: Runtime = {
    settings,
    state: new EmulatorState(settings, users),
    keys: new OidcKeys(),
    origin: '',
    issuer: '',
  };
  const server = createServer();
  const emulator = new EmulatorServer(server, rt);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  rt.origin = originOf(settings.host, server.address() as AddressInfo);
  rt.issuer = settings.issuer ?? rt.origin;
  return emulator;
}
