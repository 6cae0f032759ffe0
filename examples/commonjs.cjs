// cloaca from CommonJS. cloaca is an ES module; Node 20.19+ (and 22.12+) can require() it, as
// long as nothing in it awaits at top level, which cloaca does not. On older Node versions use
// `const cloaca = await import('cloaca')` inside an async function instead.
//
//     npm run build && node examples/commonjs.cjs
'use strict';

const path = require('node:path');
const { ComputationGraphBuilder } = require('cloaca');

async function main() {
  const graph = await new ComputationGraphBuilder('text_stats', {
    nodes: path.join(__dirname, 'commonjs.nodes.cjs'),
    graph: { words: { next: ['count', 'longest'] }, count: {}, longest: {} },
    executor: 'pool',
  }).build();
  const { outputs } = await graph.execute('the quick brown fox jumps over the lazy dog');
  // count and longest run side by side on the pool: outputs has them in the order they finished.
  console.log(`words: ${outputs.count}, longest: ${outputs.longest}`);
  await graph.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
