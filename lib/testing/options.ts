/**
 * Validation and defaults of {@link KakaoEmulatorOptions}, in one place. The caller's object is never
 * mutated; the result is frozen.
 */
import type { KakaoEmulatorOptions } from './types';
import { DEFAULT_CONSENT_ITEMS, SEEDED_USERS, createUserRecord, type UserRecord } from './users';
import { argumentError, isAbsoluteHttpUrl } from './wire';

/** Options after validation, with every default applied. */
export interface EmulatorSettings {
  readonly host: string;
  readonly port: number;
  readonly clientID: string;
  readonly clientSecret: string | undefined;
  readonly redirectUris: readonly string[] | undefined;
  readonly logoutRedirectUris: readonly string[] | undefined;
  readonly autoApprove: boolean;
  readonly autoApproveUserId: string | undefined;
  readonly consentItems: readonly string[];
  readonly requiredConsentItems: readonly string[];
  readonly serviceTerms: readonly { readonly tag: string; readonly required: boolean }[];
  readonly autoLink: boolean;
  readonly userPropertyKeys: readonly string[] | undefined;
  readonly userIdsFromIdInclusive: boolean;
  readonly oidcGenderCase: 'lower' | 'upper';
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly codeTtlSeconds: number;
  readonly tokenRateLimit: boolean;
  readonly invalidClientStatus: number;
  readonly pkceErrorCode: string;
  readonly appId: number;
  readonly adminKey: string;
  readonly webhookUrl: string | undefined;
  readonly webhookMethod: 'GET' | 'POST';
  readonly oidc: boolean;
  readonly issuer: string | undefined;
  readonly appUsersShape: 'array' | 'elements';
  readonly controlApi: boolean;
  readonly maxRequestLog: number;
  readonly now: () => number;
}

const KNOWN_OPTIONS: readonly (keyof KakaoEmulatorOptions)[] = [
  'host',
  'port',
  'clientID',
  'clientSecret',
  'redirectUris',
  'logoutRedirectUris',
  'autoApprove',
  'autoApproveUserId',
  'users',
  'consentItems',
  'requiredConsentItems',
  'serviceTerms',
  'autoLink',
  'userPropertyKeys',
  'userIdsFromIdInclusive',
  'oidcGenderCase',
  'accessTokenTtlSeconds',
  'refreshTokenTtlSeconds',
  'codeTtlSeconds',
  'tokenRateLimit',
  'invalidClientStatus',
  'pkceErrorCode',
  'appId',
  'adminKey',
  'webhookUrl',
  'webhookMethod',
  'oidc',
  'issuer',
  'appUsersShape',
  'controlApi',
  'controlToken',
  'maxRequestLog',
  'now',
];

function suggestion(key: string): string {
  const lowered = key.toLowerCase();
  const match = KNOWN_OPTIONS.find(
    (known) =>
      known.toLowerCase() === lowered || known.toLowerCase().replace(/s$/, '') === lowered.replace(/s$/, ''),
  );
  return match ? ` Did you mean "${match}"?` : ` Known options: ${KNOWN_OPTIONS.join(', ')}.`;
}

function fail(message: string): never {
  throw argumentError(`createKakaoEmulator: ${message}`);
}

function nonEmptyString(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '' || !/^[\x21-\x7e]+$/.test(value)) {
    fail(`"${name}" must be a non-empty string of printable ASCII without spaces`);
  }
  return value;
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(`"${name}" must be a positive integer (got ${String(value)})`);
  }
  return value;
}

function booleanOption(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(`"${name}" must be a boolean`);
  return value;
}

function uriList(value: unknown, name: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    fail(`"${name}" must be a non-empty array of absolute http(s) URIs (omit it to accept any)`);
  }
  for (const uri of value) {
    if (typeof uri !== 'string' || !isAbsoluteHttpUrl(uri)) {
      fail(`"${name}" entries must be absolute http(s) URIs without a fragment (got ${JSON.stringify(uri)})`);
    }
  }
  return Object.freeze([...(value as string[])]);
}

/**
 * Validates the options and applies defaults.
 * @throws TypeError with a message naming the option and the fix.
 */
export function normalizeOptions(options: KakaoEmulatorOptions = {}): {
  settings: EmulatorSettings;
  users: UserRecord[];
  /** Kept out of `settings`, so that inspecting the emulator's state never shows it. */
  controlToken: string | undefined;
} {
  if (typeof options !== 'object' || options === null) fail('options must be an object');
  for (const key of Object.keys(options)) {
    if (!(KNOWN_OPTIONS as readonly string[]).includes(key))
      fail(`unknown option "${key}".${suggestion(key)}`);
  }
  const o = options;
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) {
    fail('"port" must be an integer from 0 to 65535 (0 picks a free port)');
  }
  const consentItems = o.consentItems ?? DEFAULT_CONSENT_ITEMS;
  if (
    !Array.isArray(consentItems) ||
    !consentItems.every((item) => typeof item === 'string' && /^[a-z0-9_]+$/.test(item))
  ) {
    fail('"consentItems" must be an array of consent item ids such as "profile_nickname"');
  }
  if (consentItems.includes('openid')) {
    fail('"consentItems" must not include "openid": it is not a consent item; set "oidc: true" instead');
  }
  const requiredConsentItems = o.requiredConsentItems ?? [];
  if (
    !Array.isArray(requiredConsentItems) ||
    !requiredConsentItems.every((item) => consentItems.includes(item))
  ) {
    fail('"requiredConsentItems" must be an array of items that are also in "consentItems"');
  }
  const serviceTerms = o.serviceTerms ?? [];
  if (
    !Array.isArray(serviceTerms) ||
    !serviceTerms.every(
      (term) =>
        typeof term === 'object' &&
        term !== null &&
        typeof term.tag === 'string' &&
        /^[A-Za-z0-9_.-]{1,64}$/.test(term.tag) &&
        (term.required === undefined || typeof term.required === 'boolean'),
    ) ||
    new Set(serviceTerms.map((term) => term.tag)).size !== serviceTerms.length
  ) {
    fail(
      '"serviceTerms" must be an array of { tag, required? } with distinct tags such as "terms_of_service"',
    );
  }
  if (
    o.userPropertyKeys !== undefined &&
    (!Array.isArray(o.userPropertyKeys) ||
      !o.userPropertyKeys.every((key) => typeof key === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(key)))
  ) {
    fail('"userPropertyKeys" must be an array of property keys such as "tier"');
  }
  if (o.oidcGenderCase !== undefined && o.oidcGenderCase !== 'lower' && o.oidcGenderCase !== 'upper') {
    fail('"oidcGenderCase" must be "lower" or "upper"');
  }
  if (
    o.controlToken !== undefined &&
    (typeof o.controlToken !== 'string' || !/^[A-Za-z0-9_-]{32,256}$/.test(o.controlToken))
  ) {
    fail('"controlToken" must be at least 32 base64url characters (omit it to get a random one)');
  }
  const userInits = o.users ?? SEEDED_USERS;
  if (!Array.isArray(userInits) || userInits.length === 0) fail('"users" must be a non-empty array');
  const users: UserRecord[] = [];
  for (const init of userInits) {
    let record: UserRecord;
    try {
      record = createUserRecord(init);
    } catch (error) {
      fail((error as Error).message);
    }
    if (users.some((user) => user.id === record.id)) fail(`duplicate user id "${record.id}"`);
    users.push(record);
  }
  if (o.autoApproveUserId !== undefined && !users.some((user) => user.id === o.autoApproveUserId)) {
    fail(`"autoApproveUserId" ${JSON.stringify(o.autoApproveUserId)} is not one of the users`);
  }
  if (
    o.invalidClientStatus !== undefined &&
    (!Number.isInteger(o.invalidClientStatus) || o.invalidClientStatus < 400 || o.invalidClientStatus > 499)
  ) {
    fail('"invalidClientStatus" must be a 4xx status such as 400 or 401');
  }
  if (
    o.pkceErrorCode !== undefined &&
    (typeof o.pkceErrorCode !== 'string' || !/^KOE\d{3}$/.test(o.pkceErrorCode))
  ) {
    fail('"pkceErrorCode" must look like "KOE320"');
  }
  if (o.webhookUrl !== undefined && (typeof o.webhookUrl !== 'string' || !isAbsoluteHttpUrl(o.webhookUrl))) {
    fail('"webhookUrl" must be an absolute http(s) URL');
  }
  if (o.webhookMethod !== undefined && o.webhookMethod !== 'GET' && o.webhookMethod !== 'POST') {
    fail('"webhookMethod" must be "GET" or "POST"');
  }
  if (o.issuer !== undefined && (typeof o.issuer !== 'string' || !isAbsoluteHttpUrl(o.issuer))) {
    fail('"issuer" must be an absolute URL such as "https://kauth.kakao.com"');
  }
  if (o.appUsersShape !== undefined && o.appUsersShape !== 'array' && o.appUsersShape !== 'elements') {
    fail('"appUsersShape" must be "array" or "elements"');
  }
  if (o.now !== undefined && typeof o.now !== 'function')
    fail('"now" must be a function returning milliseconds');
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === ''))
    fail('"host" must be a non-empty string');
  if (o.clientSecret !== undefined && (typeof o.clientSecret !== 'string' || o.clientSecret === '')) {
    fail('"clientSecret" must be a non-empty string (omit it when the console has client secrets off)');
  }
  const settings: EmulatorSettings = {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    clientID: nonEmptyString(o.clientID, 'clientID', 'emulator-rest-api-key'),
    clientSecret: o.clientSecret,
    redirectUris: uriList(o.redirectUris, 'redirectUris'),
    logoutRedirectUris: uriList(o.logoutRedirectUris, 'logoutRedirectUris'),
    autoApprove: booleanOption(o.autoApprove, 'autoApprove', false),
    autoApproveUserId: o.autoApproveUserId,
    consentItems: Object.freeze([...new Set(consentItems)]),
    requiredConsentItems: Object.freeze([...new Set(requiredConsentItems)]),
    serviceTerms: Object.freeze(
      serviceTerms.map((term) => Object.freeze({ tag: term.tag, required: term.required ?? false })),
    ),
    autoLink: booleanOption(o.autoLink, 'autoLink', true),
    userPropertyKeys: o.userPropertyKeys === undefined ? undefined : Object.freeze([...o.userPropertyKeys]),
    userIdsFromIdInclusive: booleanOption(o.userIdsFromIdInclusive, 'userIdsFromIdInclusive', false),
    oidcGenderCase: o.oidcGenderCase ?? 'lower',
    accessTokenTtlSeconds: positiveInteger(o.accessTokenTtlSeconds, 'accessTokenTtlSeconds', 21599),
    refreshTokenTtlSeconds: positiveInteger(o.refreshTokenTtlSeconds, 'refreshTokenTtlSeconds', 5183999),
    codeTtlSeconds: positiveInteger(o.codeTtlSeconds, 'codeTtlSeconds', 600),
    tokenRateLimit: booleanOption(o.tokenRateLimit, 'tokenRateLimit', true),
    invalidClientStatus: o.invalidClientStatus ?? 401,
    pkceErrorCode: o.pkceErrorCode ?? 'KOE320',
    appId: positiveInteger(o.appId, 'appId', 1000001),
    adminKey: nonEmptyString(o.adminKey, 'adminKey', 'emulator-admin-key'),
    webhookUrl: o.webhookUrl,
    webhookMethod: o.webhookMethod ?? 'POST',
    oidc: booleanOption(o.oidc, 'oidc', false),
    issuer: o.issuer,
    appUsersShape: o.appUsersShape ?? 'array',
    controlApi: booleanOption(o.controlApi, 'controlApi', true),
    maxRequestLog: positiveInteger(o.maxRequestLog, 'maxRequestLog', 10000),
    now: o.now ?? Date.now,
  };
  return { settings: Object.freeze(settings), users, controlToken: o.controlToken };
}
