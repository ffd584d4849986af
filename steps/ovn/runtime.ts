// What the OVN steps share: the options, the connection, and small helpers for reading rows and
// for the guards (`wait`) and map patches every write transaction uses.
import {
  asStringMap,
  asStringSet,
  insert,
  mutate,
  NamedUuid,
  OvsdbTransactionError,
  wait,
  type Mutation,
  type Operation,
  type OvsdbSsl,
  type ReplicaIndex,
  type Row,
  type WaitOp,
} from '../../backends/ovn/ovsdb.js';
import { failpoint } from '../../backends/failpoint.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError } from '../../synchronizer/engine.js';
import { OvnConnection, type Database } from './connection.js';
import {
  defaultRouterName,
  ID_KEY,
  INSTANCE_KEY,
  MODEL_KEY,
  NETWORK_KEY,
  resolveInstance,
  ROLE_KEY,
  routerIds,
} from './names.js';

export interface OvnStepOptions {
  /**
   * The northbound database, e.g. tcp:127.0.0.1:6641, ssl:ovn-central:6641 (needs `ssl`) or
   * unix:/run/ovn/ovnnb_db.sock.
   */
  nbEndpoint: string;
  /** The southbound database, for the Port feedback (up, chassis); optional. */
  sbEndpoint?: string;
  /**
   * For `ssl:` endpoints: this client's private key and certificate and the CA certificate the
   * servers' certificates must be signed by (PEM contents, as ovn-nbctl's --private-key,
   * --certificate and --ca-cert). See ovnOptionsFromEnv for reading them from files.
   */
  ssl?: OvsdbSsl;
  /** This deployment's name in `external_ids:syncord-instance`; default $SYNCORD_INSTANCE. */
  instance?: string;
  /** The deployment's router; default `syncord-router` (`syncord-<instance>-router`). */
  routerName?: string;
  /**
   * The chassis that host the router's gateway port on PUBLIC networks, by priority. Default:
   * every chassis the southbound database knows (none without sbEndpoint).
   */
  gatewayChassis?: string[];
  /** DHCP lease time in seconds (default 3600). */
  leaseTime?: number;
  log?: (line: string) => void;
}

export class OvnRuntime {
  readonly instance: string;
  readonly routerName: string;
  readonly leaseTime: number;
  readonly conn: OvnConnection;
  readonly log: (line: string) => void;

  constructor(readonly options: OvnStepOptions) {
    // Refused here, when the steps are built, rather than at the first connection attempt.
    for (const endpoint of [options.nbEndpoint, options.sbEndpoint]) {
      if (endpoint?.startsWith('ssl:') && !options.ssl) {
        throw new Error(
          `${endpoint}: an ssl: remote needs a private key, a certificate and a CA certificate ` +
            "(the OVN steps' ssl option)",
        );
      }
    }
    this.instance = resolveInstance(options.instance);
    this.routerName = options.routerName ?? defaultRouterName(this.instance);
    this.leaseTime = options.leaseTime ?? 3600;
    this.log = options.log ?? (() => undefined);
    this.conn = new OvnConnection(options.nbEndpoint, options.sbEndpoint, this.log, options.ssl);
  }

  northbound(): Promise<Database> {
    return this.conn.northbound();
  }

  private routerMaking: Promise<boolean> | undefined;

  /**
   * Makes the deployment's router when no router of ours exists: one transaction at a time from
   * this process (networks synced together share it), guarded by the router's absence so that
   * another process making it meanwhile wins and this one is refused, harmlessly. True when this
   * call made it.
   */
  makeRouter(db: Database): Promise<boolean> {
    this.routerMaking ??= (async () => {
      try {
        await db.client.transact([
          absent('Logical_Router', routerIds(this.instance)),
          insert('Logical_Router', {
            name: this.routerName,
            external_ids: routerIds(this.instance),
          }),
        ]);
        return true;
      } catch (err) {
        if (err instanceof OvsdbTransactionError) return false; // made meanwhile
        throw err;
      }
    })().finally(() => {
      this.routerMaking = undefined;
    });
    return this.routerMaking;
  }

  /** The northbound replica's indexes by owner and by name (made on first use per connection). */
  indexes(db: Database): NbIndexes {
    let found = this.nbIndexes.get(db);
    if (!found) {
      const byOwner = (row: Row) => {
        const key = ownerKeyOfRow(row);
        return key ? [key] : [];
      };
      found = {
        lspByOwner: db.monitor.index('Logical_Switch_Port', byOwner),
        lspByName: db.monitor.index('Logical_Switch_Port', (row) =>
          typeof row.name === 'string' ? [row.name] : [],
        ),
        lsByOwner: db.monitor.index('Logical_Switch', byOwner),
        // Neutron's switches (`neutron-<id>`) carry no Syncord ids: found by name.
        lsByName: db.monitor.index('Logical_Switch', (row) =>
          typeof row.name === 'string' ? [row.name] : [],
        ),
        // The ports' switch ports of a Network, wherever they sit (on Syncord's switch or on
        // Neutron's), so that the Network's step can move them all when its segment changes.
        portLspByNetwork: db.monitor.index('Logical_Switch_Port', (row) => {
          const map = asStringMap(row.external_ids ?? {});
          const instance = map[INSTANCE_KEY];
          const network = map[NETWORK_KEY];
          return instance && network ? [networkKey(instance, network)] : [];
        }),
        dhcpByOwner: db.monitor.index('DHCP_Options', byOwner),
        lrpByOwner: db.monitor.index('Logical_Router_Port', byOwner),
        gatewayChassisByOwner: db.monitor.index('Gateway_Chassis', byOwner),
      };
      this.nbIndexes.set(db, found);
    }
    return found;
  }
  private readonly nbIndexes = new WeakMap<Database, NbIndexes>();

  /** The southbound replica's Port_Binding rows by logical port name. */
  sbIndexes(db: Database): { bindingByPort: ReplicaIndex } {
    let found = this.sbIndexesByDb.get(db);
    if (!found) {
      found = {
        bindingByPort: db.monitor.index('Port_Binding', (row) =>
          typeof row.logical_port === 'string' ? [row.logical_port] : [],
        ),
      };
      this.sbIndexesByDb.set(db, found);
    }
    return found;
  }
  private readonly sbIndexesByDb = new WeakMap<Database, { bindingByPort: ReplicaIndex }>();

  /**
   * Neutron ports the port step has seen on Ports of OpenStack instances (`port_id`): the
   * Neutron port's uuid (its logical switch port's name) → the Port, for the observer's
   * feedback when the Neutron port's name does not say whose it is.
   */
  readonly neutronPorts = new Map<string, number>();
  /** Told when a Port's Neutron port becomes known (the observer refreshes its feedback). */
  onNeutronPort: ((portId: number) => void) | undefined;

  /** Records a Port's Neutron port (a no-op when already known). */
  noteNeutronPort(neutronPortId: string, portId: number): void {
    if (this.neutronPorts.get(neutronPortId) === portId) return;
    this.neutronPorts.set(neutronPortId, portId);
    this.onNeutronPort?.(portId);
  }

  /**
   * A service instance (deleted ones too; undefined when gone), read together with the other
   * instances asked for until the next turn of the event loop: the syncs of a batch of ports
   * start at once, so a batch of 500 costs one read, not 500.
   */
  serviceInstance(models: ModelService, id: number): Promise<ModelObject | undefined> {
    let loader = this.instanceLoaders.get(models);
    if (!loader) {
      loader = new BatchLoader((ids) =>
        models.getMany('ServiceInstance', ids, { includeDeleted: true }),
      );
      this.instanceLoaders.set(models, loader);
    }
    return loader.load(id);
  }
  private readonly instanceLoaders = new WeakMap<ModelService, BatchLoader>();

  /** The gateway chassis of PUBLIC networks' router ports, by priority (highest first). */
  gatewayChassis(): string[] {
    if (this.options.gatewayChassis) return [...this.options.gatewayChassis];
    const sb = this.conn.current('sb');
    if (!sb) return [];
    return sb.monitor
      .rows('Chassis')
      .map((c) => text(c.name))
      .sort();
  }
}

export interface NbIndexes {
  lspByOwner: ReplicaIndex;
  lspByName: ReplicaIndex;
  lsByOwner: ReplicaIndex;
  lsByName: ReplicaIndex;
  /** Keyed by networkKey(instance, network id). */
  portLspByNetwork: ReplicaIndex;
  dhcpByOwner: ReplicaIndex;
  lrpByOwner: ReplicaIndex;
  gatewayChassisByOwner: ReplicaIndex;
}

/** The key of a Network's ports' switch ports in `portLspByNetwork`. */
export const networkKey = (instance: string, networkId: number | string): string =>
  `${instance}\u0000${String(networkId)}`;

/** Ids read at most in one query by a BatchLoader. */
const LOAD_CHUNK = 1000;

/**
 * Coalesces reads by id: the ids asked for until the next turn of the event loop (setImmediate)
 * are read in one call per thousand; an id the read does not return resolves to undefined.
 */
class BatchLoader {
  private pending = new Map<
    number,
    { resolve: (o: ModelObject | undefined) => void; reject: (e: unknown) => void }[]
  >();
  private scheduled = false;

  constructor(private readonly read: (ids: number[]) => Promise<ModelObject[]>) {}

  load(id: number): Promise<ModelObject | undefined> {
    return new Promise((resolve, reject) => {
      let waiters = this.pending.get(id);
      if (!waiters) this.pending.set(id, (waiters = []));
      waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          void this.flush();
        });
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += LOAD_CHUNK) {
      const chunk = ids.slice(i, i + LOAD_CHUNK);
      try {
        const found = new Map((await this.read(chunk)).map((o) => [o.id, o]));
        for (const id of chunk) for (const w of batch.get(id)!) w.resolve(found.get(id));
      } catch (err) {
        for (const id of chunk) for (const w of batch.get(id)!) w.reject(err);
      }
    }
  }
}

/** The key of `ownerIds(instance, owner, role)` in the replica's owner indexes. */
export const ownerKey = (ids: Record<string, string>): string =>
  [ids[INSTANCE_KEY], ids[MODEL_KEY], ids[ID_KEY], ids[ROLE_KEY]].join('\u0000');

function ownerKeyOfRow(row: Row): string | undefined {
  const map = asStringMap(row.external_ids ?? {});
  if (!map[INSTANCE_KEY] || !map[MODEL_KEY] || !map[ID_KEY] || !map[ROLE_KEY]) return undefined;
  return ownerKey(map);
}

/** Write transactions merged into one at most, and operations in a merged one at most. */
const MAX_BATCH = 512;
const MAX_BATCH_OPS = 4096;

interface PendingWrite {
  ops: readonly Operation[];
  resolve: (results: unknown[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: one write transaction in flight per database; the writes that arrive meanwhile
 * go together in the next one. The named-uuids of each write are renamed apart, and each write
 * gets its own results back. ovn-northd recomputes after every northbound transaction, so fewer
 * and larger transactions cost it (and ovsdb-server) far less than one per port.
 * When the server refuses a merged transaction (a guard of one write failed; nothing was
 * applied), each write is sent again alone, so one stale write does not fail the others.
 */
class WriteBatcher {
  private queue: PendingWrite[] = [];
  private busy = false;

  constructor(private readonly db: Database) {}

  submit(ops: readonly Operation[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        let take = 0;
        let ops = 0;
        while (take < this.queue.length && take < MAX_BATCH) {
          ops += this.queue[take]!.ops.length;
          if (take > 0 && ops > MAX_BATCH_OPS) break;
          take++;
        }
        const batch = this.queue.splice(0, take);
        if (batch.length === 1) {
          await this.alone(batch[0]!);
          continue;
        }
        const merged: Operation[] = [];
        const offsets: number[] = [];
        batch.forEach((w, i) => {
          offsets.push(merged.length);
          for (const op of w.ops) merged.push(renameNamedUuids(op, `w${String(i)}_`));
        });
        let results: unknown[];
        try {
          results = await this.db.client.transact(merged);
        } catch (err) {
          if (err instanceof OvsdbTransactionError) {
            for (const w of batch) await this.alone(w);
          } else {
            for (const w of batch) w.reject(err);
          }
          continue;
        }
        batch.forEach((w, i) => {
          w.resolve(results.slice(offsets[i], offsets[i]! + w.ops.length));
        });
      }
    } finally {
      this.busy = false;
    }
  }

  private async alone(w: PendingWrite): Promise<void> {
    try {
      w.resolve(await this.db.client.transact(w.ops));
    } catch (err) {
      w.reject(err);
    }
  }
}

/** An operation with its named-uuids (declared and referred to) prefixed. */
function renameNamedUuids(op: Operation, prefix: string): Operation {
  const walk = (v: unknown): unknown => {
    if (v instanceof NamedUuid) return new NamedUuid(prefix + v.name);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  const renamed = walk(op) as Operation;
  if (renamed.op === 'insert' && renamed.uuidName !== undefined) {
    return { ...renamed, uuidName: prefix + renamed.uuidName };
  }
  return renamed;
}

const batchers = new WeakMap<Database, WriteBatcher>();

/** Runs a write transaction (merged with others in flight), then marks the point for the crash tests. */
export async function write(db: Database, ops: readonly Operation[]): Promise<unknown[]> {
  let batcher = batchers.get(db);
  if (!batcher) batchers.set(db, (batcher = new WriteBatcher(db)));
  let results: unknown[];
  try {
    results = await batcher.submit(ops);
  } catch (err) {
    // A guard failed: someone changed what this sync read. Read again and retry, soon.
    if (err instanceof OvsdbTransactionError && err.op === 'wait') {
      throw new WaitingError(
        `the OVN ${err.table ?? ''} rows changed while this sync ran; trying again`,
        500,
      );
    }
    // A unique index refused an insert: a row of that name appeared after this sync read the
    // replica (which shows it on the next attempt, and the step says whose it is).
    if (err instanceof OvsdbTransactionError && err.error === 'constraint violation') {
      throw new WaitingError(
        `an OVN row of the same name appeared while this sync ran (${err.details ?? err.error}); trying again`,
        500,
      );
    }
    throw err;
  }
  failpoint('ovn-write');
  return results;
}

export const ids = (row: Row): Record<string, string> => asStringMap(row.external_ids ?? {});
export const strings = (row: Row, column: string): string[] => asStringSet(row[column]);
/** A column's value as text: a string as it is, anything else as JSON ('' for none). */
export const text = (v: Row[string] | undefined): string =>
  typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v);

export const uuid = (row: Row): string => text(row._uuid);

/** Rows whose external_ids hold every pair of `keys`. */
export const holding = (keys: Record<string, string>) =>
  [['external_ids', 'includes', keys]] as const;

/** Fails the transaction if a row with these external_ids exists (guards an insert). */
export const absent = (table: string, keys: Record<string, string>): WaitOp =>
  wait(table, holding(keys), ['_uuid'], '==', []);

/** Fails the transaction unless the row still exists (guards a reference to it). */
export const present = (table: string, id: string): WaitOp =>
  wait(table, [['_uuid', '==', id]], ['_uuid'], '==', [{ _uuid: id }]);

/** Fails the transaction unless the row's set column is still exactly `values`. */
export const stillHolds = (table: string, id: string, column: string, values: string[]): WaitOp =>
  wait(table, [['_uuid', '==', id]], [column], '==', [{ [column]: values }]);

export const byUuid = (id: string) => [['_uuid', '==', id]] as const;

/**
 * The mutations that make a map column hold `desired` for the keys Syncord owns (`owned`),
 * leaving every other key as it is; [] when nothing would change.
 */
export function patchMap(
  column: string,
  current: Record<string, string>,
  desired: Record<string, string>,
  owned: readonly string[],
): Mutation[] {
  const drop = owned.filter((k) => k in current && current[k] !== desired[k]);
  const add: Record<string, string> = {};
  for (const [k, v] of Object.entries(desired)) if (current[k] !== v) add[k] = v;
  for (const k of Object.keys(add)) if (k in current && !drop.includes(k)) drop.push(k);
  const out: Mutation[] = [];
  if (drop.length) out.push([column, 'delete', drop]);
  if (Object.keys(add).length) out.push([column, 'insert', add]);
  return out;
}

export const mapsEqual = (a: Record<string, string>, b: Record<string, string>): boolean =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([k, v]) => b[k] === v);

export const setsEqual = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** A mutate op when there are mutations. */
export function mutateIf(
  table: string,
  id: string,
  mutations: Mutation[],
): ReturnType<typeof mutate>[] {
  return mutations.length ? [mutate(table, byUuid(id), mutations)] : [];
}

export const errorText = (err: unknown): string =>
  err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error';
