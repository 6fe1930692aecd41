const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const PLUS = 0x2b;
const COLON = 0x3a;
const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER);

/**
 * Parses JSON like `JSON.parse`, except that integer literals beyond `Number.MAX_SAFE_INTEGER` in absolute
 * value become exact decimal strings instead of rounded numbers.
 *
 * Kakao user ids are 64-bit longs and 19-digit ids occur (`/v2/user/me`, `/v1/user/ids`); plain
 * `JSON.parse` would silently turn `1376016924429759228` into `1376016924429759200`. Numbers with a
 * fraction or an exponent, numbers inside strings and safe integers are left alone.
 *
 * @param text - The JSON text.
 * @throws SyntaxError when `text` is not valid JSON (exactly when `JSON.parse` would throw).
 * @example
 * ```ts
 * parseJsonExactIntegers('{"id":1376016924429759228}'); // { id: '1376016924429759228' }
 * ```
 */
export function parseJsonExactIntegers(text: string): unknown {
  let out = '';
  let copiedUpTo = 0;
  let inString = false;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 2;
      else {
        if (c === QUOTE) inString = false;
        i += 1;
      }
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      i += 1;
      continue;
    }
    if (c !== MINUS && !isDigit(c)) {
      i += 1;
      continue;
    }

    const start = i;
    if (c === MINUS) i += 1;
    const digitsStart = i;
    while (i < length && isDigit(text.charCodeAt(i))) i += 1;
    const digitsEnd = i;
    let integer = true;
    // Consume the whole number token so that fraction and exponent digits are never taken for integers.
    while (i < length && isNumberChar(text.charCodeAt(i))) {
      integer = false;
      i += 1;
    }
    if (integer && isUnsafe(text, digitsStart, digitsEnd) && !followedByColon(text, i)) {
      out += text.slice(copiedUpTo, start) + '"' + text.slice(start, i) + '"';
      copiedUpTo = i;
    }
  }
  if (copiedUpTo === 0) return JSON.parse(text);
  return JSON.parse(out + text.slice(copiedUpTo));
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isNumberChar(c: number): boolean {
  return isDigit(c) || c === DOT || c === PLUS || c === MINUS || c === 0x65 || c === 0x45;
}

/**
 * True for a well-formed JSON integer (no leading zero) beyond the safe range. Malformed literals are
 * left as they are so that `JSON.parse` still rejects them.
 */
function isUnsafe(text: string, start: number, end: number): boolean {
  const digits = end - start;
  if (digits === 0 || text.charCodeAt(start) === ZERO) return false;
  if (digits !== MAX_SAFE_DIGITS.length) return digits > MAX_SAFE_DIGITS.length;
  return text.slice(start, end) > MAX_SAFE_DIGITS;
}

/** A number followed by `:` sits where an object key belongs; quoting it would make invalid JSON valid. */
function followedByColon(text: string, from: number): boolean {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c === COLON;
    i += 1;
  }
  return false;
}
