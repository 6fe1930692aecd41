/**
 * Security-event logging (R59). Events carry a fixed set of fields: an event name, a short reason
 * code, the user id when known, the client IP and a correlation id. There is no free-text field
 * that could carry a token or a code, by construction.
 */

/** Severity of a {@link KakaoLogEvent}. */
export type KakaoLogLevel = 'info' | 'warn' | 'error';

/** One security-relevant event. */
export interface KakaoLogEvent {
  level: KakaoLogLevel;
  /** What happened, e.g. `login_failed`, `login_succeeded`, `logout`. */
  event: string;
  /** Short reason code, e.g. `state_mismatch`, `ERR_KAKAO_RESPONSE:timeout`. */
  reason?: string;
  /** Kakao user id, when known. */
  userId?: string;
  /** Client IP as Express sees it (respecting `trust proxy`). */
  ip?: string;
  /** Correlation id, also shown on error pages. */
  requestId?: string;
  /** A sentence for developers (diagnostics); fixed text written by this library, never provider data. */
  hint?: string;
}

/** Receives every event; must not throw. */
export type KakaoLogger = (event: KakaoLogEvent) => void;

/** The default logger: one JSON line per event on stderr (`warn`/`error`) or stdout (`info`). */
export const consoleLogger: KakaoLogger = function consoleLogger(event) {
  const line = JSON.stringify({ time: new Date().toISOString(), lib: 'kakao-login-express', ...event });
  if (event.level === 'info') console.log(line);
  else console.warn(line);
};

/** A logger that drops everything. */
export const silentLogger: KakaoLogger = function silentLogger() {};
