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
import { rejectUnknownKeys, requireOneOf, requireOptionsObject } from './options.js';

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
}

/** What the optional {@link ReactorOptions} default to. */
const reactorDefaults = { mode: ReactionMode.WhenAny, strategy: InputStrategy.Latest } as const;

/** A validated, frozen reactor declaration. */
export interface ReactorDeclaration {
  readonly name: string;
  readonly accumulators: readonly string[];
  readonly mode: ReactionMode;
  readonly strategy: InputStrategy;
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
const kOptionKeys = ['name', 'accumulators', 'mode', 'strategy'];

/**
 * Declares a reactor. Throws {@link TopologyError} (its `cause` the ConfigurationError of the check) for an empty name, an empty or duplicated
 * accumulator list, or an unknown mode or strategy.
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
  return Object.freeze({ name, accumulators: Object.freeze([...accumulators]), mode, strategy });
}
