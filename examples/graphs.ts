/**
 * Builds and runs two graphs: the market-maker graph of Cloacina's API example (routing), and a diamond of
 * CPU-heavy nodes, inline and on the pool, printing results, the plan and timings.
 *
 *     npm run example:graphs [-- --limit 3000000]
 */
import { parseArgs } from 'node:util';
import { ComputationGraphBuilder, reactor } from 'cloaca';

const { values } = parseArgs({ options: { limit: { type: 'string', default: '3000000' } } });
const limit = Number(values.limit);

export const MarketMakerReactor = reactor({
  name: 'market_maker_reactor',
  accumulators: ['alpha', 'beta'],
  mode: 'when_any',
});

const marketMaker = await new ComputationGraphBuilder('market_maker', {
  reactor: MarketMakerReactor,
  nodes: new URL('./market-maker.nodes.js', import.meta.url),
  graph: {
    decision: { inputs: ['alpha', 'beta'], routes: { Signal: 'signal_handler', NoAction: 'audit_logger' } },
    signal_handler: {},
    audit_logger: {},
  },
}).build();

console.log('market_maker plan levels:', marketMaker.plan.levels);
for (const inputs of [
  { alpha: { value: 5 }, beta: { estimate: 7 } },
  { alpha: { value: 1 }, beta: { estimate: 2 } },
]) {
  const result = await marketMaker.execute(inputs);
  console.log(`  ${JSON.stringify(inputs)} -> ${JSON.stringify(result.outputs)} in ${result.durationMs.toFixed(2)} ms`);
}

const diamondTopology = {
  split: { next: ['lower', 'upper'] },
  lower: { next: 'total' },
  upper: { next: 'total' },
  total: {},
};
const range = { from: 0, to: limit };
console.log(`\ndiamond: primes below ${limit.toLocaleString('en')}, the two halves counted in parallel`);
for (const executor of ['inline', 'pool'] as const) {
  const diamond = await new ComputationGraphBuilder('diamond', {
    nodes: new URL('./diamond.nodes.js', import.meta.url),
    graph: diamondTopology,
    executor,
  }).build();
  if (executor === 'inline') console.log('  plan levels:', JSON.stringify(diamond.plan.levels));
  await diamond.execute(range); // warm-up: JIT, module load
  const result = await diamond.execute(range, { trace: true });
  const lanes = result.trace!.filter((t) => t.node === 'lower' || t.node === 'upper');
  console.log(
    `  ${executor.padEnd(6)} primes below ${range.to}: ${JSON.stringify(result.outputs.total)} in ${result.durationMs.toFixed(1)} ms`,
    `(lower ${lanes[0]!.durationMs!.toFixed(1)} ms on thread ${lanes[0]!.threadId}, upper ${lanes[1]!.durationMs!.toFixed(1)} ms on thread ${lanes[1]!.threadId})`,
  );
  await diamond.close();
}
await marketMaker.close();
