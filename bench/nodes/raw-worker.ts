/** The raw Piscina peer of the benchmarks: the same functions, no engine around them. */
import { noop } from './work.nodes.js';

export default noop;
/** The map suite's CPU-bound peer (`{ name: 'wide' }`). */
export { wide } from './work.nodes.js';
