/**
 * Shared fast-check settings of the fuzz suite: a fixed seed so that `npm test` is deterministic, and
 * run counts that `npm run fuzz` raises through the environment.
 *
 * - `FUZZ_SEED`: the seed (default 4242). A failure report prints seed and path; rerun with that seed.
 * - `FUZZ_RUNS`: runs of each pure property (default 2000).
 * - `FUZZ_HTTP_RUNS`: runs of each HTTP-level property (default `FUZZ_RUNS / 8`, so 250).
 */
import fc from 'fast-check';

/** Runs of each pure property. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
/** Runs of each property that goes through the example app over HTTP. */
export const FUZZ_HTTP_RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? Math.max(50, Math.round(FUZZ_RUNS / 8)));
/** The seed every property starts from. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 4242);

/** Applies the seed and run count to every `fc.assert` of the calling test file. */
export function configureFuzzing(): void {
  fc.configureGlobal({ seed: FUZZ_SEED, numRuns: FUZZ_RUNS });
}

/**
 * A jest timeout for a property of `runs` runs that each take up to `msPerRun`: generous, since the
 * machine is shared, but finite.
 */
export function timeoutFor(runs: number, msPerRun: number): number {
  return Math.max(30_000, runs * msPerRun * 4);
}

/**
 * Text an attacker would try: fragments that matter to URL parsers and query parsers, glued together
 * with arbitrary characters.
 */
export const HOSTILE_FRAGMENTS: readonly string[] = [
  '/',
  '//',
  '\\',
  '/\\',
  '%2F',
  '%2f',
  '%5C',
  '%5c',
  '%0d%0a',
  '%00',
  '%',
  '%2',
  '%zz',
  '%252F',
  '..',
  '.',
  '%2e',
  '%2E%2E',
  '?',
  '#',
  '&',
  '=',
  '@',
  ':',
  ';',
  '[',
  ']',
  '[]',
  '[$ne]',
  '__proto__',
  'constructor',
  'http:',
  'https:',
  'javascript:',
  'evil.example',
  'auth',
  'AUTH',
  'logout',
  'webhooks',
  'kakao',
  'callback',
  '\t',
  '\n',
  '\r',
  ' ',
  '\u0000',
  '\u007f',
  '\u3002',
  '\uff0f',
  '\u2215',
  '\ufeff',
  '한글',
];

/** Strings built from {@link HOSTILE_FRAGMENTS} and arbitrary characters, up to `maxParts` pieces. */
export function hostileString(maxParts = 12): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_FRAGMENTS) },
        { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
      ),
      { maxLength: maxParts },
    )
    .map((parts) => parts.join(''));
}
