/**
 * Duration strings: an unsigned integer and a unit, `ms`, `s`, `m` or `h` (`'100ms'`, `'5s'`,
 * `'1m'`, `'2h'`). Stricter than the reference parser, which also takes `'+5s'` and surrounding
 * blanks: anything else is an error that names the string.
 */
import { describe } from './describe.js';
import { ConfigurationError } from './errors.js';

const kPattern = /^(\d+)(ms|s|m|h)$/;
const kUnitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration string into milliseconds. `component` names what the duration configures,
 * for the error message. Throws {@link ConfigurationError}.
 */
export function parseDuration(value: unknown, component: string): number {
  const match = typeof value === 'string' ? kPattern.exec(value) : null;
  if (match === null) {
    throw new ConfigurationError(
      component,
      value,
      `${component}: ${describe(value)} is not a duration; expected an unsigned integer and a unit ms, s, m or h, such as '100ms', '5s', '1m' or '2h'`,
    );
  }
  const ms = Number(match[1]) * kUnitMs[match[2]!]!;
  if (!Number.isSafeInteger(ms)) {
    throw new ConfigurationError(component, value, `${component}: duration '${value as string}' is too large`);
  }
  return ms;
}
