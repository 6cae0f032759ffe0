/**
 * Polling accumulator: `poll()` runs every `interval` (the first time one interval after start)
 * and never overlaps itself; a result other than `undefined` becomes a boundary, `undefined`
 * means "no change". Here it watches a settings source that changes twice and reports each new
 * version once.
 *
 *     npm run build && node dist/examples/accumulators/polling.js
 */
import { ComputationGraphBuilder, Runtime, pollingAccumulator, reactor } from 'cloaca';

interface Settings {
  readonly version: number;
  readonly threshold: number;
}

/** Stands in for a remote settings service: each read returns the next stored response. */
const responses: Settings[] = [
  { version: 1, threshold: 10 },
  { version: 1, threshold: 10 },
  { version: 2, threshold: 12 },
  { version: 2, threshold: 12 },
  { version: 3, threshold: 15 },
];
let reads = 0;
let seen = 0;

const Config = reactor({ name: 'config', accumulators: ['settings'], strategy: 'sequential' });

const graph = await new ComputationGraphBuilder('apply_settings', {
  reactor: Config,
  nodes: { apply: (settings: Settings) => `threshold ${settings.threshold} (version ${settings.version})` },
  graph: { apply: { inputs: ['settings'] } },
}).build();

const runtime = new Runtime();
runtime.register(
  pollingAccumulator<Settings>({
    name: 'settings',
    interval: '20ms',
    poll: async () => {
      const settings = responses[Math.min(reads++, responses.length - 1)]!;
      if (settings.version === seen) return undefined; // unchanged: no boundary
      seen = settings.version;
      return settings;
    },
  }),
  Config,
  graph,
);
const lastVersion = new Promise<void>((resolve) => {
  runtime.on('fire', (record) => {
    console.log(`applied ${record.outputs?.apply}`);
    if ((record.inputs.settings as Settings).version === 3) resolve();
  });
});
await runtime.start();
await lastVersion;
await runtime.shutdown();
console.log(`fired ${runtime.stats().reactors.config!.fires} times`);
