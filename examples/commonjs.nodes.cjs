// Node module of examples/commonjs.cjs: a CommonJS file works as a node module too (the pool
// imports it by path, and its `exports` become the node functions).
'use strict';

exports.words = (text) => text.split(/\s+/).filter(Boolean);
exports.count = (words) => words.length;
exports.longest = (words) => words.reduce((a, b) => (b.length > a.length ? b : a), '');
