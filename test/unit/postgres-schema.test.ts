/** The statement of a PostgreSQL group commit (src/runtime/checkpoint/postgres-schema.ts). */
import { describe, expect, it } from 'vitest';
import {
  clearStatement,
  commitStatement,
  nameOfText,
  textOfName,
} from '../../src/runtime/checkpoint/postgres-schema.js';
import type { CommitRows } from '../../src/runtime/checkpoint/rows.js';

const empty: CommitRows = {
  boundaries: [],
  consumed: new Map(),
  reactors: [],
  accumulators: [],
  clearedAccumulators: [],
  clearedReactors: [],
};

describe('commitStatement', () => {
  it('writes nothing for an empty commit', () => {
    expect(commitStatement('pricing-1', empty, 'insert')).toBeUndefined();
  });

  it('is one statement: the id first, text and numbers as array literals, values end to end', () => {
    const [text, values] = commitStatement(
      'pricing-1',
      {
        ...empty,
        boundaries: [
          { reactor: 'r', seq: 1, source: 'plain', value: Buffer.from([1, 2]), crc: 7 },
          { reactor: 'r', seq: 2, source: 'with "quote" and \\ slash', value: Buffer.from([3]), crc: null },
        ],
        consumed: new Map([['r', 0]]),
      },
      'insert',
    )!;
    expect(text).toMatch(/^with w0 as \(insert into cloaca_sequential_queue .*\), w1 as \(delete from .*\) select 1$/s);
    expect(values[0]).toBe('pricing-1');
    expect(values).toContain('{"r","r"}');
    expect(values).toContain('{1,2}');
    // The backslash is doubled as a name (see textOfName), then escaped in the array literal.
    expect(values).toContain('{"plain","with \\"quote\\" and \\\\\\\\ slash"}');
    expect(values).toContain('{7,NULL}');
    // Both values in one binary parameter, cut at 1 (2 bytes) and 3 (1 byte).
    expect(values).toContainEqual(Buffer.from([1, 2, 3]));
    expect(values).toContain('{1,3}');
    expect(values).toContain('{2,1}');
  });

  it('inserts boundaries as new rows, or replaces them', () => {
    const rows = { ...empty, boundaries: [{ reactor: 'r', seq: 1, source: 's', value: Buffer.from([1]), crc: 1 }] };
    expect(commitStatement('pricing-1', rows, 'insert')![0]).not.toContain('on conflict');
    expect(commitStatement('pricing-1', rows, 'replace')![0]).toContain('on conflict (id, reactor, seq) do update');
    const state = { ...empty, reactors: [{ reactor: 'r', data: Buffer.from([1]), crc: 1 }] };
    expect(commitStatement('pricing-1', state, 'insert')![0]).toContain('on conflict (id, reactor) do update');
  });

  it('is a single write without a with clause', () => {
    const [text] = commitStatement('pricing-1', { ...empty, clearedAccumulators: ['a'] }, 'insert')!;
    expect(text).toMatch(
      /^delete from cloaca_accumulator_state where id = \$1 and accumulator = any\(\$2::text\[\]\)$/,
    );
  });
});

describe('names as PostgreSQL text', () => {
  it('escapes the NUL of a key row and the backslash, and nothing else; nameOfText reverses it', () => {
    const names = ['plain', 'quotes\0AAPL', 'a\\b', '\\0 is not a NUL', '\0\0', 'ends with \\', 'ünïcode\0キー'];
    for (const name of names) {
      expect(textOfName(name)).not.toContain('\0');
      expect(nameOfText(textOfName(name))).toBe(name);
    }
    expect(textOfName('plain')).toBe('plain');
    expect(textOfName('quotes\0AAPL')).toBe('quotes\\0AAPL');
    expect(new Set(names.map(textOfName)).size).toBe(names.length);
  });

  it('deletes the state and queue rows of forgotten keys in one statement, the names escaped', () => {
    const [text, values] = clearStatement('pricing-1', ['quotes\0AAPL']);
    expect(text).toMatch(/delete from cloaca_sequential_queue .* delete from cloaca_reactor_state/s);
    expect(values).toStrictEqual(['pricing-1', '{"quotes\\\\0AAPL"}']);
  });
});
