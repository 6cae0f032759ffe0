/**
 * The tables of a PostgreSQL checkpoint and the statements over them. Every table holds the
 * state of many runtimes, told apart by an `id` column that leads each primary key; the other
 * columns are those of the row shapes in `rows.ts`, listed once per table below. The statements
 * are built from these lists, so a column added to a row shape is one entry here.
 *
 * A group commit is one statement, whatever the number of rows: each table's rows travel as one
 * array per column (see {@link upsert} for values) and `unnest` turns them back into rows on the
 * server, and the writes of the
 * tables are data-modifying `with` clauses of that one statement. So a commit of 10,000
 * boundaries is one round trip, not 10,000, and needs no `begin`/`commit`: one statement commits
 * whole or not at all. Its clauses never touch the same row (a boundary consumed in the same
 * commit is left out of it, and an accumulator is either saved or cleared), so the order the
 * server runs them in does not matter.
 */
import type { AccumulatorRow, BoundaryRow, CommitRows, ReactorRow } from './rows.js';

/**
 * A name (of a reactor, a key row, a source, an accumulator) as PostgreSQL text, which cannot
 * hold a NUL: the rows of a keyed reactor's keys are named `<reactor>\0<key>`. A NUL becomes
 * `\0` and a backslash `\\`; {@link nameOfText} reverses it. Names without either are unchanged.
 */
export function textOfName(name: string): string {
  return /[\0\\]/.test(name) ? name.replace(/\\/g, '\\\\').replace(/\0/g, '\\0') : name;
}

/** The name that {@link textOfName} turned into `text`. */
export function nameOfText(text: string): string {
  return text.includes('\\') ? text.replace(/\\([\\0])/g, (_, c: string) => (c === '0' ? '\0' : '\\')) : text;
}

/** The PostgreSQL types the row shapes use, and how each comes back from `pg`. */
type ColumnType = 'text' | 'int8' | 'bytea';

/** One table: its name, its columns (named as the row's properties) and its key columns. */
export interface Table<Row> {
  readonly name: string;
  readonly columns: ReadonlyArray<readonly [keyof Row & string, ColumnType]>;
  readonly key: ReadonlyArray<keyof Row & string>;
  /**
   * A row, once written, never changes (a queued boundary): a commit inserts it without
   * `on conflict`, which costs the server a third less, unless it is a {@link CommitMode} `replace`.
   */
  readonly insertOnly?: boolean;
}

/**
 * How a commit writes rows of an `insertOnly` table: `insert`, as new rows (the commit fails
 * with a unique violation, writing nothing, when one is there already), or `replace`, as the
 * other tables always are. A commit retried after its answer was lost may have been applied,
 * and meets its own rows: the store retries such a commit with `replace`.
 */
export type CommitMode = 'insert' | 'replace';

export const queueTable: Table<BoundaryRow> = {
  name: 'cloaca_sequential_queue',
  columns: [
    ['reactor', 'text'],
    ['seq', 'int8'],
    ['source', 'text'],
    ['value', 'bytea'],
    ['crc', 'int8'],
  ],
  key: ['reactor', 'seq'],
  insertOnly: true,
};

export const reactorTable: Table<ReactorRow> = {
  name: 'cloaca_reactor_state',
  columns: [
    ['reactor', 'text'],
    ['data', 'bytea'],
    ['crc', 'int8'],
  ],
  key: ['reactor'],
};

export const accumulatorTable: Table<AccumulatorRow> = {
  name: 'cloaca_accumulator_state',
  columns: [
    ['accumulator', 'text'],
    ['data', 'bytea'],
    ['crc', 'int8'],
  ],
  key: ['accumulator'],
};

/** Creates the tables where they are missing; run under a lock, as two creators would collide. */
export const schemaStatements: readonly string[] = [
  `create table if not exists cloaca_component (
     id text not null, name text not null, role text not null, kind text not null,
     primary key (id, name))`,
  createTable(queueTable),
  createTable(reactorTable),
  createTable(accumulatorTable),
  `create table if not exists cloaca_set_aside (
     id text not null, entry bigint generated always as identity, name text not null,
     role text not null, kind text not null, reason text not null, data bytea not null,
     set_aside_at timestamptz not null default now(), primary key (id, entry))`,
];

function createTable<Row>(table: Table<Row>): string {
  // Only a row's checksum may be null (rows.ts: rows written before checksums existed).
  const columns = table.columns.map(([name, type]) => `${name} ${type}${name === 'crc' ? '' : ' not null'}`);
  return `create table if not exists ${table.name} (id text not null, ${columns.join(', ')},
    primary key (id, ${table.key.join(', ')}))`;
}

/** The parameters of one statement, `$1` being the runtime id. */
class Parameters {
  readonly values: unknown[];

  constructor(id: string) {
    this.values = [id];
  }

  /** Adds `value`; answers its placeholder, cast to `type`. */
  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/**
 * A PostgreSQL array literal of strings or numbers (null for a missing one). Built here rather
 * than by `pg`, which runs two regular expressions over every element, numbers included; a
 * commit of 10,000 boundaries has 40,000 such elements.
 */
function arrayLiteral(values: readonly unknown[]): string {
  const elements = values.map((value) => {
    if (value === null || value === undefined) return 'NULL';
    if (typeof value === 'number') return String(value);
    const text = String(value);
    return /["\\]/.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`;
  });
  return `{${elements.join(',')}}`;
}

/**
 * The upsert (or, by `mode`, the insert) of `rows` into `table`: one array parameter per column, but for a `bytea` column
 * one binary parameter holding every value end to end, with arrays of where each starts and how
 * long it is, cut apart on the server. (`pg` sends a `bytea[]` as text, each value in hex, twice
 * its size, and escapes it on the client; a `Buffer` parameter goes as it is.)
 */
function upsert<Row>(table: Table<Row>, parameters: Parameters, rows: readonly Row[], mode: CommitMode): string {
  const names = table.columns.map(([name]) => name);
  const unnested: string[] = [];
  const aliases: string[] = [];
  const selected: string[] = [];
  table.columns.forEach(([name, type], i) => {
    const values = rows.map((row) => (type === 'text' ? textOfName(row[name] as string) : row[name]));
    if (type !== 'bytea') {
      unnested.push(parameters.add(arrayLiteral(values), `${type}[]`));
      aliases.push(`c${i}`);
      selected.push(`u.c${i}`);
      return;
    }
    const buffers = values as unknown as Uint8Array[];
    const starts: number[] = [];
    const lengths: number[] = [];
    let at = 1; // substring() counts from 1
    for (const buffer of buffers) {
      starts.push(at);
      lengths.push(buffer.length);
      at += buffer.length;
    }
    const blob = parameters.add(Buffer.concat(buffers), 'bytea');
    unnested.push(parameters.add(arrayLiteral(starts), 'int4[]'), parameters.add(arrayLiteral(lengths), 'int4[]'));
    aliases.push(`c${i}_start`, `c${i}_length`);
    selected.push(`substring(${blob} from u.c${i}_start for u.c${i}_length)`);
  });
  const insert = `insert into ${table.name} (id, ${names.join(', ')})
    select $1, ${selected.join(', ')} from unnest(${unnested.join(', ')}) as u (${aliases.join(', ')})`;
  if (table.insertOnly === true && mode === 'insert') return insert;
  const updates = names.filter((name) => !table.key.includes(name)).map((name) => `${name} = excluded.${name}`);
  return `${insert} on conflict (id, ${table.key.join(', ')}) do update set ${updates.join(', ')}`;
}

/**
 * The one statement of a group commit of runtime `id` and its parameters (see the module
 * comment), or undefined when the commit writes nothing.
 */
export function commitStatement(id: string, rows: CommitRows, mode: CommitMode): [string, unknown[]] | undefined {
  const parameters = new Parameters(id);
  const writes: string[] = [];
  if (rows.boundaries.length > 0) writes.push(upsert(queueTable, parameters, rows.boundaries, mode));
  if (rows.consumed.size > 0) {
    const reactors = parameters.add(arrayLiteral([...rows.consumed.keys()].map(textOfName)), 'text[]');
    const seqs = parameters.add(arrayLiteral([...rows.consumed.values()]), 'int8[]');
    writes.push(`delete from ${queueTable.name} q using unnest(${reactors}, ${seqs}) as done (reactor, seq)
      where q.id = $1 and q.reactor = done.reactor and q.seq <= done.seq`);
  }
  if (rows.reactors.length > 0) writes.push(upsert(reactorTable, parameters, rows.reactors, mode));
  if (rows.accumulators.length > 0) writes.push(upsert(accumulatorTable, parameters, rows.accumulators, mode));
  if (rows.clearedAccumulators.length > 0) {
    const names = parameters.add(arrayLiteral(rows.clearedAccumulators.map(textOfName)), 'text[]');
    writes.push(`delete from ${accumulatorTable.name} where id = $1 and accumulator = any(${names})`);
  }
  if (writes.length === 0) return undefined;
  const text = writes.length === 1 ? writes[0]! : `with ${writes.map((w, i) => `w${i} as (${w})`).join(', ')} select 1`;
  return [text, parameters.values];
}

/**
 * The statement that deletes every state and queue row of `reactors` (forgotten keys of a keyed
 * reactor) of runtime `id`. It runs before the commit's own statement, in one transaction with
 * it: a statement's parts all see one snapshot, so a delete and a write of the same row inside
 * one statement could keep either.
 */
export function clearStatement(id: string, reactors: readonly string[]): [string, unknown[]] {
  const parameters = new Parameters(id);
  const names = parameters.add(arrayLiteral(reactors.map(textOfName)), 'text[]');
  return [
    `with cleared as (delete from ${queueTable.name} where id = $1 and reactor = any(${names}))
      delete from ${reactorTable.name} where id = $1 and reactor = any(${names})`,
    parameters.values,
  ];
}

/** Every row of `table` for runtime `id`, in key order, as the row shape. */
export function selectAll<Row>(table: Table<Row>): string {
  return `select ${table.columns.map(([name]) => name).join(', ')} from ${table.name}
    where id = $1 order by ${table.key.join(', ')}`;
}

/** Turns a row read with {@link selectAll} into its row shape (`pg` reads an int8 as a string). */
export function decodeRow<Row>(table: Table<Row>, raw: Record<string, unknown>): Row {
  const row: Record<string, unknown> = {};
  for (const [name, type] of table.columns) {
    const value = raw[name];
    row[name] =
      type === 'int8' && value !== null
        ? Number(value)
        : type === 'text' && value !== null
          ? nameOfText(value as string)
          : value;
  }
  return row as Row;
}
