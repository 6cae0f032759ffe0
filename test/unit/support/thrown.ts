/** The error `run` throws, checked to be an instance of `type`; fails the test when it throws nothing. */
import { expect } from 'vitest';

export function thrown<E extends Error>(type: abstract new (...args: never[]) => E, run: () => unknown): E {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}`);
}
