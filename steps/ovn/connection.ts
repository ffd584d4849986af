// The OVN steps' shared connections: one OvsdbClient per database (northbound, and southbound
// when given), each opened on first need and then kept (the client reconnects and resyncs its
// monitors by itself), with one monitor of the tables the steps and the observer read. Row
// changes are re-emitted for the observer.
import { EventEmitter } from 'node:events';
import {
  OvsdbClient,
  type Monitor,
  type OvsdbSsl,
  type RowChange,
} from '../../backends/ovn/ovsdb.js';

/** The northbound tables and columns Syncord writes and watches. */
export const NB_TABLES = {
  Logical_Switch: ['name', 'ports', 'other_config', 'external_ids'],
  Logical_Switch_Port: [
    'name',
    'type',
    'options',
    'addresses',
    'port_security',
    'up',
    'dhcpv4_options',
    'dhcpv6_options',
    'external_ids',
  ],
  Logical_Router: ['name', 'ports', 'external_ids'],
  Logical_Router_Port: ['name', 'mac', 'networks', 'gateway_chassis', 'external_ids'],
  DHCP_Options: ['cidr', 'options', 'external_ids'],
  Gateway_Chassis: ['name', 'chassis_name', 'priority', 'external_ids'],
} as const;

export type NbTable = keyof typeof NB_TABLES;

/** The columns Syncord sets, per table: a change to another column (e.g. `up`) is no drift. */
// A switch's or router's `ports` are not listed: a port that goes is seen as its own deletion.
export const MANAGED_COLUMNS: Readonly<Record<NbTable, readonly string[]>> = {
  Logical_Switch: ['name', 'other_config', 'external_ids'],
  Logical_Switch_Port: [
    'name',
    'type',
    'options',
    'addresses',
    'port_security',
    'dhcpv4_options',
    'dhcpv6_options',
    'external_ids',
  ],
  Logical_Router: ['name', 'external_ids'],
  Logical_Router_Port: ['name', 'mac', 'networks', 'gateway_chassis', 'external_ids'],
  DHCP_Options: ['cidr', 'options', 'external_ids'],
  Gateway_Chassis: ['name', 'chassis_name', 'priority', 'external_ids'],
};

export interface Database {
  client: OvsdbClient;
  monitor: Monitor;
}

interface ConnectionEvents {
  /** A database's monitor is up for the first time: its replica holds the initial rows. */
  open: ['nb' | 'sb'];
  /** A row changed (after the initial rows), or differs after a reconnection's resync. */
  change: ['nb' | 'sb', RowChange];
  /** A monitor was resynchronised after a reconnection. */
  resynced: ['nb' | 'sb'];
}

export class OvnConnection extends EventEmitter<ConnectionEvents> {
  private readonly opening = new Map<'nb' | 'sb', Promise<Database>>();
  private readonly open = new Map<'nb' | 'sb', Database>();
  /** Bumped by close(): a connection opened for an older generation is closed at once. */
  private generation = 0;
  private closed = false;

  constructor(
    readonly nbEndpoint: string,
    readonly sbEndpoint: string | undefined,
    private readonly log: (line: string) => void,
    /** The key, certificate and CA certificate for `ssl:` endpoints. */
    private readonly ssl?: OvsdbSsl,
  ) {
    super();
  }

  /** The northbound database, connected (and monitored) on first call. */
  northbound(): Promise<Database> {
    return this.connect('nb');
  }

  /** The southbound database, when an endpoint is given. */
  southbound(): Promise<Database> | undefined {
    return this.sbEndpoint === undefined ? undefined : this.connect('sb');
  }

  /** The database if it is open now (no connection attempt). */
  current(which: 'nb' | 'sb'): Database | undefined {
    return this.open.get(which);
  }

  private connect(which: 'nb' | 'sb'): Promise<Database> {
    const known = this.opening.get(which);
    if (known) return known;
    const attempt = this.start(which);
    this.opening.set(which, attempt);
    attempt.catch(() => {
      // The next call tries again.
      if (this.opening.get(which) === attempt) this.opening.delete(which);
    });
    return attempt;
  }

  private async start(which: 'nb' | 'sb'): Promise<Database> {
    if (this.closed) throw new Error('the OVN connection is closed');
    const generation = this.generation;
    const endpoint = which === 'nb' ? this.nbEndpoint : this.sbEndpoint!;
    const database = which === 'nb' ? 'OVN_Northbound' : 'OVN_Southbound';
    const what = which === 'nb' ? 'northbound' : 'southbound';
    let client: OvsdbClient;
    try {
      client = await OvsdbClient.connect(endpoint, {
        database,
        waitForConnectionMs: 5000,
        ...(this.ssl ? { ssl: this.ssl } : {}),
      });
    } catch (err) {
      throw new Error(
        `cannot reach the OVN ${what} database at ${endpoint}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    try {
      const tables: Record<string, readonly string[]> = {};
      if (which === 'nb') Object.assign(tables, NB_TABLES);
      else {
        const binding = client.schema.tables.get('Port_Binding');
        // `up` is in the southbound schema since OVN 20.09; older servers report the chassis only.
        tables.Port_Binding = ['logical_port', 'type', 'chassis', 'external_ids'].concat(
          binding?.columns.has('up') ? ['up'] : [],
        );
        tables.Chassis = ['name', 'hostname'];
      }
      const monitor = await client.monitor(tables);
      if (generation !== this.generation) {
        client.close();
        throw new Error('the OVN connection is closed');
      }
      monitor.on('change', (change) => {
        this.emit('change', which, change);
      });
      monitor.on('synced', ({ resync }) => {
        if (resync) this.emit('resynced', which);
      });
      client.on('disconnected', (err) => {
        this.log(`ovn: lost the ${what} database at ${endpoint} (${err.message}); reconnecting`);
      });
      client.on('connected', ({ reconnect }) => {
        if (reconnect) this.log(`ovn: reconnected to the ${what} database at ${endpoint}`);
      });
      const db = { client, monitor };
      this.open.set(which, db);
      this.emit('open', which);
      return db;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Closes both databases; a later call opens them again (after reopen()). */
  close(): void {
    this.closed = true;
    this.generation++;
    for (const db of this.open.values()) db.client.close();
    for (const pending of this.opening.values()) {
      pending.then(
        (db) => {
          db.client.close();
        },
        () => undefined,
      );
    }
    this.open.clear();
    this.opening.clear();
  }

  /** Allows connecting again after close() (a synchronizer that leads again). */
  reopen(): void {
    this.closed = false;
  }
}
