/**
 * Reactor declarations: which accumulators feed a reactor and when it fires.
 *
 * `reactor({...})` validates its options eagerly and returns a declaration that is also a class
 * decorator, so both forms of the Python API work:
 *
 *     export const R = reactor({ name: 'r', accumulators: ['a'] });
 *     @reactor({ name: 'r', accumulators: ['a'] }) class R {}
 *
 * Anything that accepts a reactor (`ComputationGraphBuilder`, `Runtime.register`) resolves it with
 * {@link toReactorDeclaration}: a declaration, a decorated class, or a plain object of the same
 * shape (validated then, with the same errors).
 */
import { describe } from './describe.js';
import { ConfigurationError, InvalidArgumentError, TopologyError } from './errors.js';
import { parseDuration } from './duration.js';
import { rejectUnknownKeys, requireOneOf, requireOptionsObject, requirePositiveInteger } from './options.js';

/** When a reactor fires: on any new source value, or once every source has delivered. */
export const ReactionMode = { WhenAny: 'when_any', WhenAll: 'when_all' } as const;
export type ReactionMode = (typeof ReactionMode)[keyof typeof ReactionMode];

/** What a firing sees: the newest value of each source, or every boundary in order. */
export const InputStrategy = { Latest: 'latest', Sequential: 'sequential' } as const;
export type InputStrategy = (typeof InputStrategy)[keyof typeof InputStrategy];

/** The options of {@link reactor}. */
export interface ReactorOptions {
  /** Unique reactor name. */
  name: string;
  /** The accumulators (sources) that feed it, at least one, no duplicates. */
  accumulators: readonly string[];
  /**
   * Reaction criterion.
   * @default 'when_any'
   * @example reactor({ name: 'quotes', accumulators: ['bid', 'ask'], mode: 'when_all' })
   */
  mode?: ReactionMode;
  /**
   * Input strategy.
   * @default 'latest'
   * @example reactor({ name: 'trades', accumulators: ['fills'], strategy: 'sequential' })
   */
  strategy?: InputStrategy;
  /**
   * Makes the reactor keyed: every key has its own cache, dirty flags, sequential queue and
   * criterion; firings of one key never overlap, different keys fire concurrently. A string
   * names a field of each boundary value; a function reads the key from `(value, source)`. Keys
   * are strings or finite numbers, compared by their string form.
   * @example reactor({ name: 'quotes', accumulators: ['trades'], strategy: 'sequential', key: 'symbol' })
   */
  key?: string | KeyReader;
  /**
   * Sources of a keyed reactor shared by every key: their value goes to every key's cache, and
   * their boundaries mark no key dirty and fire nothing by themselves.
   * @default the polling accumulators among `accumulators`
   * @example reactor({ name: 'quotes', accumulators: ['trades', 'limits'], key: 'symbol', broadcast: ['limits'] })
   */
  broadcast?: readonly string[];
  /**
   * Keys of a keyed reactor firing at once.
   * @default 16, or the runtime's `threads` when that is more
   * @example reactor({ name: 'quotes', accumulators: ['trades'], key: 'symbol', keyConcurrency: 4 })
   */
  keyConcurrency?: number;
  /**
   * Keys a keyed reactor holds at once; a boundary for a new key beyond it is refused like
   * backpressure (`push` returns false) unless `keyIdle` frees room.
   * @default 100000
   * @example reactor({ name: 'quotes', accumulators: ['trades'], key: 'symbol', maxKeys: 10_000 })
   */
  maxKeys?: number;
  /**
   * Forgets a key that has had an empty queue and no boundary for this long (a duration such as
   * `'10m'`); it starts again empty, in memory and in the checkpoint. Unset: keys are kept.
   * @example reactor({ name: 'quotes', accumulators: ['trades'], key: 'symbol', keyIdle: '10m' })
   */
  keyIdle?: string;
}

/** Reads the key of a boundary of a keyed reactor from the value its accumulator emitted. */
export type KeyReader = (value: unknown, source: string) => string | number;

/** What the optional {@link ReactorOptions} default to. */
const reactorDefaults = { mode: ReactionMode.WhenAny, strategy: InputStrategy.Latest, maxKeys: 100_000 } as const;

/** Keys firing at once when `keyConcurrency` is not set: this, or the pool's threads when more. */
export const kDefaultKeyConcurrency = 16;

/** How a keyed reactor reads and bounds its keys (see {@link ReactorOptions}). */
export interface KeyedDeclaration {
  /** The field named by `key`, or undefined when `read` is the user's function. */
  readonly field: string | undefined;
  /** Reads a boundary's key (the field, or the user's function). */
  readonly read: KeyReader;
  /** The broadcast sources, or undefined for the default (the polling accumulators). */
  readonly broadcast: readonly string[] | undefined;
  /** Undefined for the default (see {@link kDefaultKeyConcurrency}). */
  readonly keyConcurrency: number | undefined;
  /** Most keys held at once. */
  readonly maxKeys: number;
  /** Milliseconds, or undefined when keys are kept. */
  readonly keyIdleMs: number | undefined;
}

/** A validated, frozen reactor declaration. */
export interface ReactorDeclaration {
  readonly name: string;
  readonly accumulators: readonly string[];
  readonly mode: ReactionMode;
  readonly strategy: InputStrategy;
  /** How the reactor is keyed, or undefined for a reactor without keys. */
  readonly keyed?: KeyedDeclaration;
}

/**
 * What {@link reactor} returns: the declaration's fields, callable as a class decorator
 * (TypeScript 5 standard decorators or legacy `experimentalDecorators`).
 */
export interface ReactorDefinition extends ReactorDeclaration {
  <C extends abstract new (...args: never[]) => unknown>(target: C, context?: ClassDecoratorContext<C>): C;
}

/** Anything accepted where a reactor is expected. */
export type ReactorLike = ReactorDeclaration | ReactorDefinition | (abstract new (...args: never[]) => unknown);

const kReactor = Symbol.for('cloaca.reactor');
const kModes: readonly ReactionMode[] = Object.values(ReactionMode);
const kStrategies: readonly InputStrategy[] = Object.values(InputStrategy);
const kOptionKeys = [
  'name',
  'accumulators',
  'mode',
  'strategy',
  'key',
  'broadcast',
  'keyConcurrency',
  'maxKeys',
  'keyIdle',
];
const kKeyedOptions = ['broadcast', 'keyConcurrency', 'maxKeys', 'keyIdle'] as const;

/**
 * Declares a reactor. Throws {@link TopologyError} (its `cause` the ConfigurationError of the check) for an empty name, an empty or duplicated
 * accumulator list, an unknown mode or strategy, or bad keyed options (a `key` that is neither a
 * field name nor a function, broadcast sources it does not read, a bound that is not a positive
 * integer, a malformed `keyIdle`, keyed options without `key`).
 *
 * @example
 * export const Prices = reactor({ name: 'prices', accumulators: ['bid', 'ask'], mode: 'when_all' });
 */
export function reactor(options: ReactorOptions): ReactorDefinition {
  const declaration = validateReactorOptions(options);
  const decorate = function <C extends abstract new (...args: never[]) => unknown>(target: C): C {
    if (typeof target !== 'function') {
      throw new InvalidArgumentError(
        '@reactor target',
        target,
        `@reactor must decorate a class, got ${describe(target)}`,
      );
    }
    // Mirror the Python API's class attributes, and brand the class so it resolves back.
    for (const [key, value] of [
      ['NAME', declaration.name],
      ['ACCUMULATORS', declaration.accumulators],
      ['REACTION_MODE', declaration.mode],
      ['INPUT_STRATEGY', declaration.strategy],
      [kReactor, declaration],
    ] as const) {
      Object.defineProperty(target, key, { value, enumerable: false });
    }
    return target;
  };
  Object.defineProperty(decorate, 'name', { value: declaration.name, enumerable: true });
  Object.defineProperty(decorate, 'accumulators', { value: declaration.accumulators, enumerable: true });
  Object.defineProperty(decorate, 'mode', { value: declaration.mode, enumerable: true });
  Object.defineProperty(decorate, 'strategy', { value: declaration.strategy, enumerable: true });
  if (declaration.keyed !== undefined) {
    Object.defineProperty(decorate, 'keyed', { value: declaration.keyed, enumerable: true });
  }
  Object.defineProperty(decorate, kReactor, { value: declaration });
  return Object.freeze(decorate) as unknown as ReactorDefinition;
}

/** True for a declaration, a decorated class or a definition returned by {@link reactor}. */
export function isReactorLike(value: unknown): value is ReactorLike {
  return (
    (typeof value === 'function' || (typeof value === 'object' && value !== null)) &&
    (kReactor in (value as object) || ('accumulators' in (value as object) && 'name' in (value as object)))
  );
}

/**
 * Resolves anything reactor-like to its validated declaration; throws {@link TopologyError}
 * for bad options and {@link InvalidArgumentError} for something that is not a reactor at all.
 */
export function toReactorDeclaration(value: unknown): ReactorDeclaration {
  if ((typeof value === 'function' || (typeof value === 'object' && value !== null)) && kReactor in (value as object)) {
    return (value as Record<symbol, ReactorDeclaration>)[kReactor]!;
  }
  if (typeof value === 'object' && value !== null) {
    return validateReactorOptions(value as ReactorOptions);
  }
  throw new InvalidArgumentError(
    'reactor',
    value,
    `expected a reactor declared with reactor({...}) or a class decorated with @reactor, got ${describe(value)}`,
  );
}

/**
 * A bad reactor declaration is a topology fault, like a bad graph. The shared option checks throw
 * ConfigurationError; their message is kept and the error re-typed here, where declarations enter.
 */
function validateReactorOptions(options: ReactorOptions): ReactorDeclaration {
  try {
    return checkReactorOptions(options);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    const name = (options as { name?: unknown } | null)?.name;
    throw new TopologyError(typeof name === 'string' ? name : '', [], error.message, { cause: error });
  }
}

function checkReactorOptions(options: ReactorOptions): ReactorDeclaration {
  requireOptionsObject('reactor', options);
  const { name, accumulators, mode = reactorDefaults.mode, strategy = reactorDefaults.strategy } = options;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ConfigurationError('reactor', name, `reactor: 'name' must be a non-empty string, got ${describe(name)}`);
  }
  const owner = `reactor '${name}'`;
  rejectUnknownKeys(owner, options, kOptionKeys);
  if (!Array.isArray(accumulators) || accumulators.length === 0) {
    throw new ConfigurationError(
      owner,
      accumulators,
      `${owner}: 'accumulators' must be a non-empty array of names, got ${describe(accumulators)}`,
    );
  }
  const seen = new Set<string>();
  for (const accumulator of accumulators) {
    if (typeof accumulator !== 'string' || accumulator === '') {
      throw new ConfigurationError(
        owner,
        accumulator,
        `${owner}: accumulator names must be non-empty strings, got ${describe(accumulator)}`,
      );
    }
    if (seen.has(accumulator)) {
      throw new ConfigurationError(
        owner,
        accumulator,
        `${owner}: accumulator '${accumulator}' is listed more than once`,
      );
    }
    seen.add(accumulator);
  }
  requireOneOf(owner, 'mode', mode, kModes);
  requireOneOf(owner, 'strategy', strategy, kStrategies);
  const declaration = { name, accumulators: Object.freeze([...accumulators]), mode, strategy };
  const keyed = checkKeyedOptions(owner, options, seen);
  return Object.freeze(keyed === undefined ? declaration : { ...declaration, keyed });
}

/** The keyed part of a declaration, or undefined when `key` is not set (then no keyed option may be). */
function checkKeyedOptions(
  owner: string,
  options: ReactorOptions,
  sources: ReadonlySet<string>,
): KeyedDeclaration | undefined {
  const { key, broadcast, keyConcurrency, maxKeys = reactorDefaults.maxKeys, keyIdle } = options;
  if (key === undefined) {
    const stray = kKeyedOptions.find((option) => options[option] !== undefined);
    if (stray !== undefined) {
      throw new ConfigurationError(owner, options[stray], `${owner}: '${stray}' needs 'key' (a keyed reactor)`);
    }
    return undefined;
  }
  if (!(typeof key === 'function' || (typeof key === 'string' && key !== ''))) {
    throw new ConfigurationError(
      owner,
      key,
      `${owner}: 'key' must be a field name or a function (value, source) => key, got ${describe(key)}`,
    );
  }
  if (options.name.includes('\0')) {
    throw new ConfigurationError(owner, options.name, `${owner}: a keyed reactor's name cannot hold a NUL character`);
  }
  if (broadcast !== undefined) {
    if (!Array.isArray(broadcast)) {
      throw new ConfigurationError(
        owner,
        broadcast,
        `${owner}: 'broadcast' must be an array of its accumulators, got ${describe(broadcast)}`,
      );
    }
    for (const source of broadcast) {
      if (typeof source !== 'string' || !sources.has(source)) {
        throw new ConfigurationError(
          owner,
          source,
          `${owner}: broadcast source ${describe(source)} is not one of its accumulators`,
        );
      }
    }
    if (broadcast.length === sources.size) {
      throw new ConfigurationError(
        owner,
        broadcast,
        `${owner}: every source is broadcast: no boundary would carry a key`,
      );
    }
  }
  const field = typeof key === 'string' ? key : undefined;
  return Object.freeze({
    field,
    read: field === undefined ? (key as KeyReader) : (value: unknown) => readField(value, field),
    broadcast: broadcast === undefined ? undefined : Object.freeze([...broadcast]),
    keyConcurrency:
      keyConcurrency === undefined ? undefined : requirePositiveInteger(owner, 'keyConcurrency', keyConcurrency),
    maxKeys: requirePositiveInteger(owner, 'maxKeys', maxKeys),
    keyIdleMs: keyIdle === undefined ? undefined : requirePositiveDuration(owner, keyIdle),
  });
}

/** The field `field` of a boundary value (undefined when the value has none). */
function readField(value: unknown, field: string): string | number {
  return (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined) as
    string | number;
}

function requirePositiveDuration(owner: string, keyIdle: string): number {
  const ms = parseDuration(keyIdle, `${owner} keyIdle`);
  if (ms === 0) throw new ConfigurationError(owner, keyIdle, `${owner}: keyIdle '${keyIdle}' must be more than zero`);
  return ms;
}
