/** The raw Piscina peer of the soak test: the load pipeline's three-node chain as one task. */
import { step1, step2, step3 } from './work.nodes.js';

export default (x: number): number => step3(step2(step1(x)));
