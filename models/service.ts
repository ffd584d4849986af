// The model service: every read and write of models goes through here, inside transactions.
// Writes are validated against the registry (every problem reported at once, nothing written),
// edits bump `version` and may name the version they expect, deletes are soft and follow the
// references' delete rules, lists are filtered, ordered and paged by keyset cursors. The
// synchronizer's status writes go through setStatus and never bump `version`.
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  PreconditionError,
  ValidationError,
  type FieldProblem,
} from './errors.js';
import {
  allocatePorts,
  checkNetworkPlanChange,
  describePorts,
  holdAddressesOf,
  type IpamRow,
} from './ipam/allocator.js';
import { SYNC_BOOKKEEPING, type FieldDef, type Registry, type ResolvedModel } from './registry.js';
import { q, tableColumns, uniqueSets } from './schema.js';
import { isObjectStatus, OBJECT_STATUSES, statusCondition, type ObjectStatus } from './status.js';
import { checkUserWrite, coerce, modelInfo, sameValue, type ModelInfo } from './validate.js';

/** A model object as read: bookkeeping and fields by column name, references as `<field>_id`. */
export type ModelObject = Record<string, unknown> & {
  id: number;
  leaf_model: string;
  version: number;
};

export type FilterOp =
  'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'in' | 'contains' | 'isnull' | 'notnull';

export interface Filter {
  field: string;
  op?: FilterOp;
  value?: unknown;
}

export interface ListOptions {
  filter?: Filter[];
  /** Sort keys; `id` is always the last tie-breaker. */
  orderBy?: { field: string; desc?: boolean }[];
  /** Default 100, at most 5000. */
  pageSize?: number;
  pageToken?: string;
  /** Soft-deleted objects too (they are hidden by default). */
  includeDeleted?: boolean;
  /**
   * Only objects with this status (models/status.ts): `deleting` lists deleted objects, the
   * others live ones.
   */
  status?: ObjectStatus;
  /** Count every object that matches (all pages) into `totalSize`: one more statement. */
  withTotal?: boolean;
}

/**
 * Every object a list matches, all pages (5,000 a query), through `models.list` (so through the
 * synchronizer's cache when `models` is the cached service).
 */
export async function listAll(
  models: { list(model: string, options: ListOptions): Promise<Page> },
  model: string,
  options: Omit<ListOptions, 'pageSize' | 'pageToken' | 'withTotal'> = {},
): Promise<ModelObject[]> {
  const out: ModelObject[] = [];
  let pageToken: string | undefined;
  do {
    const page = await models.list(model, {
      ...options,
      pageSize: 5000,
      ...(pageToken ? { pageToken } : {}),
    });
    out.push(...page.items);
    pageToken = page.nextPageToken ?? undefined;
  } while (pageToken);
  return out;
}

export interface Page {
  items: ModelObject[];
  /** Pass it back for the next page; null on the last page. */
  nextPageToken: string | null;
  /** With `withTotal`: how many objects match the filter, on every page. */
  totalSize?: number;
}

export interface WriteOptions {
  /** Refuse the write (ConflictError) unless the object is at this version. */
  expectedVersion?: number;
}

/** A synchronizer write: bookkeeping and feedback fields; never bumps `version`. */
export interface StatusWrite {
  backend_code?: 0 | 1 | 2;
  backend_status?: string;
  synced_version?: number;
  failures?: number;
  next_attempt_at?: Date | string | null;
  /** Model policies' bookkeeping: the version handled, 0/1/2 and one sentence. */
  policed_version?: number;
  policy_code?: 0 | 1 | 2;
  policy_status?: string;
  /** Feedback fields of the model (e.g. a Port's port_id). */
  feedback?: Record<string, unknown>;
}

/**
 * One object's status write in a batch: bookkeeping, and feedback fields where the model has no
 * subclasses (whose feedback fields would depend on each object's own model).
 */
export interface StatusWriteOf {
  id: number;
  status: StatusWrite;
}

export interface DeleteResult {
  object: ModelObject;
  /** Every object deleted with it by cascading references, in the order found. */
  cascaded: { model: string; id: number }[];
}

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;

/** The stored form of a password: `scrypt$<salt>$<key>` (base64url). */
export async function hashPassword(plain: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(plain, salt, 32);
  return `scrypt$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(plain: string, stored: string | null): Promise<boolean> {
  const [scheme, salt, key] = (stored ?? '').split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await scrypt(plain, Buffer.from(salt, 'base64url'), expected.length);
  return timingSafeEqual(expected, actual);
}

/** Internal: a unique index refused a write; resolved to a named holder after the rollback. */
class UniqueViolation extends Error {
  constructor(
    readonly model: ResolvedModel,
    readonly index: string,
    readonly rows: { set: Record<string, unknown>; id?: number; index?: number }[],
  ) {
    super(`unique index ${index}`);
  }
}

interface PgError {
  code?: string;
  constraint?: string;
}

function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as PgError).code : undefined;
}

const PAGE_DEFAULT = 100;
const PAGE_MAX = 5000;
const INSERT_PARAMS_MAX = 60000;

export class ModelService {
  readonly pool: pg.Pool;
  private readonly ownPool: boolean;

  constructor(
    poolOrUrl: pg.Pool | string,
    readonly registry: Registry,
    options: { poolSize?: number } = {},
  ) {
    this.ownPool = typeof poolOrUrl === 'string';
    this.pool =
      typeof poolOrUrl === 'string'
        ? new pg.Pool({ connectionString: poolOrUrl, max: options.poolSize ?? 10 })
        : poolOrUrl;
    // An idle connection that the server drops (a restart, an administrator) is an 'error' event
    // on the pool; pg discards that connection and the next query opens a new one.
    if (this.ownPool) this.pool.on('error', () => undefined);
  }

  private closing: Promise<void> | undefined;

  /** Ends the pool this service made (once; later calls wait for the first). */
  close(): Promise<void> {
    this.closing ??= this.ownPool ? this.pool.end() : Promise.resolve();
    return this.closing;
  }

  /**
   * Runs `work` in one transaction: all of it commits or none of it does. Deadlocks and
   * serialization failures are retried (a few times) from the start.
   */
  async transaction<T>(work: (tx: ModelTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let release: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(new ModelTx(client, this.registry));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          release = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        const code = pgCode(err);
        if ((code === '40P01' || code === '40001') && attempt < 4) continue;
        if (err instanceof UniqueViolation)
          throw await explainUnique(this.pool, this.registry, err);
        throw err;
      } finally {
        client.release(release);
      }
    }
  }

  create(model: string, values: Record<string, unknown>): Promise<ModelObject> {
    return this.transaction((tx) => tx.create(model, values));
  }

  createMany(model: string, values: Record<string, unknown>[]): Promise<ModelObject[]> {
    return this.transaction((tx) => tx.createMany(model, values));
  }

  /**
   * Reads and status writes that are one statement each run on the pool, outside any explicit
   * transaction: PostgreSQL makes each atomic, and BEGIN/COMMIT would triple their round trips
   * (the synchronizer makes thousands of them per convergence).
   */
  private get direct(): ModelTx {
    return new ModelTx(this.pool, this.registry);
  }

  get(model: string, id: number, options: { includeDeleted?: boolean } = {}): Promise<ModelObject> {
    return this.direct.get(model, id, options);
  }

  update(
    model: string,
    id: number,
    values: Record<string, unknown>,
    options: WriteOptions = {},
  ): Promise<ModelObject> {
    return this.transaction((tx) => tx.update(model, id, values, options));
  }

  delete(model: string, id: number, options: WriteOptions = {}): Promise<DeleteResult> {
    return this.transaction((tx) => tx.delete(model, id, options));
  }

  reap(model: string, id: number): Promise<void> {
    return this.transaction((tx) => tx.reap(model, id));
  }

  list(model: string, options: ListOptions = {}): Promise<Page> {
    return this.direct.list(model, options);
  }

  setStatus(model: string, id: number, status: StatusWrite): Promise<ModelObject> {
    return this.direct.setStatus(model, id, status);
  }

  /** Objects of a model by id, in one statement; ids with no such object are left out. */
  getMany(
    model: string,
    ids: readonly number[],
    options: { includeDeleted?: boolean } = {},
  ): Promise<ModelObject[]> {
    return this.direct.getMany(model, ids, options);
  }

  /** Many status writes in one statement per set of columns (see StatusWriteOf). */
  setStatusMany(model: string, writes: readonly StatusWriteOf[]): Promise<void> {
    return this.direct.setStatusMany(model, writes);
  }

  /** setStatus when nothing is needed back; a missing object is skipped (ModelTx). */
  writeStatus(model: string, id: number, status: StatusWrite): Promise<void> {
    return this.direct.writeStatus(model, id, status);
  }

  /** The live objects referring to an object through a reference field (ModelTx). */
  listReferring(model: string, field: string, id: number): Promise<ModelObject[]> {
    return this.direct.listReferring(model, field, id);
  }

  listReferringMany(
    model: string,
    field: string,
    ids: readonly number[],
  ): Promise<Map<number, ModelObject[]>> {
    return this.direct.listReferringMany(model, field, ids);
  }

  dependents(
    model: string,
    id: number,
  ): Promise<{ model: string; id: number; deleted: boolean }[]> {
    return this.transaction((tx) => tx.dependents(model, id));
  }

  /** Checks a password field of an object (e.g. a User's) without ever returning the hash. */
  async checkPassword(model: string, id: number, field: string, plain: string): Promise<boolean> {
    const m = this.registry.get(model);
    if (m.allFields[field]?.type !== 'password') {
      throw new ValidationError(model, [{ field, reason: 'is not a password field' }]);
    }
    const r = await this.pool.query<{ h: string | null }>(
      `SELECT ${q(field)} AS h FROM ${q(m.table)} WHERE id = $1 AND deleted_at IS NULL`,
      [id],
    );
    return verifyPassword(plain, r.rows[0]?.h ?? null);
  }
}

/**
 * Turns a refused unique index into an error naming the field and the object holding it, read
 * on `db` (a transaction explains on its own connection: the holder may be its own, uncommitted).
 */
async function explainUnique(
  db: pg.PoolClient | pg.Client | pg.Pool,
  registry: Registry,
  err: UniqueViolation,
): Promise<AlreadyExistsError> {
  const root = registry.get(err.model.root);
  const set = uniqueSets(registry, root).find((u) => u.index === err.index);
  if (!set) return new AlreadyExistsError(err.model.name, 'name', 'is already used');
  const field = set.columns.at(-1) ?? 'name';
  const described = set.columns.filter((c) => c !== field);
  for (const row of err.rows) {
    const values = set.columns.map((c) => row.set[c]);
    if (values.some((v) => v === undefined || v === null)) continue;
    const where = set.columns.map((c, i) => `${q(c)} = $${String(i + 1)}`).join(' AND ');
    const r = await db.query<{ id: number; leaf_model?: string }>(
      `SELECT * FROM ${q(root.table)} WHERE ${where} AND ${set.where.replace(/^/, '')} LIMIT 1`,
      values,
    );
    const holder = r.rows[0];
    if (!holder || holder.id === row.id) continue;
    const holderModel = holder.leaf_model ?? root.name;
    const scope = described.length
      ? ` with ${described.map((c) => `${c} ${String(row.set[c])}`).join(', ')}`
      : '';
    const e = new AlreadyExistsError(
      err.model.name,
      field,
      `${String(row.set[field])} is already used by ${holderModel} ${String(holder.id)}${scope}`,
      { model: holderModel, id: holder.id },
    );
    if (row.index !== undefined) e.errors[0] = { ...e.errors[0]!, index: row.index };
    return e;
  }
  return new AlreadyExistsError(
    err.model.name,
    field,
    `the same ${set.columns.join(', ')} is given twice in one request`,
  );
}

/**
 * The operations of the model service on one transaction's connection; or, for the operations
 * that are one statement (get, list, setStatus), on a pool.
 */
export class ModelTx {
  constructor(
    readonly client: pg.PoolClient | pg.Client | pg.Pool,
    readonly registry: Registry,
  ) {}

  /**
   * When `err` is a unique index refusing a write of this transaction, the refusal as an
   * AlreadyExistsError naming the field and the holder (read on this connection); else
   * undefined. Callers that keep the transaction going after a savepoint use it.
   */
  async explainRefusal(err: unknown): Promise<AlreadyExistsError | undefined> {
    return err instanceof UniqueViolation
      ? explainUnique(this.client, this.registry, err)
      : undefined;
  }

  private info(model: string): ModelInfo {
    if (!this.registry.has(model)) {
      throw new ValidationError(model, [{ field: 'model', reason: `no model named ${model}` }]);
    }
    return modelInfo(this.registry, model);
  }

  async create(model: string, values: Record<string, unknown>): Promise<ModelObject> {
    const [one] = await this.insert(this.info(model), [values], false);
    return one!;
  }

  /** Creates many objects of one model in few statements; problems name the item's index. */
  async createMany(model: string, values: Record<string, unknown>[]): Promise<ModelObject[]> {
    if (values.length === 0) return [];
    return this.insert(this.info(model), values, true);
  }

  private async insert(
    info: ModelInfo,
    inputs: Record<string, unknown>[],
    indexed: boolean,
  ): Promise<ModelObject[]> {
    const model = info.model;
    const problems: FieldProblem[] = [];
    const rows = inputs.map(
      (input, i): { set: Record<string, unknown>; index?: number; id?: number } => {
        const checked = checkUserWrite(info, input, undefined, indexed ? i : undefined);
        problems.push(...checked.problems);
        return indexed ? { set: checked.set, index: i } : { set: checked.set };
      },
    );
    if (problems.length === 0) problems.push(...(await this.checkReferences(info, rows)));
    if (problems.length) throw new ValidationError(model.name, problems);

    for (const row of rows) {
      for (const key of info.passwords) {
        const plain = row.set[key];
        if (typeof plain === 'string') row.set[key] = await hashPassword(plain);
      }
      if (model.polymorphic) row.set.leaf_model = model.name;
    }

    // Ports get their addresses and MACs before they are written (ids are drawn first).
    let ipam: IpamRow[] = [];
    if (model.root === 'Port') {
      const ids = await this.client.query<{ id: number }>(
        `SELECT nextval(pg_get_serial_sequence($1, 'id'))::int AS id FROM generate_series(1, $2)`,
        [model.table, rows.length],
      );
      rows.forEach((row, i) => {
        row.id = ids.rows[i]!.id;
        row.set.id = row.id;
      });
      const allocated = await allocatePorts(
        this,
        rows as { set: Record<string, unknown>; id: number; index?: number }[],
      );
      if (allocated.problems.length) throw new ValidationError(model.name, allocated.problems);
      ipam = allocated.rows;
    }

    const columns = [...new Set(rows.flatMap((r) => Object.keys(r.set)))];
    const types = columns.map((c) => columnSqlType(info, c));
    const out: ModelObject[] = [];
    const perStatement = Math.max(1, Math.floor(INSERT_PARAMS_MAX / Math.max(1, columns.length)));
    for (let start = 0; start < rows.length; start += perStatement) {
      const chunk = rows.slice(start, start + perStatement);
      const params: unknown[] = [];
      const tuples = chunk.map(
        (row) =>
          `(${columns
            .map((c, i) => {
              if (!(c in row.set)) return 'DEFAULT';
              params.push(toParam(row.set[c], types[i]!));
              return `$${String(params.length)}`;
            })
            .join(', ')})`,
      );
      let result: pg.QueryResult;
      try {
        result = await this.client.query(
          `INSERT INTO ${q(model.table)} (${columns.map(q).join(', ')}) VALUES ${tuples.join(', ')} RETURNING ${projection(this.registry, model)}`,
          params,
        );
      } catch (err) {
        throw this.uniqueOr(err, model, chunk);
      }
      // Rows come back already in the shape callers see (see projection()).
      for (const r of result.rows as ModelObject[]) out.push(r);
    }
    if (ipam.length) await insertIpam(this, ipam);
    return out;
  }

  /** References must name live objects of the right model; the rows are share-locked. */
  private async checkReferences(
    info: ModelInfo,
    rows: { set: Record<string, unknown>; index?: number }[],
  ): Promise<FieldProblem[]> {
    const byTable = new Map<
      string,
      { ids: Set<number>; uses: { key: string; def: FieldDef; id: number; index?: number }[] }
    >();
    for (const row of rows) {
      for (const f of info.fields) {
        if (f.def.type !== 'reference' || !f.def.reference) continue;
        const id = row.set[f.key];
        if (typeof id !== 'number') continue;
        const table = this.registry.get(f.def.reference.model).table;
        let entry = byTable.get(table);
        if (!entry) byTable.set(table, (entry = { ids: new Set(), uses: [] }));
        entry.ids.add(id);
        entry.uses.push({ key: f.key, def: f.def, id, index: row.index });
      }
    }
    const problems: FieldProblem[] = [];
    for (const [table, entry] of byTable) {
      const polymorphic = this.registry.tables().find((t) => t.table === table)?.polymorphic;
      const r = await this.client.query<{ id: number; leaf_model?: string; deleted: boolean }>(
        `SELECT id, ${polymorphic ? 'leaf_model, ' : ''}deleted_at IS NOT NULL AS deleted FROM ${q(table)} WHERE id = ANY($1::int[]) ORDER BY id FOR SHARE`,
        [[...entry.ids]],
      );
      const found = new Map(r.rows.map((row) => [row.id, row]));
      for (const use of entry.uses) {
        const target = this.registry.get(use.def.reference!.model);
        const row = found.get(use.id);
        const at = use.index === undefined ? {} : { index: use.index };
        if (!row) {
          problems.push({
            field: use.key,
            reason: `no ${target.name} with id ${String(use.id)}`,
            ...at,
          });
        } else if (row.deleted) {
          problems.push({
            field: use.key,
            reason: `${target.name} ${String(use.id)} is being deleted`,
            ...at,
          });
        } else if (row.leaf_model && !target.family.includes(row.leaf_model)) {
          problems.push({
            field: use.key,
            reason: `${String(use.id)} is a ${row.leaf_model}, not a ${target.name}`,
            ...at,
          });
        }
      }
    }
    return problems;
  }

  async get(
    model: string,
    id: number,
    options: { includeDeleted?: boolean; lock?: boolean } = {},
  ): Promise<ModelObject> {
    const row = await this.getRow(this.info(model).model, id, options);
    return this.toObject(row, this.registry.get(model));
  }

  async getMany(
    model: string,
    ids: readonly number[],
    options: { includeDeleted?: boolean } = {},
  ): Promise<ModelObject[]> {
    const m = this.info(model).model;
    const valid = [...new Set(ids)].filter(
      (id) => Number.isInteger(id) && id >= 1 && id <= 2147483647,
    );
    if (valid.length === 0) return [];
    const params: unknown[] = [valid];
    let where = 'id = ANY($1::int[])';
    if (!options.includeDeleted) where += ' AND deleted_at IS NULL';
    if (m.polymorphic && m.root !== m.name) {
      params.push(m.family);
      where += ' AND leaf_model = ANY($2::text[])';
    }
    const r = await this.client.query(`SELECT * FROM ${q(m.table)} WHERE ${where}`, params);
    const asked = this.registry.get(model);
    return (r.rows as Record<string, unknown>[]).map((row) => this.toObject(row, asked));
  }

  private async getRow(
    model: ResolvedModel,
    id: number,
    options: { includeDeleted?: boolean; lock?: boolean } = {},
  ): Promise<Record<string, unknown>> {
    if (!Number.isInteger(id) || id < 1 || id > 2147483647) throw new NotFoundError(model.name, id);
    const r = await this.client.query(
      `SELECT * FROM ${q(model.table)} WHERE id = $1${options.lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const row = r.rows[0] as Record<string, unknown> | undefined;
    if (
      !row ||
      (!options.includeDeleted && row.deleted_at !== null) ||
      (model.polymorphic && !model.family.includes(row.leaf_model as string))
    ) {
      throw new NotFoundError(model.name, id);
    }
    return row;
  }

  async update(
    model: string,
    id: number,
    values: Record<string, unknown>,
    options: WriteOptions = {},
  ): Promise<ModelObject> {
    const asked = this.info(model);
    // A deleted object still being torn down takes one edit: its deletion_policy (to let go of
    // its backend objects instead, or tear them down after all, while a teardown is stuck).
    const onlyDeletionPolicy =
      values.deletion_policy !== undefined &&
      Object.entries(values).every(([k, v]) => k === 'deletion_policy' || v === undefined);
    const current = await this.getRow(asked.model, id, {
      lock: true,
      includeDeleted: onlyDeletionPolicy,
    });
    // Validate as the object's own model, whichever model of its family the caller named.
    const leaf = (current.leaf_model as string | undefined) ?? asked.model.name;
    const info = this.info(leaf);
    if (options.expectedVersion !== undefined && options.expectedVersion !== current.version) {
      throw new ConflictError(
        leaf,
        id,
        options.expectedVersion,
        current.version as number,
        this.toObject(current, info.model),
      );
    }
    const checked = checkUserWrite(info, values, current);
    const problems = checked.problems;
    if (
      current.write_protect === true &&
      !('write_protect' in checked.set && checked.set.write_protect === false)
    ) {
      throw new PreconditionError(leaf, id, 'is write-protected: set write_protect to false first');
    }
    // Only what changes is written; an update that changes nothing leaves the version alone.
    const changed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(checked.set)) {
      if (info.passwords.has(key)) {
        if (
          typeof value === 'string' &&
          !(await verifyPassword(value, current[key] as string | null))
        ) {
          changed[key] = await hashPassword(value);
        } else if (value === null && current[key] !== null) changed[key] = null;
        continue;
      }
      if (!sameValue(current[key], value)) changed[key] = value;
    }
    if (problems.length === 0)
      problems.push(...(await this.checkReferences(info, [{ set: changed }])));
    if (problems.length === 0 && info.model.root === 'Network') {
      problems.push(...(await checkNetworkPlanChange(this, id, current, changed)));
    }
    if (problems.length) throw new ValidationError(leaf, problems);
    if (Object.keys(changed).length === 0) return this.toObject(current, info.model);

    let ipam: IpamRow[] = [];
    if (info.model.root === 'Port') {
      // Clearing a static address or MAC keeps the one the port has: they move only on request.
      if (changed.ip === null) delete changed.ip;
      if (changed.mac === null) delete changed.mac;
    }
    if (Object.keys(changed).length === 0) return this.toObject(current, info.model);
    if (info.model.root === 'Port' && ('ip' in changed || 'mac' in changed)) {
      const allocated = await allocatePorts(
        this,
        [{ id, set: { ...current, ...changed } }],
        changed,
      );
      if (allocated.problems.length) throw new ValidationError(leaf, allocated.problems);
      ipam = allocated.rows;
      Object.assign(changed, pick(allocated.updates.get(id) ?? {}, ['ip', 'mac']));
    }

    const keys = Object.keys(changed);
    const params: unknown[] = [id];
    const sets = keys.map((k) => {
      params.push(toParam(changed[k], columnSqlType(info, k)));
      return `${q(k)} = $${String(params.length)}`;
    });
    let result: pg.QueryResult;
    try {
      result = await this.client.query(
        `UPDATE ${q(info.model.table)} SET ${sets.join(', ')}, version = version + 1, updated_at = now() WHERE id = $1 RETURNING *`,
        params,
      );
    } catch (err) {
      throw this.uniqueOr(err, info.model, [{ set: { ...current, ...changed }, id }]);
    }
    if (ipam.length) await insertIpam(this, ipam);
    return this.toObject(result.rows[0] as Record<string, unknown>, info.model);
  }

  /**
   * Soft delete: the object and everything that refers to it by a cascading reference get
   * `deleted_at` (the synchronizer tears their backends down, then reaps them); references
   * that restrict refuse the delete, naming who still uses it; set-null references are cleared.
   */
  async delete(model: string, id: number, options: WriteOptions = {}): Promise<DeleteResult> {
    const asked = this.info(model);
    const current = await this.getRow(asked.model, id, { lock: true });
    const leaf = (current.leaf_model as string | undefined) ?? asked.model.name;
    if (options.expectedVersion !== undefined && options.expectedVersion !== current.version) {
      throw new ConflictError(
        leaf,
        id,
        options.expectedVersion,
        current.version as number,
        this.toObject(current, this.registry.get(leaf)),
      );
    }
    // Everything that goes with it, breadth first.
    const doomed = new Map<string, Set<number>>([[asked.model.table, new Set([id])]]);
    const cascaded: { model: string; id: number }[] = [];
    const protectedRows: { model: string; id: number }[] = [];
    if (current.write_protect === true) protectedRows.push({ model: leaf, id });
    let frontier: { table: string; ids: number[] }[] = [{ table: asked.model.table, ids: [id] }];
    while (frontier.length) {
      const next: { table: string; ids: number[] }[] = [];
      for (const { table, ids } of frontier) {
        for (const ref of this.referrers(table)) {
          if (ref.onDelete !== 'cascade') continue;
          const r = await this.client.query<{
            id: number;
            leaf_model?: string;
            write_protect: boolean;
          }>(
            `SELECT * FROM ${q(ref.table)} WHERE ${q(ref.column)} = ANY($1::int[]) AND deleted_at IS NULL ORDER BY id FOR UPDATE`,
            [ids],
          );
          let seen = doomed.get(ref.table);
          if (!seen) doomed.set(ref.table, (seen = new Set()));
          const fresh: number[] = [];
          for (const row of r.rows) {
            if (seen.has(row.id)) continue;
            seen.add(row.id);
            fresh.push(row.id);
            const m = row.leaf_model ?? ref.rootModel;
            cascaded.push({ model: m, id: row.id });
            if (row.write_protect) protectedRows.push({ model: m, id: row.id });
          }
          if (fresh.length) next.push({ table: ref.table, ids: fresh });
        }
      }
      frontier = next;
    }
    if (protectedRows.length) {
      throw new PreconditionError(
        leaf,
        id,
        `cannot be deleted: write-protected: ${protectedRows.map((p) => `${p.model} ${String(p.id)}`).join(', ')}`,
        protectedRows,
      );
    }
    // Restricting references from objects that stay refuse the delete.
    const blockers: { model: string; id: number; field: string }[] = [];
    for (const [table, ids] of doomed) {
      for (const ref of this.referrers(table)) {
        if (ref.onDelete !== 'restrict') continue;
        const staying = [...(doomed.get(ref.table) ?? [])];
        const r = await this.client.query<{ id: number; leaf_model?: string }>(
          `SELECT * FROM ${q(ref.table)} WHERE ${q(ref.column)} = ANY($1::int[]) AND deleted_at IS NULL AND NOT (id = ANY($2::int[])) ORDER BY id LIMIT 10`,
          [[...ids], staying],
        );
        for (const row of r.rows) {
          blockers.push({ model: row.leaf_model ?? ref.rootModel, id: row.id, field: ref.column });
        }
      }
    }
    if (blockers.length) {
      throw new PreconditionError(
        leaf,
        id,
        `cannot be deleted: still used by ${blockers.map((b) => `${b.model} ${String(b.id)} (${b.field})`).join(', ')}`,
        blockers.map(({ model: m, id: i }) => ({ model: m, id: i })),
      );
    }
    // Set-null references from objects that stay are cleared (an edit of those objects).
    for (const [table, ids] of doomed) {
      for (const ref of this.referrers(table)) {
        if (ref.onDelete !== 'set-null') continue;
        await this.client.query(
          `UPDATE ${q(ref.table)} SET ${q(ref.column)} = NULL, version = version + 1, updated_at = now() WHERE ${q(ref.column)} = ANY($1::int[]) AND deleted_at IS NULL AND NOT (id = ANY($2::int[]))`,
          [[...ids], [...(doomed.get(ref.table) ?? [])]],
        );
      }
    }
    // Deleted with deletion_policy orphan: what goes with it is orphaned too (an orphaned pod's
    // interfaces keep their logical switch ports and addresses).
    const orphan = current.deletion_policy === 'orphan' ? `, deletion_policy = 'orphan'` : '';
    let object: ModelObject | undefined;
    for (const [table, ids] of doomed) {
      const r = await this.client.query(
        `UPDATE ${q(table)} SET deleted_at = now(), version = version + 1, updated_at = now()${orphan} WHERE id = ANY($1::int[]) AND deleted_at IS NULL RETURNING *`,
        [[...ids]],
      );
      if (table === asked.model.table) {
        const row = (r.rows as Record<string, unknown>[]).find((x) => x.id === id);
        if (row) object = this.toObject(row, this.registry.get(leaf));
      }
    }
    return { object: object!, cascaded };
  }

  /**
   * Objects (live or deleted, not yet reaped) whose references point at this one: what must be
   * torn down and reaped before it can be.
   */
  async dependents(
    model: string,
    id: number,
    limit = 10,
  ): Promise<{ model: string; id: number; deleted: boolean }[]> {
    const m = this.info(model).model;
    const out: { model: string; id: number; deleted: boolean }[] = [];
    for (const ref of this.referrers(m.table)) {
      if (out.length >= limit) break;
      const r = await this.client.query<{ id: number; leaf_model?: string; deleted: boolean }>(
        `SELECT *, deleted_at IS NOT NULL AS deleted FROM ${q(ref.table)} WHERE ${q(ref.column)} = $1${ref.table === m.table ? ' AND id <> $1' : ''} ORDER BY id LIMIT $2`,
        [id, limit - out.length],
      );
      for (const row of r.rows)
        out.push({ model: row.leaf_model ?? ref.rootModel, id: row.id, deleted: row.deleted });
    }
    return out;
  }

  /** Removes a soft-deleted object for good (the synchronizer, once its backends are gone). */
  async reap(model: string, id: number): Promise<void> {
    const m = this.info(model).model;
    const row = await this.getRow(m, id, { includeDeleted: true, lock: true });
    if (row.deleted_at === null) {
      throw new PreconditionError(m.name, id, 'is not deleted: only deleted objects are reaped');
    }
    // An orphaned Port's backend object keeps running with its addresses: they stay held.
    if (
      row.deletion_policy === 'orphan' &&
      this.registry.has('Port') &&
      this.registry.get('Port').family.includes(m.name)
    ) {
      await holdAddressesOf(this, [id]);
    }
    try {
      await this.client.query(`DELETE FROM ${q(m.table)} WHERE id = $1`, [id]);
    } catch (err) {
      if (pgCode(err) === '23503' || pgCode(err) === '23001') {
        throw new PreconditionError(
          m.name,
          id,
          'cannot be reaped while objects that refer to it are not reaped yet',
        );
      }
      throw err;
    }
  }

  /**
   * The synchronizer's write: status and feedback fields, `version` untouched. One UPDATE that
   * changes the row only where a value differs (so an unchanged status logs no change); the row
   * is read first only when feedback is written through a model with subclasses, whose fields
   * depend on the object's own model.
   */
  async setStatus(model: string, id: number, status: StatusWrite): Promise<ModelObject> {
    const info = this.info(model);
    const { feedback, ...bookkeeping } = status;
    const feedbackEntries = Object.entries(feedback ?? {}).filter(([, v]) => v !== undefined);
    let current: Record<string, unknown> | undefined;
    let leafInfo = info;
    if (feedbackEntries.length && info.model.family.length > 1) {
      current = await this.getRow(info.model, id, { includeDeleted: true });
      leafInfo = this.info((current.leaf_model as string | undefined) ?? info.model.name);
    }
    const problems: FieldProblem[] = [];
    const set = coerceBookkeeping(bookkeeping, problems);
    for (const [key, value] of feedbackEntries) {
      const f = leafInfo.byKey.get(key);
      if (!f?.def.feedback) {
        problems.push({ field: key, reason: `is not a feedback field of ${leafInfo.model.name}` });
        continue;
      }
      const c = coerce(f.def, value);
      if ('reason' in c) problems.push({ field: f.key, reason: c.reason });
      else set[f.key] = c.value;
    }
    if (problems.length) throw new ValidationError(leafInfo.model.name, problems);
    const keys = Object.keys(set).filter((k) => !current || !sameValue(current[k], set[k]));
    const unchanged = async () =>
      this.toObject(
        current ?? (await this.getRow(info.model, id, { includeDeleted: true })),
        leafInfo.model,
      );
    if (keys.length === 0) return unchanged();
    const params: unknown[] = [id];
    const assignments: string[] = [];
    const differences: string[] = [];
    for (const k of keys) {
      params.push(
        toParam(set[k], k === 'next_attempt_at' ? 'timestamptz' : columnSqlType(leafInfo, k)),
      );
      const p = `$${String(params.length)}`;
      assignments.push(`${q(k)} = ${p}`);
      differences.push(`${q(k)} IS DISTINCT FROM ${p}`);
    }
    let where = `id = $1 AND (${differences.join(' OR ')})`;
    if (info.model.polymorphic && info.model.root !== info.model.name) {
      params.push(info.model.family);
      where += ` AND leaf_model = ANY($${String(params.length)}::text[])`;
    }
    const r = await this.client.query(
      `UPDATE ${q(info.model.table)} SET ${assignments.join(', ')} WHERE ${where} RETURNING *`,
      params,
    );
    const row = r.rows[0] as Record<string, unknown> | undefined;
    // No row: nothing differed, or there is no such object (getRow says which).
    return row ? this.toObject(row, leafInfo.model) : unchanged();
  }

  /**
   * setStatus when the caller needs nothing back: an object that does not exist (any more) is
   * skipped. The synchronizer's cached service sends concurrent ones in one statement.
   */
  async writeStatus(model: string, id: number, status: StatusWrite): Promise<void> {
    try {
      await this.setStatus(model, id, status);
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }

  /**
   * Status writes for many objects of a model. The writes with the same columns go in one
   * UPDATE ... FROM unnest(...), which changes a row only where a value differs, as setStatus
   * does. Every write is checked before anything is sent; ids with no object are skipped.
   */
  async setStatusMany(model: string, writes: readonly StatusWriteOf[]): Promise<void> {
    const info = this.info(model);
    const groups = new Map<
      string,
      { columns: string[]; rows: { id: number; set: Record<string, unknown> }[] }
    >();
    const problems: FieldProblem[] = [];
    writes.forEach((w, index) => {
      const found: FieldProblem[] = [];
      const { feedback, ...bookkeeping } = w.status;
      const set = coerceBookkeeping(bookkeeping, found);
      for (const [key, value] of Object.entries(feedback ?? {})) {
        if (value === undefined) continue;
        const f = info.byKey.get(key);
        if (info.model.family.length > 1) {
          found.push({
            field: key,
            reason: `${info.model.name} has subclasses: write its feedback with setStatus`,
          });
        } else if (!f?.def.feedback) {
          found.push({ field: key, reason: `is not a feedback field of ${info.model.name}` });
        } else {
          const c = coerce(f.def, value);
          if ('reason' in c) found.push({ field: f.key, reason: c.reason });
          else set[f.key] = c.value;
        }
      }
      for (const p of found) problems.push({ ...p, index });
      const columns = Object.keys(set).sort();
      if (columns.length === 0) return;
      const key = columns.join(',');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { columns, rows: [] }));
      g.rows.push({ id: w.id, set });
    });
    if (problems.length) throw new ValidationError(info.model.name, problems);
    for (const { columns, rows } of groups.values()) {
      const types = columns.map((c) =>
        c === 'next_attempt_at' ? 'timestamptz' : columnSqlType(info, c),
      );
      const params: unknown[] = [rows.map((r) => r.id)];
      columns.forEach((c, i) => params.push(rows.map((r) => toParam(r.set[c] ?? null, types[i]!))));
      const arrays = ['$1::int[]', ...types.map((t, i) => `$${String(i + 2)}::${t}[]`)];
      const names = ['id', ...columns].map(q).join(', ');
      const assignments = columns.map((c) => `${q(c)} = v.${q(c)}`).join(', ');
      const differences = columns.map((c) => `t.${q(c)} IS DISTINCT FROM v.${q(c)}`).join(' OR ');
      let where = `t.id = v.id AND (${differences})`;
      if (info.model.polymorphic && info.model.root !== info.model.name) {
        params.push(info.model.family);
        where += ` AND t.leaf_model = ANY($${String(params.length)}::text[])`;
      }
      await this.client.query(
        `UPDATE ${q(info.model.table)} AS t SET ${assignments} FROM unnest(${arrays.join(', ')}) AS v(${names}) WHERE ${where}`,
        params,
      );
    }
  }

  /**
   * The live objects of `model` whose reference `field` names `id` (a port's instance), in id
   * order, all pages. The synchronizer's cached service reads many at once (listReferringMany).
   */
  async listReferring(model: string, field: string, id: number): Promise<ModelObject[]> {
    return (await this.listReferringMany(model, field, [id])).get(id) ?? [];
  }

  /** listReferring for several ids in one query (per 5,000 objects), by id. */
  async listReferringMany(
    model: string,
    field: string,
    ids: readonly number[],
  ): Promise<Map<number, ModelObject[]>> {
    const f = this.info(model).byKey.get(field) ?? this.info(model).byKey.get(`${field}_id`);
    if (!f?.def.reference) throw new Error(`${model}.${field} is not a reference`);
    const out = new Map<number, ModelObject[]>(ids.map((id) => [id, []]));
    const found = await listAll(this, model, {
      filter: [{ field, op: 'in', value: [...out.keys()] }],
      orderBy: [{ field: 'id' }],
    });
    for (const o of found) out.get(o[f.key] as number)?.push(o);
    return out;
  }

  async list(model: string, options: ListOptions = {}): Promise<Page> {
    const info = this.info(model);
    const m = info.model;
    const problems: FieldProblem[] = [];
    const params: unknown[] = [];
    const where: string[] = [];
    if (options.status !== undefined) {
      if (isObjectStatus(options.status)) where.push(statusCondition(options.status));
      else {
        problems.push({
          field: 'status',
          reason: `${String(options.status)} is not a status: one of ${OBJECT_STATUSES.join(', ')}`,
        });
      }
    } else if (!options.includeDeleted) where.push('deleted_at IS NULL');
    if (m.polymorphic && m.root !== m.name) {
      params.push(m.family);
      where.push(`leaf_model = ANY($${String(params.length)}::text[])`);
    }
    const columnType = (field: string): { column: string; def: FieldDef } | undefined => {
      const f = info.byKey.get(field);
      if (f) return f.def.type === 'password' ? undefined : { column: f.key, def: f.def };
      // A table of one model has no leaf_model column: every row is that model.
      if (field === 'leaf_model' && !m.polymorphic) return undefined;
      // Own keys only: a name like "constructor" is not a field.
      const b = Object.hasOwn(BOOKKEEPING_DEFS, field) ? BOOKKEEPING_DEFS[field] : undefined;
      return b ? { column: field, def: b } : undefined;
    };
    (options.filter ?? []).forEach((flt, i) => {
      const found = columnType(flt.field);
      // A filter value is checked as the field's type, not against its range (mtu__gt=100).
      const col = found && { ...found, def: { ...found.def, min: undefined, max: undefined } };
      const op = flt.op ?? 'eq';
      if (found?.def.secret === true) {
        problems.push({
          field: `filter[${String(i)}].field`,
          reason: `${m.name}.${flt.field} is a secret: it cannot be filtered on`,
        });
        return;
      }
      if (!col) {
        problems.push({
          field: `filter[${String(i)}].field`,
          reason: `${m.name} has no field ${flt.field} to filter on`,
        });
        return;
      }
      const c = q(col.column);
      if (op === 'isnull' || op === 'notnull') {
        where.push(`${c} IS ${op === 'isnull' ? '' : 'NOT '}NULL`);
        return;
      }
      if (op === 'in') {
        if (!Array.isArray(flt.value)) {
          problems.push({ field: `filter[${String(i)}].value`, reason: 'must be a list for "in"' });
          return;
        }
        const values: unknown[] = [];
        for (const v of flt.value as unknown[]) {
          const cv = coerce(col.def, v);
          if ('reason' in cv)
            problems.push({ field: `filter[${String(i)}].value`, reason: cv.reason });
          else values.push(toParam(cv.value, sqlType(col.def)));
        }
        params.push(values);
        where.push(`${c} = ANY($${String(params.length)}::${sqlType(col.def)}[])`);
        return;
      }
      if (op === 'contains') {
        if (
          typeof flt.value !== 'string' ||
          !['string', 'text', 'ip', 'cidr', 'mac'].includes(col.def.type)
        ) {
          problems.push({
            field: `filter[${String(i)}].op`,
            reason: '"contains" takes a string and a text field',
          });
          return;
        }
        if (flt.value.includes('\u0000')) {
          problems.push({
            field: `filter[${String(i)}].value`,
            reason: 'contains a NUL character (\\u0000), which no stored value holds',
          });
          return;
        }
        params.push(`%${flt.value.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
        where.push(`${c} ILIKE $${String(params.length)}`);
        return;
      }
      const sqlOp = COMPARISONS.get(op);
      if (!sqlOp) {
        problems.push({ field: `filter[${String(i)}].op`, reason: `unknown operator ${op}` });
        return;
      }
      if (col.def.type === 'json') {
        problems.push({
          field: `filter[${String(i)}].field`,
          reason: 'JSON fields cannot be compared',
        });
        return;
      }
      const cv = coerce(col.def, flt.value);
      if ('reason' in cv) {
        problems.push({ field: `filter[${String(i)}].value`, reason: cv.reason });
        return;
      }
      if (cv.value === null) {
        where.push(`${c} IS ${op === 'ne' ? 'NOT ' : ''}NULL`);
        return;
      }
      params.push(toParam(cv.value, sqlType(col.def)));
      where.push(`${c} ${sqlOp} $${String(params.length)}`);
    });

    const order: OrderKey[] = [];
    (options.orderBy ?? []).forEach((o, i) => {
      const col = columnType(o.field);
      if (!col || col.def.type === 'json' || col.def.type === 'text') {
        problems.push({
          field: `order_by[${String(i)}]`,
          reason: `${m.name} cannot be ordered by ${o.field}`,
        });
        return;
      }
      if (col.column === 'id') return;
      order.push({
        column: col.column,
        desc: o.desc === true,
        type: sqlType(col.def),
        def: col.def,
        nullable: col.column !== 'version' && col.column !== 'created_at',
      });
    });
    order.push({
      column: 'id',
      desc: (options.orderBy ?? []).some((o) => o.field === 'id' && o.desc),
      type: 'int',
      def: { type: 'integer' },
      nullable: false,
    });

    let pageSize = PAGE_DEFAULT;
    if (options.pageSize !== undefined) {
      if (
        !Number.isInteger(options.pageSize) ||
        options.pageSize < 1 ||
        options.pageSize > PAGE_MAX
      ) {
        problems.push({
          field: 'page_size',
          reason: `must be an integer from 1 to ${String(PAGE_MAX)}`,
        });
      } else pageSize = options.pageSize;
    }
    const queryKey = JSON.stringify([
      m.name,
      options.filter ?? [],
      order.map((o) => [o.column, o.desc]),
      options.includeDeleted === true,
      options.status ?? null,
    ]);
    // The filter without the page's position: what totalSize counts.
    const matching = { where: [...where], params: [...params] };
    if (options.pageToken) {
      const after = decodeToken(options.pageToken, queryKey, order);
      if (!after) {
        problems.push({
          field: 'page_token',
          reason: 'is not a page token of this listing (same model, filter and order)',
        });
      } else {
        where.push(keysetAfter(order, after, params));
      }
    }
    if (problems.length) throw new ValidationError(m.name, problems);

    params.push(pageSize + 1);
    // A model without subclasses has one shape: PostgreSQL builds the objects (see projection()).
    const leaf = m.family.length === 1;
    const sql = `SELECT ${leaf ? projection(this.registry, m) : '*'} FROM ${q(m.table)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order
      .map((o) => `${q(o.column)} ${o.desc ? 'DESC' : 'ASC'} NULLS LAST`)
      .join(', ')} LIMIT $${String(params.length)}`;
    const count = () =>
      this.client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${q(m.table)}${matching.where.length ? ` WHERE ${matching.where.join(' AND ')}` : ''}`,
        matching.params,
      );
    // On a pool the count runs beside the page; a transaction's connection takes one at a time.
    let r: pg.QueryResult;
    let counted: pg.QueryResult<{ n: number }> | undefined;
    if (options.withTotal && this.client instanceof pg.Pool) {
      [r, counted] = await Promise.all([this.client.query(sql, params), count()]);
    } else {
      r = await this.client.query(sql, params);
      if (options.withTotal) counted = await count();
    }
    const rows = r.rows as Record<string, unknown>[];
    const more = rows.length > pageSize;
    const page = more ? rows.slice(0, pageSize) : rows;
    const last = page.at(-1);
    return {
      items: leaf ? (page as ModelObject[]) : page.map((row) => this.toObject(row, m)),
      nextPageToken:
        more && last
          ? encodeToken(
              queryKey,
              order.map((o) => tokenValue(last[o.column])),
            )
          : null,
      ...(counted ? { totalSize: counted.rows[0]?.n ?? 0 } : {}),
    };
  }

  /** Tables and columns whose references point at rows of `table`, with their delete rule. */
  private referrers(table: string): Referrer[] {
    const cacheKey = table;
    const cached = referrerCache.get(this.registry)?.get(cacheKey);
    if (cached) return cached;
    const out: Referrer[] = [];
    for (const root of this.registry.tables()) {
      for (const [column, { def }] of tableColumns(this.registry, root)) {
        if (def.type !== 'reference' || !def.reference) continue;
        if (this.registry.get(def.reference.model).table !== table) continue;
        out.push({
          table: root.table,
          column,
          onDelete: def.reference.onDelete,
          rootModel: root.name,
        });
      }
    }
    let perRegistry = referrerCache.get(this.registry);
    if (!perRegistry)
      referrerCache.set(this.registry, (perRegistry = new Map<string, Referrer[]>()));
    perRegistry.set(cacheKey, out);
    return out;
  }

  private uniqueOr(
    err: unknown,
    model: ResolvedModel,
    rows: { set: Record<string, unknown>; id?: number; index?: number }[],
  ): unknown {
    if (pgCode(err) === '23505') {
      const constraint = (err as PgError).constraint ?? '';
      if (constraint.startsWith('ux_')) return new UniqueViolation(model, constraint, rows);
    }
    return err;
  }

  /** A row as callers see it: the leaf model's fields, times as ISO text, no password hashes. */
  toObject(row: Record<string, unknown>, asked: ResolvedModel): ModelObject {
    const leafName = (row.leaf_model as string | undefined) ?? asked.name;
    const info = modelInfo(this.registry, this.registry.has(leafName) ? leafName : asked.name);
    const out: Record<string, unknown> = {
      id: row.id,
      name: row.name ?? null,
      leaf_model: leafName,
    };
    for (const f of info.fields) {
      if (f.def.type === 'password') continue;
      out[f.key] = plain(row[f.key]);
    }
    for (const key of OUTPUT_BOOKKEEPING) out[key] = plain(row[key]);
    return out as ModelObject;
  }
}

interface Referrer {
  table: string;
  column: string;
  onDelete: string;
  rootModel: string;
}

const projections = new WeakMap<Registry, Map<string, string>>();

/**
 * The select list that makes PostgreSQL return rows exactly as toObject() shapes them for a
 * model: the same keys in the same order, times as ISO 8601 text, no password hashes. Lists and
 * bulk creates use it to skip a conversion per row in Node.
 */
function projection(registry: Registry, model: ResolvedModel): string {
  let perRegistry = projections.get(registry);
  if (!perRegistry) projections.set(registry, (perRegistry = new Map<string, string>()));
  const known = perRegistry.get(model.name);
  if (known) return known;
  const iso = (c: string) =>
    `to_char(${q(c)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${q(c)}`;
  const info = modelInfo(registry, model.name);
  const cols = ['"id"', '"name"', `'${model.name}'::text AS "leaf_model"`];
  for (const f of info.fields) {
    if (f.def.type === 'password') continue;
    cols.push(f.def.type === 'timestamp' ? iso(f.key) : q(f.key));
  }
  for (const key of OUTPUT_BOOKKEEPING) {
    cols.push(BOOKKEEPING_DEFS[key]?.type === 'timestamp' ? iso(key) : q(key));
  }
  const sql = cols.join(', ');
  perRegistry.set(model.name, sql);
  return sql;
}

const referrerCache = new WeakMap<Registry, Map<string, Referrer[]>>();

const OUTPUT_BOOKKEEPING = [
  'version',
  'synced_version',
  'backend_code',
  'backend_status',
  'failures',
  'next_attempt_at',
  'policed_version',
  'policy_code',
  'policy_status',
  'no_sync',
  'write_protect',
  'management_policy',
  'deletion_policy',
  'backend_handle',
  'created_at',
  'updated_at',
  'deleted_at',
] as const;

const BOOKKEEPING_DEFS: Record<string, FieldDef> = {
  id: { type: 'integer' },
  name: { type: 'string' },
  version: { type: 'integer' },
  synced_version: { type: 'integer' },
  backend_code: { type: 'integer' },
  backend_status: { type: 'string', maxLength: 100000 },
  failures: { type: 'integer' },
  next_attempt_at: { type: 'timestamp' },
  policed_version: { type: 'integer' },
  policy_code: { type: 'integer' },
  policy_status: { type: 'string', maxLength: 100000 },
  created_at: { type: 'timestamp' },
  updated_at: { type: 'timestamp' },
  deleted_at: { type: 'timestamp' },
  no_sync: { type: 'boolean' },
  write_protect: { type: 'boolean' },
  management_policy: { type: 'string' },
  deletion_policy: { type: 'string' },
  backend_handle: { type: 'json' },
  leaf_model: { type: 'string' },
};

function plain(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  return v === undefined ? null : v;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}

function sqlType(def: FieldDef): string {
  switch (def.type) {
    case 'integer':
    case 'reference':
      return 'int';
    case 'float':
      return 'float8';
    case 'boolean':
      return 'bool';
    case 'json':
      return 'jsonb';
    case 'timestamp':
      return 'timestamptz';
    default:
      return 'text';
  }
}

/** The synchronizer's bookkeeping of a status write, checked and coerced; problems are pushed. */
function coerceBookkeeping(
  bookkeeping: Record<string, unknown>,
  problems: FieldProblem[],
): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(bookkeeping)) {
    if (value === undefined) continue;
    if (!(SYNC_BOOKKEEPING as readonly string[]).includes(key)) {
      problems.push({ field: key, reason: 'is not a status field' });
      continue;
    }
    const text = key === 'backend_status' || key === 'policy_status';
    const def: FieldDef = text
      ? { type: 'text' }
      : key === 'next_attempt_at'
        ? { type: 'timestamp' }
        : {
            type: 'integer',
            min: 0,
            max: key === 'backend_code' || key === 'policy_code' ? 2 : undefined,
          };
    const c = coerce(def, value);
    if ('reason' in c) problems.push({ field: key, reason: c.reason });
    else set[key] = text ? (c.value ?? '') : c.value;
  }
  return set;
}

function columnSqlType(info: ModelInfo, column: string): string {
  const f = info.byKey.get(column);
  if (f) return sqlType(f.def);
  const b = BOOKKEEPING_DEFS[column];
  return b ? sqlType(b) : 'text';
}

/** A value as a query parameter: JSON is sent as its text (pg would make arrays PG arrays). */
function toParam(value: unknown, type: string): unknown {
  if (type === 'jsonb' && value !== null && value !== undefined) return JSON.stringify(value);
  return value;
}

function tokenValue(v: unknown): unknown {
  return v instanceof Date ? v.toISOString() : (v ?? null);
}

function encodeToken(queryKey: string, values: unknown[]): string {
  return Buffer.from(JSON.stringify({ k: hashKey(queryKey), v: values })).toString('base64url');
}

/**
 * The position a page token holds, or undefined when it is not one of this listing's. Tokens are
 * not signed, so each value is checked as its order column's type (a token edited by hand must
 * not reach SQL as a value of the wrong type).
 */
function decodeToken(token: string, queryKey: string, order: OrderKey[]): unknown[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { k, v } = parsed as { k?: unknown; v?: unknown };
  if (k !== hashKey(queryKey) || !Array.isArray(v)) return undefined;
  const values = v as unknown[];
  if (values.length !== order.length) return undefined;
  const out: unknown[] = [];
  for (const [i, o] of order.entries()) {
    const value = values[i];
    if (value === null) {
      if (!o.nullable) return undefined;
      out.push(null);
      continue;
    }
    if (!['string', 'number', 'boolean'].includes(typeof value)) return undefined;
    const cv = coerce(o.def, value);
    if ('reason' in cv || cv.value === null) return undefined;
    out.push(cv.value);
  }
  return out;
}

/** A column a listing is ordered by (the id last), as its page tokens hold it. */
interface OrderKey {
  column: string;
  desc: boolean;
  /** Its SQL type, for the casts of the keyset condition. */
  type: string;
  /** Its field definition, to check a token's value. */
  def: FieldDef;
  nullable: boolean;
}

/** The comparison operators of filters (a Map: "constructor" is not one). */
const COMPARISONS = new Map([
  ['eq', '='],
  ['ne', '<>'],
  ['lt', '<'],
  ['le', '<='],
  ['gt', '>'],
  ['ge', '>='],
]);

function hashKey(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}

/** The rows after `after` in the order (NULLS LAST in both directions). */
function keysetAfter(order: OrderKey[], after: unknown[], params: unknown[]): string {
  const alternatives: string[] = [];
  for (let i = 0; i < order.length; i++) {
    const eqs: string[] = [];
    let possible = true;
    for (let j = 0; j < i; j++) {
      const o = order[j]!;
      if (after[j] === null) eqs.push(`${q(o.column)} IS NULL`);
      else {
        params.push(after[j]);
        eqs.push(`${q(o.column)} = $${String(params.length)}::${o.type}`);
      }
    }
    const o = order[i]!;
    let beyond: string;
    if (after[i] === null) {
      possible = false; // nothing sorts after NULL (NULLS LAST) except by later keys
      beyond = 'false';
    } else {
      params.push(after[i]);
      beyond = `(${q(o.column)} ${o.desc ? '<' : '>'} $${String(params.length)}::${o.type}${o.nullable ? ` OR ${q(o.column)} IS NULL` : ''})`;
    }
    if (possible) alternatives.push([...eqs, beyond].join(' AND '));
  }
  return alternatives.length ? `(${alternatives.map((a) => `(${a})`).join(' OR ')})` : 'false';
}

async function insertIpam(tx: ModelTx, rows: IpamRow[]): Promise<void> {
  const addresses = rows.filter((r) => r.address !== undefined);
  const macs = rows.filter((r) => r.mac !== undefined);
  if (addresses.length) {
    await tx.client.query(
      `INSERT INTO syncord_ipam_address (network_id, address, port_id, static)
       SELECT * FROM unnest($1::int[], $2::inet[], $3::int[], $4::bool[])`,
      [
        addresses.map((r) => r.networkId),
        addresses.map((r) => r.address),
        addresses.map((r) => r.portId),
        addresses.map((r) => r.staticAddress),
      ],
    );
  }
  if (macs.length) {
    await tx.client.query(
      `INSERT INTO syncord_ipam_mac (mac, network_id, port_id, static)
       SELECT * FROM unnest($1::macaddr[], $2::int[], $3::int[], $4::bool[])`,
      [
        macs.map((r) => r.mac),
        macs.map((r) => r.networkId),
        macs.map((r) => r.portId),
        macs.map((r) => r.staticMac),
      ],
    );
  }
}

export { describePorts };
