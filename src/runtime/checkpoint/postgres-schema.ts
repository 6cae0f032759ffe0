/**
 * The tables of a PostgreSQL checkpoint and the statements over them. Every table holds the
 * state of many runtimes, told apart by an `id` column that leads each primary key; the other
 * columns are those of the row shapes in `rows.ts`, listed once per table below. The statements
 * are built from these lists, so a column added to a row shape is one entry here.
 *
 * A group commit writes each table with one statement whatever the number of rows: the rows
 * travel as one array per column and `unnest` turns them back into rows on the server, so a
 * commit of 10,000 boundaries is one round trip, not 10,000.
 */
import type { AccumulatorRow, BoundaryRow, ReactorRow } from './rows.js';

/** The PostgreSQL types the row shapes use, and how each comes back from `pg`. */
type ColumnType = 'text' | 'int8' | 'bytea';

/** One table: its name, its columns (named as the row's properties) and its key columns. */
export interface Table<Row> {
  readonly name: string;
  readonly columns: ReadonlyArray<readonly [keyof Row & string, ColumnType]>;
  readonly key: ReadonlyArray<keyof Row & string>;
}

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

/**
 * The upsert of `rows` into `table` for runtime `id`: one statement and its parameters, one
 * array per column.
 */
export function upsert<Row>(table: Table<Row>, id: string, rows: readonly Row[]): [string, unknown[]] {
  const names = table.columns.map(([name]) => name);
  const arrays = table.columns.map(([, type], i) => `$${i + 2}::${type}[]`);
  const updates = names.filter((name) => !table.key.includes(name)).map((name) => `${name} = excluded.${name}`);
  const text = `insert into ${table.name} (id, ${names.join(', ')})
    select $1, * from unnest(${arrays.join(', ')})
    on conflict (id, ${table.key.join(', ')}) do update set ${updates.join(', ')}`;
  return [text, [id, ...table.columns.map(([name]) => rows.map((row) => row[name]))]];
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
    row[name] = type === 'int8' && value !== null ? Number(value) : value;
  }
  return row as Row;
}
