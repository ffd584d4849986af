// OVSDB database schemas (RFC 7047 section 3.2), parsed once from get_schema (or a .ovsschema
// file) into typed, normalised descriptions that the value conversions and operation checks use.
import type { Json } from './jsonrpc.js';

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';
export type Atom = string | number | boolean;

export interface BaseType {
  type: AtomicType;
  /** The allowed values, when the schema restricts them. */
  enum?: Atom[];
  minInteger?: number;
  maxInteger?: number;
  minReal?: number;
  maxReal?: number;
  minLength?: number;
  maxLength?: number;
  refTable?: string;
  refType?: 'strong' | 'weak';
}

export interface ColumnType {
  key: BaseType;
  /** Present for maps. */
  value?: BaseType;
  min: number;
  /** Infinity for "unlimited". */
  max: number;
}

/** How a column's value looks in plain JS (and on the wire). */
export type ColumnShape = 'scalar' | 'optional' | 'set' | 'map';

export interface ColumnSchema {
  name: string;
  type: ColumnType;
  shape: ColumnShape;
  /** False for columns that can only be set by insert (RFC 7047 "mutable": false). */
  mutable: boolean;
  /** True for _uuid and _version, which no operation may write. */
  readOnly: boolean;
  ephemeral: boolean;
}

export interface TableSchema {
  name: string;
  columns: Map<string, ColumnSchema>;
  isRoot: boolean;
  maxRows: number;
  indexes: string[][];
}

export interface DatabaseSchema {
  name: string;
  version: string;
  tables: Map<string, TableSchema>;
}

/** A schema that does not follow RFC 7047's grammar. */
export class SchemaParseError extends Error {
  constructor(
    readonly where: string,
    reason: string,
  ) {
    super(`schema: ${where}: ${reason}`);
    this.name = 'SchemaParseError';
  }
}

const atomicTypes = new Set<string>(['integer', 'real', 'boolean', 'string', 'uuid']);

function isObject(j: Json | undefined): j is { [key: string]: Json } {
  return typeof j === 'object' && j !== null && !Array.isArray(j);
}

function optNumber(obj: { [key: string]: Json }, key: string, where: string): number | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new SchemaParseError(where, `${key} is not a number`);
  return v;
}

function parseEnumAtoms(j: Json, type: AtomicType, where: string): Atom[] {
  // An enum is an <value>: a bare atom or ["set", [atoms...]].
  const items = Array.isArray(j) && j[0] === 'set' && Array.isArray(j[1]) ? j[1] : [j];
  return items.map((item) => {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') {
      if (type === 'string' && typeof item !== 'string') {
        throw new SchemaParseError(where, `enum value ${JSON.stringify(item)} is not a string`);
      }
      return item;
    }
    throw new SchemaParseError(where, `enum value ${JSON.stringify(item)} is not an atom`);
  });
}

function parseBaseType(j: Json | undefined, where: string): BaseType {
  if (typeof j === 'string') {
    if (!atomicTypes.has(j)) throw new SchemaParseError(where, `unknown atomic type ${j}`);
    return { type: j as AtomicType };
  }
  if (!isObject(j) || typeof j.type !== 'string' || !atomicTypes.has(j.type)) {
    throw new SchemaParseError(where, `not a base type: ${JSON.stringify(j)}`);
  }
  const base: BaseType = { type: j.type as AtomicType };
  if (j.enum !== undefined) base.enum = parseEnumAtoms(j.enum, base.type, where);
  for (const key of [
    'minInteger',
    'maxInteger',
    'minReal',
    'maxReal',
    'minLength',
    'maxLength',
  ] as const) {
    const n = optNumber(j, key, where);
    if (n !== undefined) base[key] = n;
  }
  if (typeof j.refTable === 'string') {
    base.refTable = j.refTable;
    base.refType = j.refType === 'weak' ? 'weak' : 'strong';
  }
  return base;
}

function parseColumnType(j: Json | undefined, where: string): ColumnType {
  if (typeof j === 'string') return { key: parseBaseType(j, where), min: 1, max: 1 };
  if (!isObject(j)) throw new SchemaParseError(where, `not a column type: ${JSON.stringify(j)}`);
  const type: ColumnType = { key: parseBaseType(j.key, `${where} key`), min: 1, max: 1 };
  if (j.value !== undefined) type.value = parseBaseType(j.value, `${where} value`);
  if (j.min !== undefined) {
    if (j.min !== 0 && j.min !== 1) throw new SchemaParseError(where, 'min must be 0 or 1');
    type.min = j.min;
  }
  if (j.max !== undefined) {
    if (j.max === 'unlimited') type.max = Infinity;
    else if (typeof j.max === 'number' && Number.isInteger(j.max) && j.max >= 1) type.max = j.max;
    else throw new SchemaParseError(where, `max must be a positive integer or "unlimited"`);
  }
  if (type.max < type.min) throw new SchemaParseError(where, 'max is less than min');
  return type;
}

export function shapeOf(type: ColumnType): ColumnShape {
  if (type.value) return 'map';
  if (type.min === 1 && type.max === 1) return 'scalar';
  if (type.max === 1) return 'optional';
  return 'set';
}

function column(
  name: string,
  type: ColumnType,
  extra: Partial<Pick<ColumnSchema, 'mutable' | 'readOnly' | 'ephemeral'>> = {},
): ColumnSchema {
  return {
    name,
    type,
    shape: shapeOf(type),
    mutable: extra.mutable ?? true,
    readOnly: extra.readOnly ?? false,
    ephemeral: extra.ephemeral ?? false,
  };
}

/** Parses a database schema as get_schema returns it or a .ovsschema file holds it. */
export function parseSchema(j: Json): DatabaseSchema {
  if (!isObject(j) || typeof j.name !== 'string' || !isObject(j.tables)) {
    throw new SchemaParseError('database', 'expected {name, tables}');
  }
  const tables = new Map<string, TableSchema>();
  for (const [tableName, tj] of Object.entries(j.tables)) {
    if (!isObject(tj) || !isObject(tj.columns)) {
      throw new SchemaParseError(tableName, 'expected {columns}');
    }
    const columns = new Map<string, ColumnSchema>();
    // Every table has these two (RFC 7047 section 3.2); clients can read but never write them.
    columns.set('_uuid', column('_uuid', { key: { type: 'uuid' }, min: 1, max: 1 }, readOnly()));
    columns.set(
      '_version',
      column('_version', { key: { type: 'uuid' }, min: 1, max: 1 }, readOnly()),
    );
    for (const [columnName, cj] of Object.entries(tj.columns)) {
      const where = `${tableName}.${columnName}`;
      if (!isObject(cj)) throw new SchemaParseError(where, 'expected {type}');
      columns.set(
        columnName,
        column(columnName, parseColumnType(cj.type, where), {
          mutable: cj.mutable !== false,
          ephemeral: cj.ephemeral === true,
        }),
      );
    }
    const indexes = Array.isArray(tj.indexes)
      ? tj.indexes.map((ix) => (Array.isArray(ix) ? ix.map(String) : []))
      : [];
    tables.set(tableName, {
      name: tableName,
      columns,
      isRoot: tj.isRoot === true,
      maxRows: typeof tj.maxRows === 'number' ? tj.maxRows : Infinity,
      indexes,
    });
  }
  return { name: j.name, version: typeof j.version === 'string' ? j.version : '', tables };
}

function readOnly(): { readOnly: true; mutable: false } {
  return { readOnly: true, mutable: false };
}
