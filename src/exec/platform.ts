/**
 * Gives the pure value rules (`model/values.ts`) what only Node can tell: whether an object is a
 * Proxy, which structured clone refuses and JavaScript cannot see. Imported for its effect by the
 * modules of this layer that check or copy values.
 */
import { types } from 'node:util';
import { installValueProbes } from '../model/value-kinds.js';

installValueProbes({ isProxy: types.isProxy });
