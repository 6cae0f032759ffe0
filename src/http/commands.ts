/**
 * The reactor commands both the REST paths and the reactor WebSocket offer, with the answers
 * they fail with: an unknown reactor is a 404, a reactor that cannot fire now (the runtime not
 * started, the reactor not yet live, or paused) a 503 or 409, and a malformed command a 400.
 */
import { InvalidArgumentError, RegistrationError } from '../model/errors.js';
import type { FireRecord } from '../reactor/records.js';
import type { KeyHandle, ReactorHandle } from '../reactor/handle.js';
import type { Runtime } from '../runtime/runtime.js';
import { HttpError } from './json.js';

/** The handle of reactor `name`; a 404 when there is none. */
export function reactorNamed(runtime: Runtime, name: string): ReactorHandle {
  try {
    return runtime.reactor(name);
  } catch (error) {
    if (error instanceof RegistrationError) throw new HttpError(404, error.message, { reactor: name });
    throw error;
  }
}

/** The handle of key `key` of reactor `reactor`; a 404 when the reactor has no keys. */
export function keyOf(reactor: ReactorHandle, key: string): KeyHandle {
  try {
    return reactor.key(key);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new HttpError(404, error.message, { reactor: reactor.name });
    throw error;
  }
}

/** True when `value` is a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Fires reactor `name` (or only its key `key`): `force_fire` with its cache, or `fire_with`
 * replacing the cache by `inputs` first. Resolves to the record of its first graph. A key of a
 * reactor without keys is a 404.
 */
export async function fire(
  runtime: Runtime,
  name: string,
  mode: unknown,
  inputs: unknown,
  key?: string,
): Promise<FireRecord> {
  const reactor = reactorNamed(runtime, name);
  const target = key === undefined ? reactor : keyOf(reactor, key);
  if (mode !== 'force_fire' && mode !== 'fire_with') {
    throw new HttpError(400, `'mode' must be 'force_fire' or 'fire_with', got ${JSON.stringify(mode) ?? 'nothing'}`);
  }
  if (mode === 'fire_with' && !isObject(inputs)) {
    throw new HttpError(400, `mode 'fire_with' needs 'inputs', an object of source -> value`);
  }
  if (runtime.state !== 'started') {
    throw new HttpError(
      503,
      `the runtime is ${runtime.state}: nothing fires`,
      { reactor: name },
      { 'retry-after': '1' },
    );
  }
  const { health, paused } = reactor.getState();
  if (paused) throw new HttpError(409, `reactor '${name}' is paused: nothing fired`, { reactor: name, paused: true });
  if (health !== 'live' && health !== 'degraded') {
    throw new HttpError(
      503,
      `reactor '${name}' is ${health}: nothing fires before it is live`,
      { reactor: name },
      { 'retry-after': '1' },
    );
  }
  const record = await (mode === 'fire_with' ? target.fireWith(inputs as Record<string, unknown>) : target.forceFire());
  if (record === undefined) {
    // Paused between the check and the firing's turn, or no graph is bound to the reactor.
    if (reactor.getState().paused) {
      throw new HttpError(409, `reactor '${name}' is paused: nothing fired`, { reactor: name, paused: true });
    }
    throw new HttpError(409, `reactor '${name}' has no graph bound to it: nothing ran`, { reactor: name });
  }
  return record;
}
