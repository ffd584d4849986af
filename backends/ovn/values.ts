// OVSDB values (RFC 7047 section 5.1) to and from plain JS, checked against a column's type.
//
// Plain JS forms, by the column's shape (see ColumnShape):
//   scalar (min 1, max 1)      an atom: string, number or boolean; uuids are strings
//   optional (min 0, max 1)    an atom or null (writing also takes [] or [atom])
//   set (max > 1)              an array of atoms
//   map                        a Record keyed by the key's text (integer keys as decimal text)
// References to a row inserted earlier in the same transaction are written as namedUuid('name').
import type { Json } from './jsonrpc.js';
import type { Atom, BaseType, ColumnSchema, TableSchema } from './schema.js';

export type { Atom } from './schema.js';

/** A value read from the database. */
export type Value = Atom | null | Atom[] | { [key: string]: Atom };
/** A row read from the database: column name to value; `_uuid` is always present. */
export type Row = Record<string, Value>;

/** A reference to the row that an insert of the same transaction names with its uuid-name. */
export class NamedUuid {
  constructor(readonly name: string) {}
}

export function namedUuid(name: string): NamedUuid {
  return new NamedUuid(name);
}

export type WriteAtom = Atom | NamedUuid;
/** A value to write: like Value, but uuid atoms may also be NamedUuid references. */
export type WriteValue =
  WriteAtom | null | readonly WriteAtom[] | { readonly [key: string]: WriteAtom };
export type WriteRow = Record<string, WriteValue>;

/** An operation refused before sending because it does not fit the server's schema. */
export class OvsdbSchemaError extends Error {
  constructor(
    readonly table: string,
    readonly column: string | undefined,
    readonly reason: string,
    readonly opIndex?: number,
  ) {
    const where = column === undefined ? `table ${table}` : `${table}.${column}`;
    const op = opIndex === undefined ? '' : `op ${opIndex}: `;
    super(`${op}${where}: ${reason}`);
    this.name = 'OvsdbSchemaError';
  }
}

export const uuidPattern =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const uuidNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const zeroUuid = '00000000-0000-0000-0000-000000000000';

/** How encoding may bend a column's type (conditions and mutations take looser arguments). */
export interface EncodeMode {
  /** Skip the min/max element counts (includes/excludes, mutate insert/delete). */
  anySize?: boolean;
  /** Skip enum, range and length constraints (arithmetic mutation arguments). */
  noConstraints?: boolean;
  /** Collects the named-uuid references met. */
  references?: Set<string>;
}

interface Where {
  table: string;
  column: string;
}

function fail(where: Where, reason: string): never {
  throw new OvsdbSchemaError(where.table, where.column, reason);
}

function describe(v: unknown): string {
  if (v instanceof NamedUuid) return `named-uuid ${v.name}`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function typeName(base: BaseType): string {
  return base.refTable ? `uuid (reference to ${base.refTable})` : base.type;
}

function encodeAtom(base: BaseType, v: unknown, where: Where, mode: EncodeMode): Json {
  if (v instanceof NamedUuid) {
    if (base.type !== 'uuid') fail(where, `named-uuid ${v.name} given for a ${base.type}`);
    if (!uuidNamePattern.test(v.name)) fail(where, `"${v.name}" is not a valid uuid-name`);
    mode.references?.add(v.name);
    return ['named-uuid', v.name];
  }
  let out: Json;
  switch (base.type) {
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        fail(where, `expected an integer, got ${describe(v)}`);
      }
      if (!Number.isSafeInteger(v)) fail(where, `integer ${v} is beyond 2^53 (not exact in JS)`);
      out = v;
      break;
    case 'real':
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        fail(where, `expected a real number, got ${describe(v)}`);
      }
      out = v;
      break;
    case 'boolean':
      if (typeof v !== 'boolean') fail(where, `expected a boolean, got ${describe(v)}`);
      out = v;
      break;
    case 'string':
      if (typeof v !== 'string') fail(where, `expected a string, got ${describe(v)}`);
      out = v;
      break;
    case 'uuid':
      if (typeof v !== 'string' || !uuidPattern.test(v)) {
        fail(where, `expected a ${typeName(base)} (a UUID string), got ${describe(v)}`);
      }
      out = ['uuid', v.toLowerCase()];
      break;
  }
  if (!mode.noConstraints) checkConstraints(base, v, where);
  return out;
}

function checkConstraints(base: BaseType, v: Atom, where: Where): void {
  if (base.enum && !base.enum.includes(v)) {
    fail(
      where,
      `${JSON.stringify(v)} is not one of ${base.enum.map((e) => JSON.stringify(e)).join(', ')}`,
    );
  }
  if (typeof v === 'number') {
    const [min, max] =
      base.type === 'integer' ? [base.minInteger, base.maxInteger] : [base.minReal, base.maxReal];
    if (min !== undefined && v < min) fail(where, `${v} is less than the minimum ${min}`);
    if (max !== undefined && v > max) fail(where, `${v} is greater than the maximum ${max}`);
  }
  if (typeof v === 'string' && base.type === 'string') {
    const length = Array.from(v).length; // characters, as ovsdb-server counts
    if (base.minLength !== undefined && length < base.minLength) {
      fail(where, `"${v}" is shorter than ${base.minLength} characters`);
    }
    if (base.maxLength !== undefined && length > base.maxLength) {
      fail(where, `"${v}" is longer than ${base.maxLength} characters`);
    }
  }
}

function isWriteAtom(v: unknown): v is WriteAtom {
  return (
    typeof v === 'string' ||
    typeof v === 'number' ||
    typeof v === 'boolean' ||
    v instanceof NamedUuid
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof NamedUuid);
}

function checkCount(col: ColumnSchema, n: number, where: Where, mode: EncodeMode): void {
  if (mode.anySize) return;
  const { min, max } = col.type;
  if (n < min) fail(where, `needs at least ${min} element${min === 1 ? '' : 's'}, got ${n}`);
  if (n > max) fail(where, `takes at most ${max} element${max === 1 ? '' : 's'}, got ${n}`);
}

function noDuplicates(encoded: Json[], where: Where, what: string): void {
  const seen = new Set<string>();
  for (const e of encoded) {
    const text = JSON.stringify(e);
    if (seen.has(text)) fail(where, `duplicate ${what} ${text}`);
    seen.add(text);
  }
}

/** The map key text back to an atom of the key's type. */
function mapKeyAtom(base: BaseType, key: string, where: Where): Atom {
  switch (base.type) {
    case 'integer':
      if (!/^-?\d+$/.test(key)) fail(where, `map key "${key}" is not an integer`);
      return Number(key);
    case 'real':
      if (key.trim() === '' || !Number.isFinite(Number(key))) {
        fail(where, `map key "${key}" is not a number`);
      }
      return Number(key);
    case 'boolean':
      if (key !== 'true' && key !== 'false') fail(where, `map key "${key}" is not a boolean`);
      return key === 'true';
    default:
      return key;
  }
}

/** Encodes a set's elements (an array, or one atom). */
function encodeSetItems(col: ColumnSchema, value: unknown, where: Where, mode: EncodeMode): Json[] {
  const items: unknown[] = Array.isArray(value) ? value : [value];
  const encoded = items.map((item) => {
    if (!isWriteAtom(item)) fail(where, `set element ${describe(item)} is not an atom`);
    return encodeAtom(col.type.key, item, where, mode);
  });
  noDuplicates(encoded, where, 'set element');
  return encoded;
}

/**
 * Encodes a plain value into OVSDB JSON for a column, or throws OvsdbSchemaError saying why the
 * value does not fit the column's type.
 */
export function encodeValue(
  table: string,
  col: ColumnSchema,
  value: unknown,
  mode: EncodeMode = {},
): Json {
  const where = { table, column: col.name };
  if (value === undefined) fail(where, 'no value given');
  switch (col.shape) {
    case 'scalar':
      if (!isWriteAtom(value))
        fail(where, `expected a single ${typeName(col.type.key)}, got ${describe(value)}`);
      return encodeAtom(col.type.key, value, where, mode);
    case 'optional': {
      if (value === null) return ['set', []];
      if (!isWriteAtom(value) && !Array.isArray(value)) {
        fail(where, `expected a ${typeName(col.type.key)} or null, got ${describe(value)}`);
      }
      const items = encodeSetItems(col, value, where, mode);
      checkCount(col, items.length, where, mode);
      return ['set', items];
    }
    case 'set': {
      if (!Array.isArray(value) && !(mode.anySize && isWriteAtom(value))) {
        fail(
          where,
          `expected an array (a set of ${typeName(col.type.key)}), got ${describe(value)}`,
        );
      }
      const items = encodeSetItems(col, value, where, mode);
      checkCount(col, items.length, where, mode);
      return ['set', items];
    }
    case 'map': {
      if (!isPlainObject(value)) {
        fail(
          where,
          `expected an object (a map of ${col.type.key.type} to ${col.type.value!.type}), got ${describe(value)}`,
        );
      }
      const pairs: Json[] = [];
      for (const [k, v] of Object.entries(value)) {
        const keyWhere = { table, column: `${col.name}:${k}` };
        const key = encodeAtom(col.type.key, mapKeyAtom(col.type.key, k, keyWhere), keyWhere, mode);
        if (!isWriteAtom(v)) fail(keyWhere, `map value ${describe(v)} is not an atom`);
        pairs.push([key, encodeAtom(col.type.value!, v, keyWhere, mode)]);
      }
      checkCount(col, pairs.length, where, mode);
      return ['map', pairs];
    }
  }
}

/** Encodes a set of map keys (the second form of a map's "delete" mutation). */
export function encodeMapKeys(
  table: string,
  col: ColumnSchema,
  keys: unknown,
  mode: EncodeMode = {},
): Json {
  const where = { table, column: col.name };
  const items: unknown[] = Array.isArray(keys) ? keys : [keys];
  const encoded = items.map((k) => {
    if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'boolean') {
      fail(where, `map key ${describe(k)} is not an atom`);
    }
    const atom = typeof k === 'string' ? mapKeyAtom(col.type.key, k, where) : k;
    return encodeAtom(col.type.key, atom, where, { ...mode, noConstraints: true });
  });
  noDuplicates(encoded, where, 'map key');
  return ['set', encoded];
}

// Decoding: what the server sends, checked against the column's type (RFC 7047 section 5.1)
// before it reaches a replica or a caller. Anything that does not fit (an atom of another type, a
// malformed uuid, a set of too many elements, a map pair that is not a pair, a row that is not an
// object) is an OvsdbDecodeError naming the table and column: never a value of the wrong type,
// and never one element of a set silently kept while the rest are dropped.
//
// The base type's constraints (enum, minInteger/maxInteger, minReal/maxReal, minLength/maxLength)
// are left to the server, which enforces them on every write: a value outside them is still of
// the promised JS type, and refusing it would only keep a replica from ever synchronising. The
// element counts (min/max) are checked, as they decide the value's JS shape.

/** A value, row or update from the server that does not fit the database's schema. */
export class OvsdbDecodeError extends Error {
  constructor(
    readonly table: string | undefined,
    readonly column: string | undefined,
    readonly reason: string,
  ) {
    super(`${decodeWhere(table, column)}: ${reason}`);
    this.name = 'OvsdbDecodeError';
  }
}

function decodeWhere(table: string | undefined, column: string | undefined): string {
  if (table !== undefined && column !== undefined) return `decoding ${table}.${column}`;
  if (table !== undefined) return `decoding table ${table}`;
  if (column !== undefined) return `decoding column ${column}`;
  return 'decoding an OVSDB value';
}

interface DecodeAt {
  table?: string | undefined;
  column?: string | undefined;
}

function refuse(at: DecodeAt, reason: string): never {
  throw new OvsdbDecodeError(at.table, at.column, reason);
}

/** Wire JSON for an error message, cut short. */
function shown(j: Json | undefined): string {
  if (j === undefined) return 'nothing';
  const text = JSON.stringify(j);
  const kind =
    j === null
      ? 'null'
      : Array.isArray(j)
        ? 'an array'
        : typeof j === 'object'
          ? 'an object'
          : typeof j;
  return `${kind} ${text.length > 80 ? `${text.slice(0, 77)}...` : text}`;
}

function article(name: string): string {
  return /^[aeiou]/i.test(name) ? `an ${name}` : `a ${name}`;
}

/** ["uuid", u] with u a UUID: its text; undefined for anything else. */
function wireUuid(j: Json): string | undefined {
  if (
    Array.isArray(j) &&
    j.length === 2 &&
    j[0] === 'uuid' &&
    typeof j[1] === 'string' &&
    uuidPattern.test(j[1])
  ) {
    return j[1];
  }
  return undefined;
}

function refuseNamedUuid(j: Json, at: DecodeAt): void {
  if (Array.isArray(j) && j[0] === 'named-uuid') {
    refuse(at, `${shown(j)}: a named-uuid is only valid in a request, never in the server's data`);
  }
}

/** Decodes an atom of a base type: ["uuid", u] becomes u; anything of another type is refused. */
function decodeTypedAtom(base: BaseType, j: Json, at: DecodeAt): Atom {
  switch (base.type) {
    case 'integer':
      if (typeof j === 'number' && Number.isInteger(j)) return j;
      break;
    case 'real':
      if (typeof j === 'number' && Number.isFinite(j)) return j;
      break;
    case 'boolean':
      if (typeof j === 'boolean') return j;
      break;
    case 'string':
      if (typeof j === 'string') return j;
      break;
    case 'uuid': {
      const u = wireUuid(j);
      if (u !== undefined) return u;
      refuseNamedUuid(j, at);
      refuse(at, `expected a ${typeName(base)} as ["uuid", "<UUID>"], got ${shown(j)}`);
    }
  }
  refuse(at, `expected ${article(base.type)}, got ${shown(j)}`);
}

/**
 * Decodes an atom with no type to go by: a string, number or boolean, or ["uuid", u] (as u).
 * Throws OvsdbDecodeError for anything else.
 */
export function decodeAtom(j: Json): Atom {
  return decodeAnyAtom(j, {});
}

function decodeAnyAtom(j: Json, at: DecodeAt): Atom {
  if (typeof j === 'string' || typeof j === 'boolean') return j;
  if (typeof j === 'number' && Number.isFinite(j)) return j;
  const u = wireUuid(j);
  if (u !== undefined) return u;
  refuseNamedUuid(j, at);
  refuse(at, `not an OVSDB atom: ${shown(j)}`);
}

/** A set's elements: ["set", [...]], or one atom standing for a set of one (RFC 7047 5.1). */
function setElements(j: Json, at: DecodeAt): Json[] {
  if (Array.isArray(j) && j[0] === 'set') {
    if (j.length !== 2 || !Array.isArray(j[1])) refuse(at, `malformed set ${shown(j)}`);
    return j[1];
  }
  if (Array.isArray(j) && j[0] === 'map') refuse(at, `expected a set or an atom, got ${shown(j)}`);
  return [j];
}

function checkDecodedCount(col: ColumnSchema, n: number, at: DecodeAt, what: string): void {
  const { min, max } = col.type;
  if (n < min)
    refuse(
      at,
      `${what} has ${n} element${n === 1 ? '' : 's'}, fewer than the column's minimum ${min}`,
    );
  if (n > max) refuse(at, `${what} has ${n} elements, more than the column's maximum ${max}`);
}

/** A set's atoms, checked against the key type and for duplicates (not for their count). */
function decodeSetAtoms(col: ColumnSchema, j: Json, at: DecodeAt): Atom[] {
  const atoms = setElements(j, at).map((e) => decodeTypedAtom(col.type.key, e, at));
  if (new Set(atoms).size !== atoms.length) refuse(at, `duplicate elements in set ${shown(j)}`);
  return atoms;
}

/** A map's pairs, keyed by the key's text, checked against the types (not for their count). */
function decodeMapPairs(col: ColumnSchema, j: Json, at: DecodeAt): Map<string, Atom> {
  if (!Array.isArray(j) || j[0] !== 'map' || j.length !== 2 || !Array.isArray(j[1])) {
    refuse(at, `expected a map as ["map", [[key, value], ...]], got ${shown(j)}`);
  }
  const value = col.type.value;
  if (!value) refuse(at, 'is not a map column');
  const out = new Map<string, Atom>();
  for (const pair of j[1]) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      refuse(at, `map pair ${shown(pair)} is not a [key, value] pair`);
    }
    const key = String(
      decodeTypedAtom(col.type.key, pair[0]!, { ...at, column: `${at.column ?? ''} key` }),
    );
    if (out.has(key)) refuse(at, `duplicate map key ${JSON.stringify(key)}`);
    out.set(key, decodeTypedAtom(value, pair[1]!, { ...at, column: `${at.column ?? ''}:${key}` }));
  }
  return out;
}

/**
 * Decodes an OVSDB value into the plain form of the column's shape, or throws OvsdbDecodeError
 * saying why it does not fit the column's type. `table` names the table in the error.
 */
export function decodeValue(col: ColumnSchema, j: Json, table?: string): Value {
  const at: DecodeAt = { table, column: col.name };
  switch (col.shape) {
    case 'scalar':
    case 'optional': {
      const elements = setElements(j, at);
      checkDecodedCount(col, elements.length, at, 'the value');
      return elements.length === 0 ? null : decodeTypedAtom(col.type.key, elements[0]!, at);
    }
    case 'set': {
      const atoms = decodeSetAtoms(col, j, at);
      checkDecodedCount(col, atoms.length, at, 'the set');
      return atoms;
    }
    case 'map': {
      const pairs = decodeMapPairs(col, j, at);
      checkDecodedCount(col, pairs.size, at, 'the map');
      // fromEntries: a key such as "__proto__" stays a key.
      return Object.fromEntries(pairs);
    }
  }
}

/** Decodes a value with no schema to go by (a column the schema lacks). */
export function decodeUntyped(j: Json, at: DecodeAt = {}): Value {
  if (Array.isArray(j) && j[0] === 'map') {
    if (j.length !== 2 || !Array.isArray(j[1])) refuse(at, `malformed map ${shown(j)}`);
    const out = new Map<string, Atom>();
    for (const pair of j[1]) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        refuse(at, `map pair ${shown(pair)} is not a [key, value] pair`);
      }
      out.set(String(decodeAnyAtom(pair[0]!, at)), decodeAnyAtom(pair[1]!, at));
    }
    return Object.fromEntries(out);
  }
  if (Array.isArray(j) && j[0] === 'set')
    return setElements(j, at).map((e) => decodeAnyAtom(e, at));
  return decodeAnyAtom(j, at);
}

/** The value a column holds when nothing was written to it. */
export function defaultValue(col: ColumnSchema): Value {
  switch (col.shape) {
    case 'optional':
      return null;
    case 'set':
      return [];
    case 'map':
      return {};
    case 'scalar':
      switch (col.type.key.type) {
        case 'integer':
        case 'real':
          return 0;
        case 'boolean':
          return false;
        case 'string':
          return '';
        case 'uuid':
          return zeroUuid;
      }
  }
}

/**
 * Decodes a row from a monitor or select. Columns listed but absent get their default (monitor
 * updates leave out columns that hold their default value). A row that is not a JSON object, or
 * a column value that does not fit its type, is an OvsdbDecodeError.
 */
export function decodeRow(
  table: TableSchema,
  uuid: string | undefined,
  j: Json,
  columns: readonly string[] = [],
): Row {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) {
    refuse(
      { table: table.name },
      `row${uuid === undefined ? '' : ` ${uuid}`} is not a JSON object: got ${shown(j)}`,
    );
  }
  const row = new Map<string, Value>();
  if (uuid !== undefined) row.set('_uuid', uuid);
  for (const name of columns) {
    const col = table.columns.get(name);
    if (col && !row.has(name)) row.set(name, defaultValue(col));
  }
  for (const [name, v] of Object.entries(j)) {
    const col = table.columns.get(name);
    row.set(
      name,
      col ? decodeValue(col, v, table.name) : decodeUntyped(v, { table: table.name, column: name }),
    );
  }
  // fromEntries: a column named "__proto__" would stay a column.
  return Object.fromEntries(row);
}

function compareAtoms(a: Atom, b: Atom): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Applies an update2 "modify" diff to a column's old value (ovsdb-server(7)): a scalar's diff is
 * its new value, a set's diff is the symmetric difference, and a map's diff lists pairs to add
 * (new key), remove (same key and value) or change (same key, new value). A diff that does not
 * fit the column's type, or a result with more (or fewer) elements than the column allows, is an
 * OvsdbDecodeError. `table` names the table in the error.
 */
export function applyDiff(
  col: ColumnSchema,
  old: Value | undefined,
  diff: Json,
  table?: string,
): Value {
  const at: DecodeAt = { table, column: col.name };
  switch (col.shape) {
    // A column of at most one value: ovsdb-server sends the new value, not a set difference
    // (seen on the wire: {"modify": {"up": true}} for false -> true).
    case 'scalar':
    case 'optional':
      return decodeValue(col, diff, table);
    case 'set': {
      const current: Atom[] =
        old === null || old === undefined
          ? []
          : Array.isArray(old)
            ? [...old]
            : typeof old === 'object'
              ? []
              : [old];
      for (const atom of decodeSetAtoms(col, diff, at)) {
        const i = current.indexOf(atom);
        if (i >= 0) current.splice(i, 1);
        else current.push(atom);
      }
      checkDecodedCount(col, current.length, at, 'the set after the diff');
      return current.sort(compareAtoms);
    }
    case 'map': {
      const current = new Map<string, Atom>(
        typeof old === 'object' && old !== null && !Array.isArray(old) ? Object.entries(old) : [],
      );
      for (const [k, v] of decodeMapPairs(col, diff, at)) {
        if (current.get(k) === v) current.delete(k);
        else current.set(k, v);
      }
      checkDecodedCount(col, current.size, at, 'the map after the diff');
      return Object.fromEntries(current);
    }
  }
}

/** Deep equality of plain values; sets compare regardless of order. */
export function valuesEqual(a: Value | undefined, b: Value | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    const x = [...a].sort(compareAtoms);
    const y = [...b].sort(compareAtoms);
    return x.every((v, i) => v === y[i]);
  }
  if (typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => k in b && a[k] === b[k]);
  }
  return false;
}

export function rowsEqual(a: Row, b: Row): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (!valuesEqual(a[k], b[k])) return false;
  return true;
}

// Narrowing helpers for steps that read rows.

export function asString(v: Value | undefined): string {
  if (typeof v !== 'string') throw new TypeError(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}

export function asStringMap(v: Value | undefined): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(`expected a map, got ${JSON.stringify(v)}`);
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
}

export function asStringSet(v: Value | undefined): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'object') throw new TypeError(`expected a set, got ${JSON.stringify(v)}`);
  return [String(v)];
}
