/** Duration strings (src/model/duration.ts): the accepted forms and the errors that name the string. */
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/model/duration.js';
import { ConfigurationError } from '../../src/model/errors.js';

describe('parseDuration', () => {
  it.each([
    ['0ms', 0],
    ['100ms', 100],
    ['5s', 5_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text, 'poll interval')).toBe(ms);
  });

  it.each(['', '5', 's', '+5s', ' 5s', '5s ', '1.5s', '-1s', '5 s', '5S', '5sec', '1d'])(
    'refuses %j and names the component and the string',
    (text) => {
      expect(() => parseDuration(text, 'poll interval')).toThrow(ConfigurationError);
      expect(() => parseDuration(text, 'poll interval')).toThrow(/^poll interval: .* is not a duration/);
    },
  );

  it('refuses values that are not strings, printing them', () => {
    expect(() => parseDuration(5000, 'flushInterval')).toThrow(/flushInterval: 5000 \(number\) is not a duration/);
    expect(() => parseDuration(undefined, 'flushInterval')).toThrow(
      /flushInterval: undefined \(undefined\) is not a duration/,
    );
  });

  it('refuses a duration past the safe integers', () => {
    expect(() => parseDuration('99999999999999999h', 'keyIdle')).toThrow(
      /keyIdle: duration '99999999999999999h' is too large/,
    );
  });
});
