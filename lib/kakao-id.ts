/**
 * What a Kakao user id is, for every caller: Kakao ids are signed 64-bit longs, written as decimal
 * without a sign or leading zero, so 1 to 19 digits and at most 9223372036854775807. Ids beyond
 * `Number.MAX_SAFE_INTEGER` are real (19-digit ids occur), which is why ids travel as strings.
 */

/** The largest Kakao user id, 2^63 - 1. */
export const MAX_KAKAO_ID = 9_223_372_036_854_775_807n;

const ID_DIGITS = /^[1-9][0-9]{0,18}$/;

/**
 * True for a Kakao user id given as a string: 1 to 19 decimal digits, no leading zero, no sign,
 * at most 9223372036854775807.
 *
 * @example
 * ```ts
 * isKakaoId('1376016924429759228'); // true
 * isKakaoId('0042'); // false
 * ```
 */
export function isKakaoId(value: unknown): value is string {
  return typeof value === 'string' && ID_DIGITS.test(value) && BigInt(value) <= MAX_KAKAO_ID;
}

/**
 * The Kakao user id in a parsed JSON value, as its exact decimal string, or `undefined` when the value
 * is not one. Accepts a positive safe integer (`4120937465`) or a string that {@link isKakaoId}
 * accepts (how `parseJsonExactIntegers` hands over ids beyond 2^53). A number beyond 2^53 has already
 * been rounded by the JSON parser, so it is refused rather than trusted.
 *
 * @example
 * ```ts
 * parseKakaoId(4120937465); // '4120937465'
 * parseKakaoId('1376016924429759228'); // '1376016924429759228'
 * parseKakaoId(0); // undefined
 * ```
 */
export function parseKakaoId(value: unknown): string | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value > 0 ? String(value) : undefined;
  }
  return isKakaoId(value) ? value : undefined;
}
