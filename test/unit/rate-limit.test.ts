import { createRateLimiter } from '../../lib/rate-limit';

describe('createRateLimiter', () => {
  test('allows max hits per window and key, gives credited hits back, and refuses until the window ends', () => {
    let now = 0;
    const { hit, credit } = createRateLimiter({ max: 3, windowMs: 1000, now: () => now });
    expect([hit('a'), hit('a'), hit('a'), hit('a'), hit('b')]).toEqual([true, true, true, false, true]);
    credit('a');
    credit('a');
    expect([hit('a'), hit('a')]).toEqual([true, false]);
    now = 1000;
    expect(hit('a')).toBe(true);
  });

  test('keeps at most maxKeys keys', () => {
    let now = 0;
    const { hit } = createRateLimiter({ max: 1, windowMs: 1000, maxKeys: 2, now: () => now });
    hit('a');
    hit('b');
    hit('c'); // evicts the oldest ("a")
    expect(hit('a')).toBe(true);
    now = 5;
    expect(hit('a')).toBe(false);
  });
});
