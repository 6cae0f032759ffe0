/**
 * `npm start`: the main demo, the market-maker pipeline (examples/pipeline/main.ts). The graph
 * examples on their own: `npm run example:graphs`.
 */
import './pipeline/main.js';
