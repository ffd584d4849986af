// What the OVN steps share: the options, the connection, and small helpers for reading rows and
// for the guards (`wait`) and map patches every write transaction uses.
import {
  asStringMap,
  asStringSet,
  mutate,
  OvsdbTransactionError,
  wait,
  type Mutation,
  type Operation,
  type Row,
  type WaitOp,
} from '../../backends/ovn/ovsdb.js';
import { failpoint } from '../../backends/failpoint.js';
import { NotFoundError } from '../../models/errors.js';
import type { ModelService } from '../../models/service.js';
import { WaitingError } from '../../synchronizer/engine.js';
import { OvnConnection, type Database } from './connection.js';
import { defaultRouterName, resolveInstance } from './names.js';

export interface OvnStepOptions {
  /** The northbound database, e.g. tcp:127.0.0.1:6641 or unix:/run/ovn/ovnnb_db.sock. */
  nbEndpoint: string;
  /** The southbound database, for the Port feedback (up, chassis); optional. */
  sbEndpoint?: string;
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
    this.instance = resolveInstance(options.instance);
    this.routerName = options.routerName ?? defaultRouterName(this.instance);
    this.leaseTime = options.leaseTime ?? 3600;
    this.log = options.log ?? (() => undefined);
    this.conn = new OvnConnection(options.nbEndpoint, options.sbEndpoint, this.log);
  }

  northbound(): Promise<Database> {
    return this.conn.northbound();
  }

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

/** Runs a write transaction, then marks the point for the crash tests. */
export async function write(db: Database, ops: readonly Operation[]): Promise<unknown[]> {
  let results: unknown[];
  try {
    results = await db.client.transact(ops);
  } catch (err) {
    // A guard failed: someone changed what this sync read. Read again and retry, soon.
    if (err instanceof OvsdbTransactionError && err.op === 'wait') {
      throw new WaitingError(
        `the OVN ${err.table ?? ''} rows changed while this sync ran; trying again`,
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

/** Whether a model object exists (a deleted one not yet reaped counts: its teardown runs). */
export async function ownerExists(
  models: ModelService,
  owner: { model: string; id: number },
): Promise<boolean> {
  if (!models.registry.has(owner.model)) return false;
  try {
    await models.get(owner.model, owner.id, { includeDeleted: true });
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

export const errorText = (err: unknown): string =>
  err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error';
