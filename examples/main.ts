/**
 * `npm start`: the main demo. Runs the graph examples (examples/graphs.ts).
 */
import './graphs.js';
