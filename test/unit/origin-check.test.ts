import { isSameOriginPost } from '../../lib/origin-check';

const APP = 'https://app.example';

describe('isSameOriginPost', () => {
  test.each([
    [{}, true],
    [{ origin: APP }, true],
    [{ origin: APP, 'sec-fetch-site': 'same-origin' }, true],
    [{ 'sec-fetch-site': 'none' }, true],
    [{ origin: 'null' }, false],
    // Chromium on a page served with Referrer-Policy: no-referrer (helmet's default).
    [{ origin: 'null', 'sec-fetch-site': 'same-origin' }, true],
    [{ origin: 'null', 'sec-fetch-site': 'cross-site' }, false],
    [{ origin: 'null', 'sec-fetch-site': 'same-site' }, false],
    [{ origin: 'null', 'sec-fetch-site': 'none' }, false],
    [{ origin: 'https://evil.example' }, false],
    [{ origin: 'https://app.example.evil.example' }, false],
    [{ origin: `${APP}/` }, false],
    [{ 'sec-fetch-site': 'cross-site' }, false],
    [{ 'sec-fetch-site': 'same-site' }, false],
    [{ origin: APP, 'sec-fetch-site': 'cross-site' }, false],
    [{ origin: [APP, APP] }, false],
  ])('%j → %s', (headers, expected) => {
    expect(isSameOriginPost(headers, APP)).toBe(expected);
  });
});
