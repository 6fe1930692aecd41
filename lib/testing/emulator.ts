/**
 * The emulator server: one `node:http` server playing kauth and kapi, with routing, the request log,
 * fault injection and the out-of-band actions tests need (clock, expiry, unlink from Kakao's side).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { control, type ControlContext } from './control';
import { DROP, HANG, faultReply, validateFault } from './faults';
import { accessTokenInfo, appUsers, logout, oidcUserInfo, unlink, userIds, userMe } from './kapi';
import { revokeScopes, revokeServiceTerms, scopes, serviceTerms, signup, updateProfile } from './kapi-user';
import { accountLogout, authorize, decide, decideForUser } from './kauth';
import { token, tokenInfo } from './kauth-token';
import { loginAs } from './login-as';
import { ID_TOKEN_FAULTS, OidcKeys, discoveryDocument } from './oidc';
import { normalizeOptions } from './options';
import type { Runtime } from './runtime';
import { EmulatorState } from './state';
import { classifyPath } from './routes';
import { TOO_LARGE, plainReply, readBody, toIncoming } from './server-io';
import type {
  EmulatorEndpoint,
  EmulatorFault,
  EmulatorIdTokenFault,
  EmulatorRequest,
  EmulatorStrategyOptions,
  EmulatorUser,
  EmulatorUserInit,
  KakaoEmulator,
  KakaoEmulatorOptions,
  LoginAgent,
  LoginAsOptions,
} from './types';
import { avatarSvg, snapshotUser } from './users';
import { sendUnlinkWebhook } from './webhook';
import { argumentError, jsonReply, type Incoming, type Reply } from './wire';

const AVATAR_PATH = /^\/_emulator\/avatar\/(default|[1-9]\d{0,18})\/(640|110)\.svg$/;

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
  // Private so that util.inspect and JSON.stringify of the emulator never show it.
  readonly #controlToken: string;

  constructor(
    private readonly server: Server,
    private readonly rt: Runtime,
    controlToken: string,
  ) {
    this.#controlToken = controlToken;
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

  get controlToken(): string {
    return this.#controlToken;
  }

  get strategyOptions(): EmulatorStrategyOptions {
    return Object.freeze({
      clientID: this.clientID,
      ...(this.clientSecret !== undefined && { clientSecret: this.clientSecret }),
      authOrigin: this.authOrigin,
      apiOrigin: this.apiOrigin,
    });
  }

  loginAs(agent: LoginAgent, userId: string, options?: LoginAsOptions): Promise<{ location: string }> {
    return loginAs(this, agent, userId, options);
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
    if (!user) throw argumentError(`unlinkFromKakao: no user with id ${JSON.stringify(userId)}`);
    this.rt.state.unlink(user);
    return sendUnlinkWebhook(this.rt.settings, userId, referrerType);
  }

  async rotateSigningKey(options: { keepOld?: boolean } = {}): Promise<void> {
    if (options.keepOld !== undefined && typeof options.keepOld !== 'boolean') {
      throw argumentError('rotateSigningKey: "keepOld" must be a boolean');
    }
    await this.rt.keys.rotate(options.keepOld ?? true);
  }

  setIdTokenFault(kind: EmulatorIdTokenFault | undefined): void {
    if (kind !== undefined && !ID_TOKEN_FAULTS.includes(kind)) {
      throw argumentError(
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
      case 'scopes':
        return scopes(inc, rt);
      case 'revoke_scopes':
        return revokeScopes(inc, rt);
      case 'service_terms':
        return serviceTerms(inc, rt);
      case 'revoke_service_terms':
        return revokeServiceTerms(inc, rt);
      case 'signup':
        return signup(inc, rt);
      case 'update_profile':
        return updateProfile(inc, rt);
      case 'oidc_discovery':
        return jsonReply(200, discoveryDocument(rt.issuer, rt.origin));
      case 'jwks':
        return jsonReply(200, await rt.keys.jwks(), { 'Cache-Control': 'public, max-age=3600' });
      case 'avatar':
        return this.avatar(inc);
      case 'control':
        return rt.settings.controlApi
          ? control(inc, this, this.controlContext())
          : plainReply(404, 'Not Found');
      default:
        // Browsers ask for a favicon on the consent page; answer without a console error.
        if (inc.path === '/favicon.ico')
          return { status: 204, headers: { 'Cache-Control': 'public, max-age=86400' }, body: '' };
        return plainReply(404, 'Not Found');
    }
  }

  private controlContext(): ControlContext {
    return {
      token: this.#controlToken,
      port: Number(new URL(this.rt.origin).port),
      decide: (decision) => {
        const outcome = decideForUser(decision, this.rt);
        if ('location' in outcome) return { status: 200, body: { location: outcome.location } };
        if ('page' in outcome) {
          const { koe, description } = outcome.page;
          return {
            status: 409,
            body: {
              error: 'kakao_error_page',
              koe,
              message: `Kakao stops on its ${koe} error page: ${description}`,
            },
          };
        }
        return { status: 400, body: { error: 'bad_request', message: outcome.badRequest } };
      },
    };
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
  const { settings, users, controlToken } = normalizeOptions(options);
  const rt: Runtime = {
    settings,
    state: new EmulatorState(settings, users),
    keys: new OidcKeys(),
    origin: '',
    issuer: '',
  };
  const server = createServer();
  const emulator = new EmulatorServer(server, rt, controlToken ?? randomBytes(32).toString('base64url'));
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
