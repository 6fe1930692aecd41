/**
 * Small helpers shared across the library, one copy each.
 */

/**
 * Largest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days). Longer delays, and so
 * `AbortSignal.timeout` with a longer deadline, fire after 1 ms instead, so every timeout option is
 * capped here.
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * True for a non-null object that is not an array: the shape of a parsed JSON object.
 *
 * @example
 * ```ts
 * isPlainObject({ id: 1 }); // true
 * isPlainObject([1]); // false
 * ```
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * ```ts
 * await sleep(50);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Escapes text for HTML element content and double-quoted attribute values: `&`, `<`, `>`, `"` and `'`
 * become numeric character references.
 *
 * @example
 * ```ts
 * escapeHtml('<a href="x">'); // '&#60;a href=&#34;x&#34;&#62;'
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
