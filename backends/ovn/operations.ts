// OVSDB transaction operations (RFC 7047 section 5.2): builders taking plain JS values, the
// schema check that runs before anything is sent, and the mapping of the server's results.
import type { Json } from './jsonrpc.js';
import type { ColumnSchema, DatabaseSchema, TableSchema } from './schema.js';
import {
  decodeAtom,
  decodeRow,
  encodeMapKeys,
  encodeValue,
  OvsdbSchemaError,
  uuidNamePattern,
  type EncodeMode,
  type Row,
  type WriteRow,
  type WriteValue,
} from './values.js';

export type ConditionFunction = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes';
/** [column, function, value]; e.g. ['name', '==', 'ls0'] or ['_uuid', '==', uuid]. */
export type Condition = readonly [string, ConditionFunction, WriteValue];
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
/**
 * [column, mutator, value]. For insert/delete on a set the value is an array (or one atom); on a
 * map, insert takes an object and delete takes an object (pairs) or an array (keys).
 */
export type Mutation = readonly [string, Mutator, WriteValue];

interface OpBase<Kind extends string, Result> {
  readonly op: Kind;
  /** Never set: carries the result type for transact's typing. */
  readonly __result?: Result;
}

export interface InsertOp extends OpBase<'insert', { uuid: string }> {
  readonly table: string;
  readonly row: WriteRow;
  readonly uuidName?: string;
}
export interface SelectOp extends OpBase<'select', { rows: Row[] }> {
  readonly table: string;
  readonly where: readonly Condition[];
  readonly columns?: readonly string[];
}
export interface UpdateOp extends OpBase<'update', { count: number }> {
  readonly table: string;
  readonly where: readonly Condition[];
  readonly row: WriteRow;
}
export interface MutateOp extends OpBase<'mutate', { count: number }> {
  readonly table: string;
  readonly where: readonly Condition[];
  readonly mutations: readonly Mutation[];
}
export interface DeleteOp extends OpBase<'delete', { count: number }> {
  readonly table: string;
  readonly where: readonly Condition[];
}
export interface WaitOp extends OpBase<'wait', Record<string, never>> {
  readonly table: string;
  readonly where: readonly Condition[];
  readonly columns: readonly string[];
  readonly until: '==' | '!=';
  readonly rows: readonly WriteRow[];
  readonly timeout?: number;
}
export interface CommentOp extends OpBase<'comment', Record<string, never>> {
  readonly comment: string;
}

export type Operation = InsertOp | SelectOp | UpdateOp | MutateOp | DeleteOp | WaitOp | CommentOp;
export type ResultOf<O> = O extends OpBase<string, infer R> ? R : never;
export type Results<T extends readonly Operation[]> = { -readonly [K in keyof T]: ResultOf<T[K]> };

export function insert(table: string, row: WriteRow, uuidName?: string): InsertOp {
  return uuidName === undefined
    ? { op: 'insert', table, row }
    : { op: 'insert', table, row, uuidName };
}

export function select(
  table: string,
  where: readonly Condition[] = [],
  columns?: readonly string[],
): SelectOp {
  return columns ? { op: 'select', table, where, columns } : { op: 'select', table, where };
}

export function update(table: string, where: readonly Condition[], row: WriteRow): UpdateOp {
  return { op: 'update', table, where, row };
}

export function mutate(
  table: string,
  where: readonly Condition[],
  mutations: readonly Mutation[],
): MutateOp {
  return { op: 'mutate', table, where, mutations };
}

/** The delete operation (`delete` is a reserved word, hence the name). */
export function del(table: string, where: readonly Condition[]): DeleteOp {
  return { op: 'delete', table, where };
}
export { del as delete };

/**
 * Waits until the rows matching `where`, projected on `columns`, are (until '==') or are not
 * (until '!=') exactly `rows`; with timeout 0 (the default here) the transaction fails at once
 * otherwise. The building block of optimistic concurrency checks.
 */
export function wait(
  table: string,
  where: readonly Condition[],
  columns: readonly string[],
  until: '==' | '!=',
  rows: readonly WriteRow[],
  timeout = 0,
): WaitOp {
  return { op: 'wait', table, where, columns, until, rows, timeout };
}

export function comment(text: string): CommentOp {
  return { op: 'comment', comment: text };
}

/** Shorthand for the condition [column, '==', value]. */
export function eq(column: string, value: WriteValue): Condition {
  return [column, '==', value];
}

const conditionFunctions = new Set<string>([
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'includes',
  'excludes',
]);
const arithmetic = new Set<string>(['+=', '-=', '*=', '/=', '%=']);

class Checker {
  readonly references = new Set<string>();

  constructor(
    private readonly schema: DatabaseSchema,
    private readonly opIndex: number,
  ) {}

  fail(table: string, column: string | undefined, reason: string): never {
    throw new OvsdbSchemaError(table, column, reason, this.opIndex);
  }

  /** Re-throws a value error with this op's index. */
  wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof OvsdbSchemaError && err.opIndex === undefined) {
        throw new OvsdbSchemaError(err.table, err.column, err.reason, this.opIndex);
      }
      throw err;
    }
  }

  table(name: string): TableSchema {
    const table = this.schema.tables.get(name);
    if (!table) this.fail(name, undefined, `no such table in database ${this.schema.name}`);
    return table;
  }

  column(table: TableSchema, name: string): ColumnSchema {
    const col = table.columns.get(name);
    if (!col) this.fail(table.name, name, `no such column in table ${table.name}`);
    return col;
  }

  value(table: TableSchema, col: ColumnSchema, v: WriteValue, mode: EncodeMode = {}): Json {
    return this.wrap(() =>
      encodeValue(table.name, col, v, { ...mode, references: this.references }),
    );
  }

  writableRow(table: TableSchema, row: WriteRow, isInsert: boolean): Json {
    const out: Record<string, Json> = {};
    for (const [name, v] of Object.entries(row)) {
      const col = this.column(table, name);
      if (col.readOnly) this.fail(table.name, name, 'is read-only (maintained by the server)');
      if (!isInsert && !col.mutable) {
        this.fail(table.name, name, 'is immutable: it can be set only when the row is inserted');
      }
      out[name] = this.value(table, col, v);
    }
    return out;
  }

  where(table: TableSchema, conditions: readonly Condition[]): Json {
    return conditions.map(([name, fn, v]) => {
      const col = this.column(table, name);
      if (!conditionFunctions.has(fn))
        this.fail(table.name, name, `unknown condition function ${fn}`);
      if (['<', '<=', '>', '>='].includes(fn)) {
        const numeric = col.type.key.type === 'integer' || col.type.key.type === 'real';
        if ((col.shape !== 'scalar' && col.shape !== 'optional') || !numeric) {
          this.fail(
            table.name,
            name,
            `${fn} applies only to an integer or real column of at most one value`,
          );
        }
      }
      if (['<', '<=', '>', '>='].includes(fn)) {
        return [name, fn, this.value(table, { ...col, shape: 'scalar' }, v)];
      }
      const anySize = fn === 'includes' || fn === 'excludes';
      return [name, fn, this.value(table, col, v, { anySize })];
    });
  }

  mutation(table: TableSchema, [name, mutator, v]: Mutation): Json {
    const col = this.column(table, name);
    if (col.readOnly) this.fail(table.name, name, 'is read-only (maintained by the server)');
    if (!col.mutable) this.fail(table.name, name, 'is immutable: it cannot be mutated');
    if (arithmetic.has(mutator)) {
      const keyType = col.type.key.type;
      if (col.shape === 'map' || (keyType !== 'integer' && keyType !== 'real')) {
        this.fail(table.name, name, `${mutator} applies only to integer or real columns`);
      }
      if (mutator === '%=' && keyType !== 'integer') {
        this.fail(table.name, name, '%= applies only to integer columns');
      }
      const scalar = { ...col, shape: 'scalar' as const };
      const arg = this.value(table, scalar, v, { noConstraints: true });
      if ((mutator === '/=' || mutator === '%=') && arg === 0) {
        this.fail(table.name, name, `${mutator} 0 divides by zero`);
      }
      return [name, mutator, arg];
    }
    const named: string = mutator;
    if (named !== 'insert' && named !== 'delete') {
      this.fail(table.name, name, `unknown mutator ${named}`);
    }
    if (col.shape === 'scalar') {
      this.fail(
        table.name,
        name,
        `${mutator} applies only to sets and maps; this column holds one value`,
      );
    }
    if (col.shape === 'map' && mutator === 'delete' && Array.isArray(v)) {
      return [name, mutator, this.wrap(() => encodeMapKeys(table.name, col, v))];
    }
    const asSet = col.shape === 'optional' ? { ...col, shape: 'set' as const } : col;
    return [name, mutator, this.value(table, asSet, v, { anySize: true })];
  }
}

export interface EncodedTransaction {
  params: Json[];
}

/**
 * Checks every operation against the schema and encodes the transact params
 * [database, op...]. Throws OvsdbSchemaError naming the op index, table, column and reason.
 */
export function encodeTransaction(schema: DatabaseSchema, ops: readonly Operation[]): Json[] {
  const declared = new Map<string, number>();
  const references = new Map<string, number>();
  const encoded = ops.map((op, i): Json => {
    const c = new Checker(schema, i);
    let out: Json;
    switch (op.op) {
      case 'insert': {
        const table = c.table(op.table);
        const o: Record<string, Json> = {
          op: 'insert',
          table: op.table,
          row: c.writableRow(table, op.row, true),
        };
        if (op.uuidName !== undefined) {
          if (!uuidNamePattern.test(op.uuidName)) {
            c.fail(op.table, undefined, `"${op.uuidName}" is not a valid uuid-name`);
          }
          if (declared.has(op.uuidName)) {
            c.fail(
              op.table,
              undefined,
              `uuid-name ${op.uuidName} is already used by op ${declared.get(op.uuidName)!}`,
            );
          }
          declared.set(op.uuidName, i);
          o['uuid-name'] = op.uuidName;
        }
        out = o;
        break;
      }
      case 'select': {
        const table = c.table(op.table);
        const o: Record<string, Json> = {
          op: 'select',
          table: op.table,
          where: c.where(table, op.where),
        };
        if (op.columns) {
          for (const name of op.columns) c.column(table, name);
          o.columns = [...op.columns];
        }
        out = o;
        break;
      }
      case 'update': {
        const table = c.table(op.table);
        out = {
          op: 'update',
          table: op.table,
          where: c.where(table, op.where),
          row: c.writableRow(table, op.row, false),
        };
        break;
      }
      case 'mutate': {
        const table = c.table(op.table);
        if (op.mutations.length === 0) c.fail(op.table, undefined, 'mutate with no mutations');
        out = {
          op: 'mutate',
          table: op.table,
          where: c.where(table, op.where),
          mutations: op.mutations.map((m) => c.mutation(table, m)),
        };
        break;
      }
      case 'delete': {
        const table = c.table(op.table);
        out = { op: 'delete', table: op.table, where: c.where(table, op.where) };
        break;
      }
      case 'wait': {
        const table = c.table(op.table);
        const until: string = op.until;
        if (until !== '==' && until !== '!=') {
          c.fail(op.table, undefined, `wait until must be "==" or "!=", not ${until}`);
        }
        for (const name of op.columns) c.column(table, name);
        const rows = op.rows.map((row) => {
          const r: Record<string, Json> = {};
          for (const [name, v] of Object.entries(row)) {
            const col = c.column(table, name);
            if (!op.columns.includes(name)) {
              c.fail(op.table, name, 'a wait row may hold only the columns the wait lists');
            }
            r[name] = c.value(table, col, v);
          }
          return r;
        });
        const o: Record<string, Json> = {
          op: 'wait',
          table: op.table,
          where: c.where(table, op.where),
          columns: [...op.columns],
          until: op.until,
          rows,
        };
        if (op.timeout !== undefined) {
          if (!Number.isSafeInteger(op.timeout) || op.timeout < 0) {
            c.fail(op.table, undefined, `wait timeout must be a non-negative integer (ms)`);
          }
          o.timeout = op.timeout;
        }
        out = o;
        break;
      }
      case 'comment':
        out = { op: 'comment', comment: op.comment };
        break;
      default: {
        const unknown = op as { op?: unknown };
        throw new OvsdbSchemaError('?', undefined, `unknown operation ${String(unknown.op)}`, i);
      }
    }
    for (const name of c.references) if (!references.has(name)) references.set(name, i);
    return out;
  });
  for (const [name, i] of references) {
    if (!declared.has(name)) {
      const op = ops[i]!;
      throw new OvsdbSchemaError(
        'table' in op ? op.table : '?',
        undefined,
        `named-uuid ${name} is not declared by any insert of this transaction`,
        i,
      );
    }
  }
  return [schema.name, ...encoded];
}

/** One failed transaction, as the server reported it; nothing of it was applied. */
export class OvsdbTransactionError extends Error {
  constructor(
    /** The failed op's index, or ops.length when every op succeeded but the commit failed. */
    readonly opIndex: number,
    readonly op: string,
    readonly table: string | undefined,
    readonly error: string,
    readonly details: string | undefined,
  ) {
    const what =
      op === 'commit'
        ? 'commit'
        : `op ${opIndex} (${op}${table === undefined ? '' : ` on ${table}`})`;
    super(
      `transaction failed at ${what}: ${error}${details ? `: ${details}` : ''}; nothing was applied`,
    );
    this.name = 'OvsdbTransactionError';
  }
}

function isObject(j: Json | undefined): j is { [key: string]: Json } {
  return typeof j === 'object' && j !== null && !Array.isArray(j);
}

/** Maps the server's transact result back to plain results, or throws OvsdbTransactionError. */
export function decodeResults(
  schema: DatabaseSchema,
  ops: readonly Operation[],
  result: Json,
): unknown[] {
  if (!Array.isArray(result)) {
    throw new Error(`transact: the server answered ${JSON.stringify(result)}, not an array`);
  }
  result.forEach((r, i) => {
    if (isObject(r) && typeof r.error === 'string') {
      const op = ops[i];
      const details = typeof r.details === 'string' ? r.details : undefined;
      if (!op) throw new OvsdbTransactionError(i, 'commit', undefined, r.error, details);
      throw new OvsdbTransactionError(
        i,
        op.op,
        'table' in op ? op.table : undefined,
        r.error,
        details,
      );
    }
  });
  return ops.map((op, i) => {
    const r = result[i];
    if (!isObject(r)) throw new Error(`transact: no result for op ${i} (${op.op})`);
    switch (op.op) {
      case 'insert':
        return { uuid: decodeAtom(r.uuid ?? null) };
      case 'select': {
        const table = schema.tables.get(op.table)!;
        const rows = Array.isArray(r.rows) ? r.rows : [];
        return {
          rows: rows.map((row) => {
            const uuid =
              isObject(row) && row._uuid !== undefined ? decodeAtom(row._uuid) : undefined;
            return decodeRow(table, typeof uuid === 'string' ? uuid : undefined, row);
          }),
        };
      }
      case 'update':
      case 'mutate':
      case 'delete':
        return { count: typeof r.count === 'number' ? r.count : 0 };
      default:
        return {};
    }
  });
}
