/**
 * Every error class the package exports has a stable, unique code, and docs/errors.md lists each
 * code with its class; a class added without documenting it fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as cloaca from 'cloaca';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^\|\s*`(CLOACA_ERR_[A-Z_]+)`\s*\|\s*`(\w+)`\s*\|/gm)].map(
  (m) => [m[1]!, m[2]!] as const,
);
const classes = Object.entries(cloaca).filter(
  ([, value]) => typeof value === 'function' && value.prototype instanceof cloaca.CloacaError,
) as Array<[string, typeof cloaca.CloacaError]>;

describe('error codes', () => {
  it('every exported error class has its own CLOACA_ERR_ code', () => {
    expect(classes.length).toBeGreaterThan(10);
    const codes = classes.map(([, cls]) => cls.code);
    for (const code of codes) expect(code).toMatch(/^CLOACA_ERR_[A-Z_]+$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('docs/errors.md lists every exported class with its code, and nothing else', () => {
    const exported = classes.map(([name, cls]) => [cls.code, name] as const).sort();
    expect([...documented].sort()).toStrictEqual(exported);
  });

  it('an error that crossed a thread is rebuilt as its class: every exported class is known by name', async () => {
    const { cloacaErrorClass } = await import('../dist/src/model/errors.js');
    for (const [name, cls] of classes) expect(cloacaErrorClass(name), name).toBe(cls);
  });

  it('instances carry their class code', () => {
    const error = new cloaca.StateError('runtime', 'created', 'not started');
    expect(error.code).toBe('CLOACA_ERR_STATE');
    expect(error).toBeInstanceOf(cloaca.CloacaError);
    expect(new cloaca.TopologyError('g', ['a'], 'bad').code).toBe('CLOACA_ERR_TOPOLOGY');
  });
});
