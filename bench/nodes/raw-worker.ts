/** The raw Piscina peer of the dispatch benchmarks: the same function, no engine around it. */
import { noop } from './work.nodes.js';

export default noop;
