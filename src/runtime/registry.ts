/**
 * The runtime's registry: accumulators, reactors and graphs by name, and the wiring checks made
 * at `start()` before anything runs. Accumulators and reactors share one namespace (both are
 * addressed by name from outside: `push`, `reactor()`, the ops server); graphs have their own.
 */
import { instantiate, isAccumulatorDeclaration, type Accumulator } from '../accumulators/accumulator.js';
import { ComputationGraph } from '../graph/computation-graph.js';
import { describe } from '../model/describe.js';
import { RegistrationError } from '../model/errors.js';
import { isReactorLike, toReactorDeclaration, type ReactorDeclaration } from '../model/reactor-declaration.js';
import type { LiveReactor } from '../reactor/live-reactor.js';

export class Registry {
  readonly accumulators = new Map<string, Accumulator>();
  readonly reactors = new Map<string, LiveReactor>();
  readonly graphs = new Map<string, ComputationGraph>();
  readonly #makeReactor: (declaration: ReactorDeclaration) => LiveReactor;

  constructor(makeReactor: (declaration: ReactorDeclaration) => LiveReactor) {
    this.#makeReactor = makeReactor;
  }

  /** Registers accumulators, reactors and built graphs. Throws RegistrationError naming the one at fault. */
  register(components: readonly unknown[]): void {
    for (const component of components) {
      if (isAccumulatorDeclaration(component)) {
        this.#claim(component.name, 'accumulator');
        this.accumulators.set(component.name, instantiate(component));
      } else if (component instanceof ComputationGraph) {
        if (this.graphs.has(component.name)) {
          throw new RegistrationError(
            component.name,
            `runtime.register: a graph named '${component.name}' is already registered`,
          );
        }
        if (component.reactor === null) {
          throw new RegistrationError(
            component.name,
            `runtime.register: graph '${component.name}' has no reactor, so nothing would fire it; run trigger-less graphs with graph.execute(context)`,
          );
        }
        this.graphs.set(component.name, component);
      } else if (isReactorLike(component)) {
        const declaration = toReactorDeclaration(component);
        this.#claim(declaration.name, 'reactor');
        this.reactors.set(declaration.name, this.#makeReactor(declaration));
      } else {
        throw new RegistrationError(
          '',
          `runtime.register: expected an accumulator, a reactor or a built graph, got ${describe(component)}`,
        );
      }
    }
  }

  /** The accumulator `name`; throws RegistrationError listing the registered ones. */
  accumulator(name: string, caller: string): Accumulator {
    const accumulator = this.accumulators.get(name);
    if (accumulator === undefined) {
      throw new RegistrationError(
        name,
        `${caller}: no accumulator named '${name}' (registered: ${[...this.accumulators.keys()].join(', ') || 'none'})`,
      );
    }
    return accumulator;
  }

  /** The reactor `name`; throws RegistrationError listing the registered ones. */
  reactor(name: string, caller: string): LiveReactor {
    const reactor = this.reactors.get(name);
    if (reactor === undefined) {
      throw new RegistrationError(
        name,
        `${caller}: no reactor named '${name}' (registered: ${[...this.reactors.keys()].join(', ') || 'none'})`,
      );
    }
    return reactor;
  }

  /** Throws RegistrationError naming the first reactor, graph or feedback wired to something missing. */
  checkWiring(): void {
    for (const { declaration: reactor } of this.reactors.values()) {
      const missing = reactor.accumulators.filter((a) => !this.accumulators.has(a));
      if (missing.length > 0) {
        throw new RegistrationError(
          reactor.name,
          `runtime.start: reactor '${reactor.name}' reads accumulator${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not registered`,
        );
      }
    }
    for (const graph of this.graphs.values()) {
      const declared = graph.reactor!;
      const registered = this.reactors.get(declared.name)?.declaration;
      if (registered === undefined) {
        throw new RegistrationError(
          declared.name,
          `runtime.start: graph '${graph.name}' is bound to reactor '${declared.name}', which is not registered`,
        );
      }
      if (registered !== declared && JSON.stringify(registered) !== JSON.stringify(declared)) {
        throw new RegistrationError(
          declared.name,
          `runtime.start: graph '${graph.name}' was built with a different declaration of reactor '${declared.name}' than the one registered`,
        );
      }
      const feedback = graph.feedback;
      if (feedback !== null && this.accumulators.get(feedback.accumulator)?.writeFeedback === undefined) {
        throw new RegistrationError(
          feedback.accumulator,
          `runtime.start: graph '${graph.name}' feeds back into '${feedback.accumulator}', which is not a registered state accumulator`,
        );
      }
    }
  }

  #claim(name: string, kind: string): void {
    if (this.accumulators.has(name) || this.reactors.has(name)) {
      throw new RegistrationError(
        name,
        `runtime.register: an accumulator or reactor named '${name}' is already registered; cannot register ${kind} '${name}'`,
      );
    }
  }
}
