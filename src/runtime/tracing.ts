/**
 * Optional OpenTelemetry tracing of firings (`new Runtime({ tracing: true })`), through
 * `@opentelemetry/api`, an optional peer dependency loaded only then. Without a tracer provider
 * registered the API hands out non-recording spans and nothing is propagated.
 *
 * - One span per graph run of a firing (`fire <graph>`), started on the main thread when the
 *   run starts and ended with its fire record (status ERROR and the message when it failed).
 * - One child span per node that ran (`node <node>`), created on the main thread when its
 *   unit's reply arrives, timed by the duration measured where the node ran (a worker): it ends
 *   when the reply arrived and starts that duration earlier; the nodes of a fused chain are laid
 *   end to end.
 * - Trace context crosses into the workers with each unit of a traced run (`run-observer.ts`).
 *   A node's `host.push` carries it back, and the firing that boundary causes is parented to
 *   the pushing firing's span (its first origin; any further origins of a `latest` firing that
 *   collapsed several pushes become links), so a chain of graphs feeding each other is one trace.
 */
import { performance } from 'node:perf_hooks';
import type { Link, Span, SpanContext, Tracer } from '@opentelemetry/api';
import { ConfigurationError } from '../model/errors.js';
import type { GraphPlan } from '../model/plan.js';
import { InputStrategy } from '../model/reactor-declaration.js';
import type { LiveReactor } from '../reactor/live-reactor.js';
import type { FireRecord } from '../reactor/records.js';

type OtelApi = typeof import('@opentelemetry/api');

/** Origins a reactor keeps for its next firing, and sequential boundaries kept waiting: bounds. */
const kMaxOrigins = 32;
const kMaxQueuedOrigins = 10_000;

/** The span of one traced graph run. */
export interface TracedRun {
  readonly span: Span;
  /** What travels with the run's units; undefined when the span does not record. */
  readonly traceparent: string | undefined;
}

/** Loads `@opentelemetry/api`; a ConfigurationError says how to install it when it is missing. */
export async function loadTracing(): Promise<Tracing> {
  let api: OtelApi;
  try {
    api = await import('@opentelemetry/api');
  } catch (error) {
    throw new ConfigurationError(
      'Runtime',
      true,
      "Runtime: 'tracing: true' needs the optional peer dependency @opentelemetry/api (npm install @opentelemetry/api)",
      { cause: error },
    );
  }
  return new Tracing(api);
}

export class Tracing {
  readonly #api: OtelApi;
  readonly #tracer: Tracer;
  /** The trace context of the `host.push` being offered right now (set around the offer). */
  #origin: string | undefined;
  /** `latest` reactors: origins of the pushes delivered since the last firing. */
  readonly #pending = new Map<LiveReactor, string[]>();
  /** `sequential` reactors: the origin of each queued boundary that has one, by seq. */
  readonly #queued = new Map<LiveReactor, Map<number, string>>();
  /** The origins the current firing of a reactor took, shared by the graphs it runs. */
  readonly #taken = new Map<LiveReactor, { readonly firing: number; readonly origins: readonly string[] }>();

  constructor(api: OtelApi) {
    this.#api = api;
    this.#tracer = api.trace.getTracer('cloaca');
  }

  /** Runs `offer` (a traced node's `host.push`) with its origin current; remembers it for `feeds`. */
  offer(traceparent: string, feeds: readonly LiveReactor[], offer: () => boolean): boolean {
    this.#origin = traceparent;
    let accepted: boolean;
    try {
      accepted = offer();
    } finally {
      this.#origin = undefined;
    }
    if (accepted) {
      for (const reactor of feeds) {
        if (reactor.declaration.strategy !== InputStrategy.Latest) continue;
        let list = this.#pending.get(reactor);
        if (list === undefined) this.#pending.set(reactor, (list = []));
        if (list.length < kMaxOrigins) list.push(traceparent);
      }
    }
    return accepted;
  }

  /** A sequential boundary was queued: keep the origin being offered, if any, for its firing. */
  accepted(reactor: LiveReactor, seq: number): void {
    if (this.#origin === undefined) return;
    let bySeq = this.#queued.get(reactor);
    if (bySeq === undefined) this.#queued.set(reactor, (bySeq = new Map()));
    // A boundary applied without firing (when_all gating) never claims its entry: bound the map.
    if (bySeq.size >= kMaxQueuedOrigins) bySeq.delete(bySeq.keys().next().value!);
    bySeq.set(seq, this.#origin);
  }

  /** Starts the span of one graph run of a firing. */
  begin(reactor: LiveReactor, graph: string, seq: number, manual: boolean): TracedRun {
    const api = this.#api;
    const origins = this.#originsOf(reactor, seq).map(parseTraceparent);
    const parent = origins.length > 0 ? api.trace.setSpanContext(api.ROOT_CONTEXT, origins[0]!) : api.ROOT_CONTEXT;
    const links: Link[] = origins.slice(1).map((context) => ({ context }));
    const span = this.#tracer.startSpan(
      `fire ${graph}`,
      {
        attributes: { 'cloaca.reactor': reactor.name, 'cloaca.graph': graph, 'cloaca.manual': manual },
        ...(links.length > 0 ? { links } : {}),
      },
      parent,
    );
    const context = span.spanContext();
    return {
      span,
      traceparent: span.isRecording() && api.isSpanContextValid(context) ? formatTraceparent(context) : undefined,
    };
  }

  /** Child spans for a unit's nodes, ending now and laid end to end by their measured durations. */
  nodes(run: TracedRun, plan: GraphPlan, nodes: readonly number[], durations: readonly number[], thread: number): void {
    if (!run.span.isRecording()) return;
    const parent = this.#api.trace.setSpan(this.#api.ROOT_CONTEXT, run.span);
    let end = performance.timeOrigin + performance.now();
    for (let k = nodes.length - 1; k >= 0; k--) {
      const start = end - durations[k]!;
      const name = plan.nodes[nodes[k]!]!.name;
      this.#tracer
        .startSpan(
          `node ${name}`,
          { startTime: start, attributes: { 'cloaca.graph': plan.graph, 'cloaca.node': name, 'thread.id': thread } },
          parent,
        )
        .end(end);
      end = start;
    }
  }

  /** Ends a run's span with its fire record. */
  end(run: TracedRun, record: FireRecord): void {
    const { span } = run;
    span.setAttribute('cloaca.ok', record.ok);
    if (!record.ok) {
      const error = record.error;
      span.setStatus({
        code: this.#api.SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      if (error instanceof Error) span.recordException(error);
    }
    span.end();
  }

  /** The origins of the firing of `reactor` now starting; every graph of one firing shares them. */
  #originsOf(reactor: LiveReactor, seq: number): readonly string[] {
    const taken = this.#taken.get(reactor);
    if (taken !== undefined && taken.firing === reactor.fires) return taken.origins;
    let origins: readonly string[] = [];
    if (seq >= 0) {
      const bySeq = this.#queued.get(reactor);
      const origin = bySeq?.get(seq);
      if (origin !== undefined) {
        bySeq!.delete(seq);
        origins = [origin];
      }
    } else {
      origins = this.#pending.get(reactor) ?? [];
      this.#pending.delete(reactor);
    }
    this.#taken.set(reactor, { firing: reactor.fires, origins });
    return origins;
  }
}

/** `00-<trace id>-<span id>-<flags>`, the W3C traceparent form. */
function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, '0')}`;
}

function parseTraceparent(traceparent: string): SpanContext {
  const [, traceId = '', spanId = '', flags = '0'] = traceparent.split('-');
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
}
