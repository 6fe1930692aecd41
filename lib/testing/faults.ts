/**
 * Fault injection: validating a requested fault and the raw answer it gives instead of Kakao's.
 */
import { EMULATOR_ENDPOINTS } from './routes';
import type { EmulatorFault } from './types';
import { argumentError, type Reply } from './wire';

/** A fault that never answers (until the emulator closes). */
export const HANG = Symbol('hang');
/** A fault that closes the connection without an answer: the client sees a network error. */
export const DROP = Symbol('drop');

const FAULT_KINDS: readonly EmulatorFault['kind'][] = [
  'html_500',
  'non_json',
  'delay',
  'hang',
  'drop',
  'redirect',
  'status',
];

/** @throws TypeError when the fault is malformed. */
export function validateFault(fault: EmulatorFault): EmulatorFault {
  const bad = (message: string): never => {
    throw argumentError(`injectFault: ${message}`);
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

/** The answer a fault gives, or {@link HANG} / {@link DROP}. */
export function faultReply(fault: EmulatorFault): Reply | typeof HANG | typeof DROP {
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
