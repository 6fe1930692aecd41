import { DEFAULT_RESERVED_PREFIXES, sanitizeReturnTo } from '../../lib/return-to';

const ORIGIN = 'https://app.example';
const sanitize = (value: unknown, reservedPrefixes?: readonly string[]) =>
  sanitizeReturnTo(
    value,
    reservedPrefixes === undefined ? { origin: ORIGIN } : { origin: ORIGIN, reservedPrefixes },
  );

describe('sanitizeReturnTo', () => {
  describe('keeps same-origin paths exactly as given', () => {
    it.each([
      ['the root', '/'],
      ['a path with query and fragment', '/dashboard?tab=1#x'],
      ['a non-ASCII path', '/한글'],
      ['a percent-encoded non-ASCII path', '/%ED%95%9C%EA%B8%80'],
      ['a path that merely starts like a reserved one', '/authors'],
      ['a path with an encoded space', '/a%20b'],
      ['a path with a double slash later on', '/a//b'],
      ['a path of exactly 2048 characters', `/${'a'.repeat(2047)}`],
      ['a path with dot segments that stays outside reserved ones', '/a/./b/../c'],
    ])('%s', (_name, value) => {
      expect(sanitize(value)).toBe(value);
    });
  });

  describe('falls back to / for', () => {
    it.each<[string, unknown]>([
      ['a protocol-relative URL', '//evil.com'],
      ['a backslash as second character', '/\\evil.com'],
      ['a backslash later in the path', '/a\\b'],
      ['a percent-encoded backslash', '/%5Cevil.com'],
      ['a lower-case percent-encoded backslash', '/%5cevil.com'],
      ['percent-encoded slashes forming //', '/%2F%2Fevil.com'],
      ['a single percent-encoded slash forming //', '/%2fevil.com'],
      ['an absolute URL', 'https://evil.com'],
      ['an absolute URL to the app itself', 'https://app.example/x'],
      ['a scheme without slashes', 'https:evil.com'],
      ['a scheme-relative host with http', 'http:www.evil.com'],
      ['a javascript: URL', 'javascript:alert(1)'],
      ['a relative path without a leading slash', 'dashboard'],
      ['CRLF injection', '/a\r\nSet-Cookie:x'],
      ['percent-encoded CRLF', '/a%0d%0aSet-Cookie:x'],
      ['a leading tab', '\t/x'],
      ['a tab between slashes', '/\t/evil.com'],
      ['a percent-encoded tab between slashes', '/%09/evil.com'],
      ['a NUL byte', '/a\x00b'],
      ['DEL', '/a\x7fb'],
      ['a leading space', ' /x'],
      ['a malformed percent-escape', '/%E0%A4%A'],
      ['a lone percent sign', '/100%'],
      ['the callback route', '/auth/kakao/callback?code=x'],
      ['the login route in upper case', '/AUTH/kakao'],
      ['the reserved prefix itself', '/auth'],
      ['the reserved prefix with a query', '/auth?x=1'],
      ['the reserved prefix with a fragment', '/logout#x'],
      ['logout', '/logout'],
      ['logout with a trailing slash', '/logout/'],
      ['the webhook', '/webhooks/kakao'],
      ['a dot segment in front of a reserved path', '/./auth/kakao'],
      ['a parent segment climbing into a reserved path', '/x/../auth'],
      ['percent-encoded dot segments', '/x/%2e%2e/auth/kakao'],
      ['a percent-encoded reserved path', '/%61uth/kakao'],
      ['a percent-encoded slash inside a reserved path', '/auth%2Fkakao'],
      ['a path of 2049 characters', `/${'a'.repeat(2048)}`],
      ['an empty string', ''],
      ['an array (repeated parameter)', ['/a', '/b']],
      ['an array of one path', ['/dashboard']],
      ['an object (extended query parser)', { a: '/x' }],
      ['a number', 42],
      ['undefined', undefined],
      ['null', null],
    ])('%s', (_name, value) => {
      expect(sanitize(value)).toBe('/');
    });
  });

  it('uses custom reserved prefixes instead of the defaults', () => {
    expect(sanitize('/admin/users', ['/admin'])).toBe('/');
    expect(sanitize('/Admin', ['/admin/'])).toBe('/');
    expect(sanitize('/logout', ['/admin'])).toBe('/logout');
  });

  it('reserves the auth routes, logout and webhooks by default', () => {
    expect(DEFAULT_RESERVED_PREFIXES).toEqual(['/auth', '/logout', '/webhooks']);
  });

  it('rejects an origin that is not a URL, as a configuration mistake', () => {
    expect(() => sanitizeReturnTo('/', { origin: 'app.example' })).toThrow(TypeError);
    expect(() => sanitizeReturnTo('/', { origin: 'file:///etc' })).toThrow(/absolute http\(s\) URL/);
  });

  it('compares origins, not strings, so a configured origin with a path still works', () => {
    expect(sanitizeReturnTo('/x', { origin: 'https://app.example/some/path' })).toBe('/x');
  });
});
