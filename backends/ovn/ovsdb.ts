// An OVSDB client (RFC 7047 and ovsdb-server(7)'s extensions) for one database on one server:
// schema-checked transactions, monitors kept as local replicas, keep-alive echoes, and reconnection
// with backoff that re-fetches the schema and resynchronises every replica.
//
// No npm package does this (the two OVSDB clients once published are gone from the registry), so
// it is written here on the JSON-RPC layer of jsonrpc.ts.
import { EventEmitter } from 'node:events';
import {
  JsonRpcClosedError,
  JsonRpcConnection,
  JsonRpcError,
  type Json,
  type OvsdbSsl,
} from './jsonrpc.js';
import {
  decodeResults,
  encodeTransaction,
  select,
  type Condition,
  type Operation,
  type Results,
} from './operations.js';
import { parseSchema, type DatabaseSchema, type TableSchema } from './schema.js';
import {
  applyDiff,
  decodeRow,
  OvsdbDecodeError,
  OvsdbSchemaError,
  rowsEqual,
  uuidPattern,
  type Row,
  type Value,
} from './values.js';

export * from './operations.js';
export * from './schema.js';
export * from './values.js';
export {
  JsonRpcClosedError,
  JsonRpcError,
  parseEndpoint,
  type Json,
  type OvsdbSsl,
} from './jsonrpc.js';

export interface OvsdbClientOptions {
  /** The database every call speaks to, e.g. 'OVN_Northbound'. */
  database: string;
  /** How long one connection attempt may take (ms). */
  connectTimeoutMs?: number;
  /** How often to send our own echo (ms); 0 turns it off. */
  echoIntervalMs?: number;
  /** An echo unanswered this long (ms) means the connection is dead. */
  echoTimeoutMs?: number;
  /** Reconnect after losing the connection (default true). */
  reconnect?: boolean;
  /** First reconnection delay (ms), doubled after each failure up to backoffMaxMs. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** How long transact and monitor wait for a (re)connection before failing (ms). */
  waitForConnectionMs?: number;
  /**
   * The monitor method to start with: 'monitor_cond' (default; falls back to 'monitor' if the
   * server does not know it) or 'monitor' (RFC 7047's own, with update notifications).
   */
  monitorMethod?: 'monitor_cond' | 'monitor';
  /** Sees every JSON-RPC message sent and received. */
  trace?: (direction: 'send' | 'recv', text: string) => void;
  /**
   * For an `ssl:` endpoint (required for one): the private key, certificate and CA certificate
   * (PEM), used for the first connection and every reconnection.
   */
  ssl?: OvsdbSsl;
}

/**
 * The connection failed around a call. `applied` says what is known of the call's effect:
 * 'no' when nothing was sent, 'unknown' when the request was sent but its reply never came (the
 * transaction may have been committed: read back before retrying).
 */
export class OvsdbConnectionError extends Error {
  constructor(
    message: string,
    readonly applied: 'no' | 'unknown',
  ) {
    super(message);
    this.name = 'OvsdbConnectionError';
  }
}

export type ChangeKind = 'insert' | 'modify' | 'delete';

/** One row change seen by a monitor. */
export interface RowChange {
  table: string;
  uuid: string;
  kind: ChangeKind;
  /** The row before (modify, delete). */
  old?: Row;
  /** The row after (insert, modify). */
  new?: Row;
  /**
   * 'initial' for rows present when the monitor started, 'update' for changes the server
   * reported, 'resync' for differences found by comparing the replica after a reconnection.
   */
  cause: 'initial' | 'update' | 'resync';
}

interface ClientEvents {
  /** A connection is up, the schema fetched and every monitor resynchronised. */
  connected: [{ reconnect: boolean }];
  /** The connection was lost (the client will reconnect unless closed or told not to). */
  disconnected: [Error];
  /** A reconnection attempt is scheduled. */
  reconnecting: [{ attempt: number; delayMs: number; lastError: Error }];
  closed: [];
}

interface MonitorEvents {
  change: [RowChange];
  /** The replica matches the server: after the initial rows, and after each resync. */
  synced: [{ resync: boolean }];
}

interface Waiter {
  resolve: (conn: JsonRpcConnection) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A monitor on some tables and columns, with the replica it keeps. */
export class Monitor extends EventEmitter<MonitorEvents> {
  /** Table name to (row uuid to row). Rows hold the monitored columns and `_uuid`. */
  readonly replica = new Map<string, Map<string, Row>>();
  /** True once the first start succeeded; the client then resyncs it after each reconnect. */
  established = false;
  private buffered: [string, Json][] | undefined;
  private lastSchema: DatabaseSchema | undefined;

  constructor(
    private readonly client: OvsdbClient,
    readonly id: string,
    /** Table to columns; undefined means every column of the table. */
    readonly tables: Readonly<Record<string, readonly string[] | undefined>>,
  ) {
    super();
    for (const table of Object.keys(tables)) this.replica.set(table, new Map());
  }

  /** The rows of a table, as an array. */
  rows(table: string): Row[] {
    return [...(this.replica.get(table)?.values() ?? [])];
  }

  get(table: string, uuid: string): Row | undefined {
    return this.replica.get(table)?.get(uuid);
  }

  find(table: string, predicate: (row: Row) => boolean): Row | undefined {
    return this.rows(table).find(predicate);
  }

  /**
   * Resolves with check()'s first value other than undefined, checking now and after every
   * change; rejects after timeoutMs.
   */
  until<T>(what: string, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const onChange = () => {
        const v = check();
        if (v === undefined) return;
        cleanup();
        resolve(v);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`monitor ${this.id}: timed out after ${timeoutMs}ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('change', onChange);
        this.off('synced', onChange);
      };
      this.on('change', onChange);
      this.on('synced', onChange);
    });
  }

  /**
   * An index of one table of the replica by keys computed from each row (a row may have several
   * keys, or none), kept current as the replica changes: finds rows by name or by owner in
   * constant time, where a `select` would make the server scan the table.
   */
  index(table: string, keysOf: (row: Row) => readonly string[]): ReplicaIndex {
    if (!this.replica.has(table)) throw new Error(`monitor ${this.id} does not watch ${table}`);
    return new ReplicaIndex(this, table, keysOf);
  }

  /** Stops the monitor; its replica stays as it was. */
  async cancel(): Promise<void> {
    await this.client.cancelMonitor(this);
  }

  /** @internal The columns to ask for in each table, under the given schema. */
  columnsFor(schema: DatabaseSchema, table: TableSchema): string[] {
    return (
      this.tables[table.name] ?? [...table.columns.keys()].filter((c) => !c.startsWith('_'))
    ).slice();
  }

  /** @internal Sends the monitor request and rebuilds the replica from its initial rows. */
  async start(
    conn: JsonRpcConnection,
    schema: DatabaseSchema,
    method: 'monitor_cond' | 'monitor',
  ): Promise<void> {
    const requests: Record<string, Json> = {};
    for (const name of Object.keys(this.tables)) {
      const table = schema.tables.get(name);
      if (!table) throw new OvsdbSchemaError(name, undefined, `no such table in ${schema.name}`);
      const columns = this.columnsFor(schema, table);
      requests[name] = method === 'monitor_cond' ? [{ columns }] : { columns };
    }
    // Updates can arrive in the same chunk as the reply, before the code after the await runs:
    // hold them until the initial rows are in.
    this.buffered = [];
    let reply: Json;
    try {
      reply = await conn.request(method, [schema.name, this.id, requests]);
    } catch (err) {
      this.buffered = undefined;
      throw err;
    }
    const fresh = new Map<string, Map<string, Row>>();
    for (const name of Object.keys(this.tables)) fresh.set(name, new Map());
    // The initial rows are all decoded before the replica is touched: an OvsdbDecodeError leaves
    // it as it was (and the caller, monitor() or a reconnection, fails and retries).
    try {
      const initial = method === 'monitor_cond' ? 'update2' : 'update';
      this.commit(this.decodeUpdates(schema, reply, initial, fresh, 'initial'), fresh);
    } catch (err) {
      this.buffered = undefined;
      throw err;
    }
    this.lastSchema = schema;
    const cause = this.established ? 'resync' : 'initial';
    for (const [name, rows] of fresh) {
      const old = this.replica.get(name) ?? new Map<string, Row>();
      const changes: RowChange[] = [];
      for (const [uuid, row] of rows) {
        const before = old.get(uuid);
        if (!before) changes.push({ table: name, uuid, kind: 'insert', new: row, cause });
        else if (!rowsEqual(before, row)) {
          changes.push({ table: name, uuid, kind: 'modify', old: before, new: row, cause });
        }
      }
      for (const [uuid, row] of old) {
        if (!rows.has(uuid)) changes.push({ table: name, uuid, kind: 'delete', old: row, cause });
      }
      old.clear();
      for (const [uuid, row] of rows) old.set(uuid, row);
      this.replica.set(name, old);
      for (const change of changes) this.emit('change', change);
    }
    const held = this.buffered;
    this.buffered = undefined;
    for (const [m, updates] of held) this.apply(m, updates);
    this.emit('synced', { resync: cause === 'resync' });
  }

  /**
   * @internal An update or update2 notification's table-updates. The whole notification is
   * decoded before any of it is applied: if any part does not fit the schema this throws an
   * OvsdbDecodeError and the replica is left as it was (no change events); otherwise every row
   * change is applied, then the change events are emitted.
   */
  notify(method: string, updates: Json): void {
    if (this.buffered) this.buffered.push([method, updates]);
    else this.apply(method, updates);
  }

  private apply(method: string, updates: Json): void {
    const schema = this.lastSchema;
    if (!schema) return;
    const changes = this.decodeUpdates(schema, updates, method, this.replica, 'update');
    this.commit(changes, this.replica);
    for (const change of changes) this.emit('change', change);
  }

  /** Applies decoded row changes to a replica. */
  private commit(changes: readonly RowChange[], into: Map<string, Map<string, Row>>): void {
    for (const change of changes) {
      const rows = into.get(change.table);
      if (!rows) continue;
      if (change.new) rows.set(change.uuid, change.new);
      else rows.delete(change.uuid);
    }
  }

  /**
   * Decodes table-updates (monitor) or table-updates2 (monitor_cond) against a replica, without
   * touching it: the row changes they make, or an OvsdbDecodeError for anything that does not fit
   * the schema or RFC 7047's grammar (tables the monitor does not watch are skipped).
   */
  private decodeUpdates(
    schema: DatabaseSchema,
    updates: Json,
    method: string,
    from: ReadonlyMap<string, ReadonlyMap<string, Row>>,
    cause: RowChange['cause'],
  ): RowChange[] {
    const where = `monitor ${this.id}: ${method}`;
    if (!isJsonObject(updates)) {
      throw new OvsdbDecodeError(
        undefined,
        undefined,
        `${where}: the table updates are not an object`,
      );
    }
    const changes: RowChange[] = [];
    for (const [name, rowsJson] of Object.entries(updates)) {
      const table = schema.tables.get(name);
      const rows = from.get(name);
      if (!table || !rows) continue;
      if (!isJsonObject(rowsJson)) {
        throw new OvsdbDecodeError(name, undefined, `${where}: the row updates are not an object`);
      }
      const columns = this.columnsFor(schema, table);
      for (const [uuid, u] of Object.entries(rowsJson)) {
        const bad: (reason: string) => never = (reason) => {
          throw new OvsdbDecodeError(name, undefined, `${where}: row ${uuid}: ${reason}`);
        };
        if (!uuidPattern.test(uuid)) bad('the row key is not a UUID');
        if (!isJsonObject(u)) bad('the row update is not an object');
        const old = rows.get(uuid);
        let next: Row | undefined;
        if (method === 'update2') {
          const kinds = ['initial', 'insert', 'modify', 'delete'].filter((k) => k in u);
          if (kinds.length !== 1) bad('expected exactly one of initial, insert, modify or delete');
          const body = u.initial ?? u.insert;
          if (body !== undefined) next = decodeRow(table, uuid, body, columns);
          else if (u.modify !== undefined) {
            const diffs = u.modify;
            if (!old) bad('modify of a row the replica does not hold');
            if (!isJsonObject(diffs)) bad('the modify diff is not an object');
            const row = new Map<string, Value>(Object.entries(old));
            for (const [column, diff] of Object.entries(diffs)) {
              const col = table.columns.get(column);
              if (!col) bad(`modify of ${column}, not a column of ${name}`);
              row.set(column, applyDiff(col, old[column], diff, name));
            }
            next = Object.fromEntries(row);
          } else next = undefined;
        } else {
          if (!('new' in u) && !('old' in u)) bad('expected old or new');
          next = u.new === undefined ? undefined : decodeRow(table, uuid, u.new, columns);
        }
        if (next && old) changes.push({ table: name, uuid, kind: 'modify', old, new: next, cause });
        else if (next) changes.push({ table: name, uuid, kind: 'insert', new: next, cause });
        else if (old) changes.push({ table: name, uuid, kind: 'delete', old, cause });
      }
    }
    return changes;
  }
}

function isJsonObject(j: Json | undefined): j is { [key: string]: Json } {
  return typeof j === 'object' && j !== null && !Array.isArray(j);
}

const defaults = {
  connectTimeoutMs: 5000,
  echoIntervalMs: 5000,
  echoTimeoutMs: 10_000,
  reconnect: true,
  backoffInitialMs: 200,
  backoffMaxMs: 10_000,
  waitForConnectionMs: 15_000,
};

/** A client of one OVSDB database. Create it with OvsdbClient.connect. */
export class OvsdbClient extends EventEmitter<ClientEvents> {
  private conn: JsonRpcConnection | undefined;
  private ready = false;
  private closed = false;
  private currentSchema: DatabaseSchema | undefined;
  private monitorMethod: 'monitor_cond' | 'monitor' = 'monitor_cond';
  private readonly monitors = new Map<string, Monitor>();
  private nextMonitorId = 1;
  private readonly waiters = new Set<Waiter>();
  private echoTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private lastError: Error = new Error('not connected yet');
  private readonly options: typeof defaults & OvsdbClientOptions;

  private constructor(
    readonly endpoint: string,
    options: OvsdbClientOptions,
  ) {
    super();
    this.options = { ...defaults, ...options };
    this.monitorMethod = options.monitorMethod ?? 'monitor_cond';
  }

  /** Connects, fetches the schema, and starts keeping the connection alive. */
  static async connect(endpoint: string, options: OvsdbClientOptions): Promise<OvsdbClient> {
    const client = new OvsdbClient(endpoint, options);
    await client.open(false);
    return client;
  }

  get database(): string {
    return this.options.database;
  }

  /** The server's schema, as last fetched. */
  get schema(): DatabaseSchema {
    return this.currentSchema!;
  }

  get connected(): boolean {
    return this.ready;
  }

  /** 'monitor_cond' when the server has it (ovsdb-server 2.6 and later), else 'monitor'. */
  get monitorMethodInUse(): 'monitor_cond' | 'monitor' {
    return this.monitorMethod;
  }

  /**
   * Runs one transaction. Every operation is checked against the schema first (an
   * OvsdbSchemaError and nothing sent if one does not fit); a failed operation or commit rejects
   * with OvsdbTransactionError (nothing applied); a lost connection with OvsdbConnectionError.
   */
  async transact<const T extends readonly Operation[]>(
    ops: T,
    options: { waitForConnectionMs?: number } = {},
  ): Promise<Results<T>> {
    if (this.closed) throw new OvsdbConnectionError('transact: the client is closed', 'no');
    let schema = this.schema;
    let params = encodeTransaction(schema, ops);
    const conn = await this.whenReady('transact', options.waitForConnectionMs);
    if (this.schema !== schema) {
      schema = this.schema;
      params = encodeTransaction(schema, ops);
    }
    let result: Json;
    try {
      result = await conn.request('transact', params);
    } catch (err) {
      if (err instanceof JsonRpcClosedError) {
        throw new OvsdbConnectionError(
          `transact on ${this.database} at ${this.endpoint}: the connection was lost before the ` +
            `reply (${err.message}); the transaction may or may not have been applied`,
          'unknown',
        );
      }
      throw err;
    }
    return decodeResults(schema, ops, result) as Results<T>;
  }

  /** Selects rows (a one-op transaction). */
  async select(table: string, where: readonly Condition[] = [], columns?: readonly string[]) {
    const [result] = await this.transact([select(table, where, columns)]);
    return result.rows;
  }

  /**
   * Monitors tables (table to the columns wanted; undefined or [] for all). The returned monitor's
   * replica holds the initial rows and follows every change; after a reconnection the client
   * rebuilds it and emits the differences.
   */
  async monitor(tables: Record<string, readonly string[] | undefined>): Promise<Monitor> {
    const resolved: Record<string, readonly string[] | undefined> = {};
    for (const [name, columns] of Object.entries(tables)) {
      const table = this.schema.tables.get(name);
      if (!table) throw new OvsdbSchemaError(name, undefined, `no such table in ${this.database}`);
      for (const column of columns ?? []) {
        if (!table.columns.has(column)) {
          throw new OvsdbSchemaError(name, column, `no such column in table ${name}`);
        }
        if (column === '_uuid') {
          throw new OvsdbSchemaError(name, column, 'is the row key: every replica row has it');
        }
      }
      resolved[name] = columns && columns.length > 0 ? [...columns] : undefined;
    }
    const monitor = new Monitor(this, `syncord-${this.nextMonitorId++}`, resolved);
    this.monitors.set(monitor.id, monitor);
    try {
      for (;;) {
        const conn = await this.whenReady('monitor');
        try {
          await this.startMonitor(monitor, conn);
          break;
        } catch (err) {
          if (!(err instanceof JsonRpcClosedError)) throw err;
          // The connection dropped while starting: wait for the next one and try again.
        }
      }
    } catch (err) {
      this.monitors.delete(monitor.id);
      throw err;
    }
    monitor.established = true;
    return monitor;
  }

  /** @internal */
  async cancelMonitor(monitor: Monitor): Promise<void> {
    if (!this.monitors.delete(monitor.id)) return;
    if (!this.ready || !this.conn) return;
    try {
      await this.conn.request('monitor_cancel', [monitor.id]);
    } catch (err) {
      // A monitor dies with its connection; there is nothing left to cancel.
      if (!(err instanceof JsonRpcClosedError)) throw err;
    }
  }

  /** Closes the connection for good: no reconnection, waiting calls fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    this.stopEcho();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new OvsdbConnectionError('the client was closed; nothing was sent', 'no'));
    }
    this.waiters.clear();
    const conn = this.conn;
    this.conn = undefined;
    conn?.close();
    this.emit('closed');
  }

  private async startMonitor(monitor: Monitor, conn: JsonRpcConnection): Promise<void> {
    try {
      await monitor.start(conn, this.schema, this.monitorMethod);
    } catch (err) {
      if (
        this.monitorMethod === 'monitor_cond' &&
        err instanceof JsonRpcError &&
        /unknown method/i.test(err.message)
      ) {
        this.monitorMethod = 'monitor';
        await monitor.start(conn, this.schema, this.monitorMethod);
        return;
      }
      throw err;
    }
  }

  /** The live connection, waiting up to waitForConnectionMs for a reconnection. */
  private whenReady(what: string, waitMs?: number): Promise<JsonRpcConnection> {
    if (this.closed) {
      return Promise.reject(new OvsdbConnectionError(`${what}: the client is closed`, 'no'));
    }
    if (this.ready && this.conn) return Promise.resolve(this.conn);
    const ms = waitMs ?? this.options.waitForConnectionMs;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new OvsdbConnectionError(
              `${what} on ${this.database}: not connected to ${this.endpoint} for ${ms}ms ` +
                `(last error: ${this.lastError.message}); nothing was sent`,
              'no',
            ),
          );
        }, ms),
      };
      this.waiters.add(waiter);
    });
  }

  /** One connection: connect, fetch the schema, (re)start the monitors, then serve. */
  private async open(reconnect: boolean): Promise<void> {
    const conn = await JsonRpcConnection.connect(this.endpoint, {
      timeoutMs: this.options.connectTimeoutMs,
      ...(this.options.trace ? { trace: this.options.trace } : {}),
      ...(this.options.ssl ? { ssl: this.options.ssl } : {}),
    });
    if (this.closed) {
      conn.close();
      return;
    }
    this.conn = conn;
    conn.onNotification = (method, params) => {
      this.onNotification(conn, method, params);
    };
    conn.onClose = (err) => {
      this.onConnectionLost(conn, err);
    };
    // A server that accepts but never answers (stopped, overloaded) must not hold us here.
    const limit = this.options.connectTimeoutMs + this.options.echoTimeoutMs;
    const watchdog = setTimeout(() => {
      conn.destroy(`no answer to get_schema or monitor within ${limit}ms of connecting`);
    }, limit);
    try {
      const schemaJson = await conn.request('get_schema', [this.database]);
      this.currentSchema = parseSchema(schemaJson);
      for (const monitor of this.monitors.values()) {
        if (monitor.established) await this.startMonitor(monitor, conn);
      }
    } catch (err) {
      conn.close();
      if (err instanceof JsonRpcError) {
        throw new Error(`${this.endpoint}: ${this.database}: ${err.message}`, { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(watchdog);
    }
    if (conn.closed || this.isClosed())
      throw new JsonRpcClosedError('connection lost while opening');
    this.ready = true;
    this.attempt = 0;
    this.startEcho(conn);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(conn);
    }
    this.waiters.clear();
    this.emit('connected', { reconnect });
  }

  private isClosed(): boolean {
    return this.closed;
  }

  private onNotification(conn: JsonRpcConnection, method: string, params: Json): void {
    if ((method === 'update' || method === 'update2') && Array.isArray(params)) {
      const id = params[0];
      const monitor = typeof id === 'string' ? this.monitors.get(id) : undefined;
      if (!monitor) return;
      try {
        monitor.notify(method, params[1] ?? null);
      } catch (err) {
        // An update the monitor cannot decode (it left its replica as it was: all of an update or
        // none of it) must not crash the process, as a throw from this socket handler would; nor
        // may the replica go on without it, as it would no longer equal the database. So the
        // connection is dropped, as for a monitor the server canceled: the 'disconnected' event
        // carries the reason (which the OVN connection logs), and the reconnection re-fetches the
        // schema and rebuilds every replica from a fresh snapshot, emitting the differences as
        // 'resync' changes (and 'synced' with resync: true) so that the synchronizer's observer
        // rescans. Transactions in flight fail as on any lost connection (applied: 'unknown',
        // read back before retrying). A server that keeps sending such updates is reconnected to
        // after the first backoff delay each time, with a 'disconnected' event saying why each
        // time. Without reconnection (reconnect: false) the client stays down.
        // (An error thrown by a 'change' listener lands here too, and is handled the same way.)
        const reason = err instanceof Error ? err.message : String(err);
        conn.destroy(
          `monitor ${monitor.id}: refused an ${method} notification (${reason}); ` +
            'dropping the connection to resynchronise the replica',
        );
      }
    } else if (method === 'monitor_canceled' && Array.isArray(params)) {
      // The server dropped a monitor (e.g. the database was removed): a reconnection restarts it.
      const id = params[0];
      if (typeof id === 'string' && this.monitors.has(id))
        this.conn?.destroy(`monitor ${id} canceled by the server`);
    }
  }

  private onConnectionLost(conn: JsonRpcConnection, err: JsonRpcClosedError): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    this.stopEcho();
    this.lastError = err;
    const wasReady = this.ready;
    this.ready = false;
    if (this.closed) return;
    if (wasReady) {
      this.emit('disconnected', err);
      this.scheduleReconnect();
    }
    // While opening, open() itself fails and its caller decides.
  }

  private scheduleReconnect(): void {
    if (this.closed || !this.options.reconnect || this.reconnectTimer) return;
    const base = Math.min(
      this.options.backoffMaxMs,
      this.options.backoffInitialMs * 2 ** Math.min(this.attempt, 20),
    );
    const delayMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    this.emit('reconnecting', { attempt: this.attempt, delayMs, lastError: this.lastError });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.open(true).catch((err: unknown) => {
        this.lastError = err instanceof Error ? err : new Error(String(err));
        this.scheduleReconnect();
      });
    }, delayMs);
  }

  private startEcho(conn: JsonRpcConnection): void {
    this.stopEcho();
    const interval = this.options.echoIntervalMs;
    if (interval <= 0) return;
    let pending = false;
    this.echoTimer = setInterval(() => {
      if (pending || conn.closed) return;
      pending = true;
      const timeout = this.options.echoTimeoutMs;
      const timer = setTimeout(() => {
        conn.destroy(`no reply to echo within ${timeout}ms: connection presumed dead`);
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        pending = false;
      };
      conn.request('echo', ['syncord-keepalive']).then(done, done);
    }, interval);
    this.echoTimer.unref();
  }

  private stopEcho(): void {
    if (this.echoTimer) clearInterval(this.echoTimer);
    this.echoTimer = undefined;
  }
}

/** Rows of a monitor's replica by key (see Monitor.index). */
export class ReplicaIndex {
  private readonly byKey = new Map<string, Set<string>>();

  constructor(
    private readonly monitor: Monitor,
    readonly table: string,
    private readonly keysOf: (row: Row) => readonly string[],
  ) {
    for (const row of monitor.replica.get(table)?.values() ?? []) this.add(row);
    // The replica is updated before its changes are emitted: the index follows in the same tick.
    monitor.on('change', (change) => {
      if (change.table !== table) return;
      if (change.old) this.remove(change.old);
      if (change.new) this.add(change.new);
    });
  }

  private add(row: Row): void {
    const uuid = row._uuid;
    if (typeof uuid !== 'string') return;
    for (const key of this.safeKeys(row)) {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(uuid);
    }
  }

  private remove(row: Row): void {
    const uuid = row._uuid;
    if (typeof uuid !== 'string') return;
    for (const key of this.safeKeys(row)) {
      const set = this.byKey.get(key);
      if (!set) continue;
      set.delete(uuid);
      if (set.size === 0) this.byKey.delete(key);
    }
  }

  /** A row whose keys cannot be computed (a malformed column) is left out of the index. */
  private safeKeys(row: Row): readonly string[] {
    try {
      return this.keysOf(row);
    } catch {
      return [];
    }
  }

  /** The rows with this key, as the replica holds them now. */
  get(key: string): Row[] {
    const out: Row[] = [];
    for (const uuid of this.byKey.get(key) ?? []) {
      const row = this.monitor.get(this.table, uuid);
      if (row) out.push(row);
    }
    return out;
  }
}
