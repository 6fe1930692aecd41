/**
 * What every emulator handler works with: settings, state, signing key and the emulator's own origin.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { OidcKeys } from './oidc';
import type { EmulatorSettings } from './options';
import type { EmulatorState } from './state';
import type { UserRecord } from './users';

/** Name of the emulator's "Kakao account" browser-session cookie, on the emulator's own origin. */
export const SESSION_COOKIE = '_kawlt_emu';

/** Shared context of the handlers of one emulator. */
export interface Runtime {
  readonly settings: EmulatorSettings;
  readonly state: EmulatorState;
  readonly keys: OidcKeys;
  /** `http://host:port`, known once the server listens. */
  origin: string;
  /** `iss` of ID tokens. */
  issuer: string;
}

/** Path of a user's avatar on the emulator (Kakao's default picture when the user has none). */
export function avatarPath(user: UserRecord, size: 110 | 640): string {
  return `/_emulator/avatar/${user.profileImage ? user.id : 'default'}/${size}.svg`;
}

/** Absolute URL of a user's avatar, as Kakao's APIs give it. */
export function avatarUrl(rt: Runtime, user: UserRecord, size: 110 | 640): string {
  return `${rt.origin}${avatarPath(user, size)}`;
}

/** Constant-time string comparison for secrets (client secret, admin key). */
export function secretEquals(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
