import { parseJsonExactIntegers } from '../../lib/json';

describe('parseJsonExactIntegers', () => {
  it('keeps a 19-digit id exact as a decimal string', () => {
    expect(parseJsonExactIntegers('{"id":1376016924429759228}')).toEqual({ id: '1376016924429759228' });
  });

  it('keeps every large integer in an array exact', () => {
    expect(parseJsonExactIntegers('{"elements":[1376016924429759228, 9223372036854775807,42]}')).toEqual({
      elements: ['1376016924429759228', '9223372036854775807', 42],
    });
  });

  it('keeps a large negative integer exact', () => {
    expect(parseJsonExactIntegers('[-9223372036854775808]')).toEqual(['-9223372036854775808']);
  });

  it('leaves Number.MAX_SAFE_INTEGER a number and quotes the next integer', () => {
    expect(parseJsonExactIntegers('[9007199254740991,9007199254740992,-9007199254740991]')).toEqual([
      9007199254740991,
      '9007199254740992',
      -9007199254740991,
    ]);
  });

  it('leaves small integers as numbers', () => {
    expect(parseJsonExactIntegers('{"id":4120937465,"n":0,"m":-1}')).toEqual({ id: 4120937465, n: 0, m: -1 });
  });

  it('leaves floats and exponents untouched, however many digits they have', () => {
    const text = '[1376016924429759228.5, 1e400, 12345678901234567890e2, 1.5E+20, -12345678901234567890.0]';
    const parsed = parseJsonExactIntegers(text);
    expect(parsed).toEqual(JSON.parse(text));
    expect((parsed as unknown[]).every((value) => typeof value === 'number')).toBe(true);
  });

  it('leaves numbers inside strings untouched', () => {
    expect(parseJsonExactIntegers('{"s":"id 1376016924429759228 here","t":"-12345678901234567890"}')).toEqual(
      {
        s: 'id 1376016924429759228 here',
        t: '-12345678901234567890',
      },
    );
  });

  it('handles escaped quotes and backslashes inside strings', () => {
    const text = '{"a":"x\\"1376016924429759228\\\\","b":1376016924429759228,"c":"\\\\\\"9"}';
    expect(parseJsonExactIntegers(text)).toEqual({
      a: 'x"1376016924429759228\\',
      b: '1376016924429759228',
      c: '\\"9',
    });
  });

  it('handles a key that looks like a number', () => {
    expect(parseJsonExactIntegers('{"1376016924429759228":1376016924429759228}')).toEqual({
      '1376016924429759228': '1376016924429759228',
    });
  });

  it('returns the same as JSON.parse for JSON without large integers', () => {
    const text = '{"a":[1,2.5,-3e2,true,false,null,"x\\u0041"],"b":{"c":""}}';
    expect(parseJsonExactIntegers(text)).toEqual(JSON.parse(text));
  });

  it.each([
    ['empty input', ''],
    ['truncated JSON', '{"id":1376016924429759228'],
    ['an unterminated string', '{"id":"1376016924429759228}'],
    ['a large integer with a leading zero', '[01376016924429759228]'],
    ['a large integer used as an object key', '{1376016924429759228:1}'],
    ['a large integer glued to a word', '[1376016924429759228abc]'],
    ['two values side by side', '[1376016924429759228 1]'],
    ['a lone minus', '[-]'],
  ])('throws a SyntaxError on %s', (_name, text) => {
    expect(() => parseJsonExactIntegers(text)).toThrow(SyntaxError);
  });
});
