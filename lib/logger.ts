/**
 * Security-event logging. Events carry a fixed set of fields: an event name, a short reason
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
  /**
   * The underlying failure of a store or network error: its class and message, with anything that
   * looks like a credential redacted, and never keys, values or command arguments.
   */
  cause?: string;
}

/** Receives every event; must not throw. */
export type KakaoLogger = (event: KakaoLogEvent) => void;

const LEVELS: Readonly<Record<KakaoLogLevel, number>> = { info: 0, warn: 1, error: 2 };

/**
 * A logger writing one JSON line per event: `warn`/`error` to stderr, `info` to stdout.
 * @param options.level the lowest level written. Default `warn` (successful logins and logouts are
 *   `info`: turn them on for an audit trail).
 */
export function createConsoleLogger(options: { level?: KakaoLogLevel } = {}): KakaoLogger {
  const threshold = LEVELS[options.level ?? 'warn'];
  return function consoleLogger(event) {
    if (LEVELS[event.level] < threshold) return;
    const line = JSON.stringify({ time: new Date().toISOString(), lib: 'kakao-login-express', ...event });
    if (event.level === 'info') console.log(line);
    else console.warn(line);
  };
}

/** The default logger: {@link createConsoleLogger} at level `warn`. */
export const consoleLogger: KakaoLogger = createConsoleLogger();

/** A logger that drops everything. */
export const silentLogger: KakaoLogger = function silentLogger() {};
