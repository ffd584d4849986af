// The OVN observer: the monitors of the northbound (and southbound) database turned into work.
// - Drift: a row of this deployment's changed in a column Syncord sets, or was deleted → its owner
//   is queued, and its step puts the row back (after a reconnection, the replica's differences
//   count the same: a northbound database that came back empty is rebuilt).
// - Strays: a row with this deployment's `syncord-instance` and a `syncord-id` whose object does
//   not exist → removed. Rows without Syncord's ids are never touched.
// - Feedback: each Port's `ovn_up` and `ovn_chassis` from its southbound Port_Binding (without a
//   southbound connection, `ovn_up` from the switch port's `up`, which ovn-northd keeps). A Port
//   of a VM on OpenStack has no switch port of Syncord's: its feedback comes from Neutron's, named
//   by the Neutron port (`port_id`). Such a switch port carries no Syncord ids; it is known as a
//   Port's by the Neutron port's name the OpenStack steps gave it (`neutron:port_name`), or by the
//   Neutron port ids the port step has seen.
import type { Row, RowChange } from '../../backends/ovn/ovsdb.js';
import type { ModelObject, StatusWriteOf } from '../../models/service.js';
import { del, mutate, valuesEqual } from '../../backends/ovn/ovsdb.js';
import type { StepContext } from '../../synchronizer/engine.js';
import { MANAGED_COLUMNS, type Database, type NbTable } from './connection.js';
import {
  INSTANCE_KEY,
  MODEL_KEY,
  NEUTRON_PORT_NAME_KEY,
  ownerIds,
  ownerOfRow,
  portOfNeutronName,
  registerOvnDeployment,
  ROLE_KEY,
  TYPE_KEY,
} from './names.js';
import {
  byUuid,
  errorText,
  ids,
  ownerKey,
  stillHolds,
  strings,
  text,
  uuid,
  write,
  type OvnRuntime,
} from './runtime.js';

interface PortFeedback {
  ovn_up: boolean | null;
  ovn_chassis: string | null;
}

const safeIds = (row: Row | undefined): Record<string, string> => {
  try {
    return row ? ids(row) : {};
  } catch {
    return {};
  }
};

export class OvnObserver {
  private ctx: StepContext | undefined;
  private unregister: (() => void) | undefined;
  private retry: Partial<Record<'nb' | 'sb', NodeJS.Timeout>> = {};
  /** One job at a time per key; a key already waiting is not queued twice. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiting = new Set<string>();
  private readonly listeners = {
    open: (which: 'nb' | 'sb') => {
      this.scan(which);
    },
    resynced: (which: 'nb' | 'sb') => {
      this.scan(which);
    },
    change: (which: 'nb' | 'sb', change: RowChange) => {
      if (which === 'nb') this.onNorthbound(change);
      else this.onSouthbound(change);
    },
  };

  constructor(private readonly rt: OvnRuntime) {}

  get started(): boolean {
    return this.ctx !== undefined;
  }

  private get stopped(): boolean {
    return this.ctx === undefined;
  }

  async start(ctx: StepContext): Promise<void> {
    if (this.ctx) return;
    this.ctx = ctx;
    this.unregister = registerOvnDeployment(this.rt.instance);
    this.rt.onNeutronPort = (portId) => {
      this.feedback(portId);
    };
    const conn = this.rt.conn;
    conn.reopen();
    conn.on('open', this.listeners.open);
    conn.on('resynced', this.listeners.resynced);
    conn.on('change', this.listeners.change);
    await this.connect('nb');
    if (this.rt.options.sbEndpoint !== undefined) await this.connect('sb');
  }

  async stop(): Promise<void> {
    if (!this.ctx) return;
    this.ctx = undefined;
    this.unregister?.();
    this.rt.onNeutronPort = undefined;
    for (const t of Object.values(this.retry)) clearTimeout(t);
    this.retry = {};
    const conn = this.rt.conn;
    conn.off('open', this.listeners.open);
    conn.off('resynced', this.listeners.resynced);
    conn.off('change', this.listeners.change);
    await Promise.allSettled([...this.tails.values()]);
    conn.close();
  }

  /** Resolves when every job queued so far (sweeps, removals, feedback) is done. */
  async settled(): Promise<void> {
    while (this.tails.size) await Promise.allSettled([...this.tails.values()]);
  }

  /** Opens a database, trying again every few seconds while it cannot be reached. */
  private async connect(which: 'nb' | 'sb', delayMs = 1000): Promise<void> {
    if (!this.ctx) return;
    try {
      await (which === 'nb' ? this.rt.conn.northbound() : this.rt.conn.southbound());
    } catch (err) {
      if (this.stopped) return;
      this.rt.log(`ovn: ${errorText(err)} (trying again in ${String(delayMs / 1000)} s)`);
      this.retry[which] = setTimeout(() => {
        void this.connect(which, Math.min(delayMs * 2, 30_000));
      }, delayMs);
      this.retry[which].unref();
    }
  }

  /** Runs job after the previous one of its key; skipped when one is already waiting. */
  private schedule(key: string, job: () => Promise<void>): void {
    if (!this.ctx || this.waiting.has(key)) return;
    this.waiting.add(key);
    const before = this.tails.get(key) ?? Promise.resolve();
    const tail = before
      .then(async () => {
        this.waiting.delete(key);
        if (this.ctx) await job();
      })
      .catch((err: unknown) => {
        this.rt.log(`ovn observer: ${key}: ${errorText(err)}`);
      })
      .finally(() => {
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
    this.tails.set(key, tail);
  }

  private enqueue(owner: { model: string; id: number }): void {
    const ctx = this.ctx;
    if (ctx && ctx.models.registry.has(owner.model)) ctx.enqueue(owner.model, owner.id);
  }

  /**
   * The Port a switch port reports for: its owner when it is Syncord's, else the Port whose
   * Neutron port it is (a VM's port on OpenStack), when that is known.
   */
  private portOfLsp(lsp: Row): number | undefined {
    const x = safeIds(lsp);
    const owner = ownerOfRow(this.rt.instance, x);
    if (owner) return owner.model === 'Port' ? owner.id : undefined;
    if (x[INSTANCE_KEY] !== undefined) return undefined; // another deployment's
    return (
      this.rt.neutronPorts.get(text(lsp.name)) ??
      portOfNeutronName(this.rt.instance, x[NEUTRON_PORT_NAME_KEY])
    );
  }

  private onNorthbound(change: RowChange): void {
    const table = change.table as NbTable;
    const before = safeIds(change.old);
    const after = safeIds(change.new);
    const owner = ownerOfRow(this.rt.instance, after) ?? ownerOfRow(this.rt.instance, before);
    if (!owner) {
      // Neutron's switch port of a VM's Port: only its feedback (it is Neutron's to repair).
      if (table === 'Logical_Switch_Port') {
        const portId = this.portOfLsp(change.new ?? change.old!);
        if (portId !== undefined) this.feedback(portId);
      }
      return;
    }
    if (change.kind === 'delete') this.enqueue(owner);
    else if (change.kind === 'modify') {
      // The replica can miss a change of a column of at most one value (see writeFeedback), so
      // a modify that shows no difference at all may be one of those, and counts as drift.
      const seen = Object.keys({ ...change.old, ...change.new }).filter(
        (c) => !valuesEqual(change.old?.[c], change.new?.[c]),
      );
      const managed = MANAGED_COLUMNS[table];
      if (seen.length === 0 || seen.some((c) => managed.includes(c))) this.enqueue(owner);
    }
    if (change.new && ownerOfRow(this.rt.instance, after)) {
      this.strayDue.set(change.uuid, table);
      this.schedule('stray', () => this.checkStrays());
    }
    if (table === 'Logical_Switch_Port' && owner.model === 'Port') this.feedback(owner.id);
  }

  private onSouthbound(change: RowChange): void {
    const nb = this.rt.conn.current('nb');
    if (!nb) return;
    if (change.table === 'Port_Binding') {
      const name = change.new?.logical_port ?? change.old?.logical_port;
      if (typeof name !== 'string') return;
      for (const lsp of this.rt.indexes(nb).lspByName.get(name)) {
        const portId = this.portOfLsp(lsp);
        if (portId !== undefined) this.feedback(portId);
      }
      return;
    }
    if (change.table === 'Chassis') {
      const sb = this.rt.conn.current('sb');
      for (const pb of sb?.monitor.rows('Port_Binding') ?? []) {
        if (pb.chassis !== change.uuid || typeof pb.logical_port !== 'string') continue;
        for (const lsp of this.rt.indexes(nb).lspByName.get(pb.logical_port)) {
          const portId = this.portOfLsp(lsp);
          if (portId !== undefined) this.feedback(portId);
        }
      }
      // Without configured gateway chassis, PUBLIC networks' gateway ports use every chassis.
      if (!this.rt.options.gatewayChassis && change.kind !== 'modify') {
        for (const lrp of nb.monitor.rows('Logical_Router_Port')) {
          const x = safeIds(lrp);
          const owner = ownerOfRow(this.rt.instance, x);
          if (owner && x[TYPE_KEY] === 'PUBLIC') this.enqueue(owner);
        }
      }
    }
  }

  /** Everything of this deployment's in a replica: strays removed, feedback refreshed. */
  private scan(which: 'nb' | 'sb'): void {
    const nb = this.rt.conn.current('nb');
    if (!nb) return;
    if (which === 'nb') {
      this.schedule('sweep', async () => {
        await this.sweep();
      });
    }
    for (const lsp of nb.monitor.rows('Logical_Switch_Port')) {
      const portId = this.portOfLsp(lsp);
      if (portId !== undefined) this.feedback(portId);
    }
  }

  /**
   * Removes every row of this deployment's whose owner does not exist (owners looked up in one
   * query per model), then routers left with no port. Returns one line per removal.
   */
  async sweep(): Promise<string[]> {
    const ctx = this.ctx;
    const nb = this.rt.conn.current('nb');
    if (!ctx || !nb) return [];
    const rows: { table: NbTable; row: Row; owner: { model: string; id: number } }[] = [];
    for (const table of Object.keys(MANAGED_COLUMNS) as NbTable[]) {
      for (const row of nb.monitor.rows(table)) {
        const owner = ownerOfRow(this.rt.instance, safeIds(row));
        if (owner) rows.push({ table, row, owner });
      }
    }
    const existing = new Map<string, Set<number>>();
    for (const model of new Set(rows.map((r) => r.owner.model))) {
      const found = new Set<number>();
      existing.set(model, found);
      if (!ctx.models.registry.has(model)) continue;
      const wanted = [
        ...new Set(rows.filter((r) => r.owner.model === model).map((r) => r.owner.id)),
      ];
      for (let i = 0; i < wanted.length; i += 1000) {
        const page = await ctx.models.list(model, {
          filter: [{ field: 'id', op: 'in', value: wanted.slice(i, i + 1000) }],
          includeDeleted: true,
          pageSize: 5000,
        });
        for (const o of page.items) found.add(o.id);
      }
    }
    const lines: string[] = [];
    for (const { table, row, owner } of rows) {
      if (existing.get(owner.model)?.has(owner.id)) continue;
      const line = await this.removeStray(table, row, owner);
      if (line) lines.push(line);
    }
    lines.push(...(await this.removeEmptyRouters()));
    return lines;
  }

  /** Removes a row of this deployment's if its owner does not exist (one changed row). */
  /** Rows with Syncord's ids to check for an owner by the next stray job. */
  private readonly strayDue = new Map<string, NbTable>();

  /**
   * Removes the queued rows whose owner does not exist (strays): the owners are looked up in
   * one read per model and thousand rows, not one each.
   */
  private async checkStrays(): Promise<void> {
    const ctx = this.ctx;
    const nb = this.rt.conn.current('nb');
    if (!ctx || !nb) return;
    const due = [...this.strayDue];
    this.strayDue.clear();
    const byModel = new Map<
      string,
      { table: NbTable; row: Row; owner: { model: string; id: number } }[]
    >();
    for (const [id, table] of due) {
      const row = nb.monitor.get(table, id);
      const owner = row && ownerOfRow(this.rt.instance, safeIds(row));
      if (!row || !owner) continue;
      let list = byModel.get(owner.model);
      if (!list) byModel.set(owner.model, (list = []));
      list.push({ table, row, owner });
    }
    let routerPorts = false;
    for (const [model, rows] of byModel) {
      const known = ctx.models.registry.has(model);
      for (let i = 0; i < rows.length; i += 1000) {
        const chunk = rows.slice(i, i + 1000);
        const found = known
          ? new Set(
              (
                await ctx.models.getMany(
                  model,
                  chunk.map((r) => r.owner.id),
                  { includeDeleted: true },
                )
              ).map((o) => o.id),
            )
          : new Set<number>();
        for (const { table, row, owner } of chunk) {
          if (found.has(owner.id)) continue;
          await this.removeStray(table, row, owner);
          if (table === 'Logical_Router_Port') routerPorts = true;
        }
      }
    }
    if (routerPorts) await this.removeEmptyRouters();
  }

  private async removeStray(
    table: NbTable,
    row: Row,
    owner: { model: string; id: number },
  ): Promise<string | undefined> {
    const nb = this.rt.conn.current('nb');
    if (!nb) return undefined;
    const id = uuid(row);
    const ops =
      table === 'Logical_Switch_Port'
        ? [mutate('Logical_Switch', [['ports', 'includes', id]], [['ports', 'delete', [id]]])]
        : table === 'Logical_Router_Port'
          ? [mutate('Logical_Router', [['ports', 'includes', id]], [['ports', 'delete', [id]]])]
          : table === 'Logical_Switch' || table === 'DHCP_Options'
            ? [del(table, byUuid(id))]
            : [];
    if (ops.length === 0) return undefined;
    await write(nb, ops);
    const line = `removed ${table} ${text(row.name ?? id)} of ${this.rt.instance}: its ${owner.model} ${String(owner.id)} does not exist`;
    this.rt.log(`ovn: ${line}`);
    return line;
  }

  /** Routers of this deployment's with no port left (their networks went out of band). */
  private async removeEmptyRouters(): Promise<string[]> {
    const nb = this.rt.conn.current('nb');
    if (!nb) return [];
    const lines: string[] = [];
    for (const router of nb.monitor.rows('Logical_Router')) {
      const x = safeIds(router);
      if (x[INSTANCE_KEY] !== this.rt.instance || x[ROLE_KEY] !== 'router' || x[MODEL_KEY]) {
        continue;
      }
      if (strings(router, 'ports').length) continue;
      await write(nb, [
        stillHolds('Logical_Router', uuid(router), 'ports', []),
        del('Logical_Router', byUuid(uuid(router))),
      ]);
      const line = `removed router ${text(router.name)} of ${this.rt.instance}: it has no port`;
      this.rt.log(`ovn: ${line}`);
      lines.push(line);
    }
    return lines;
  }

  /** Ports whose feedback is to be refreshed by the next feedback job. */
  private readonly feedbackDue = new Set<number>();

  /**
   * Queues a refresh of a Port's feedback (computed when it runs, from the replicas). The ports
   * queued meanwhile go together: one read and one status write per thousand of them (northd
   * binds thousands of ports at once after a big write).
   */
  private feedback(portId: number): void {
    this.feedbackDue.add(portId);
    this.schedule('feedback', () => this.writeFeedback());
  }

  /**
   * Writes the queued Ports' ovn_up and ovn_chassis, from the replicas (indexed: no scan, no
   * round trip): each one's switch port by owner, the southbound Port_Binding of that name and
   * its Chassis. Only what differs from the Port is written.
   */
  private async writeFeedback(): Promise<void> {
    const ctx = this.ctx;
    const nb = this.rt.conn.current('nb');
    if (!ctx || !nb) return;
    const due = [...this.feedbackDue];
    this.feedbackDue.clear();
    for (let i = 0; i < due.length; i += 1000) {
      const ids = due.slice(i, i + 1000);
      const ports = await ctx.models.getMany('Port', ids, { includeDeleted: true });
      const writes: StatusWriteOf[] = [];
      for (const port of ports) {
        const next = this.feedbackOf(nb, port);
        if (
          (port.ovn_up ?? null) !== next.ovn_up ||
          (port.ovn_chassis ?? null) !== next.ovn_chassis
        ) {
          writes.push({ id: port.id, status: { feedback: { ...next } } });
        }
      }
      if (writes.length) await ctx.models.setStatusMany('Port', writes);
    }
  }

  /** From the Port's switch port: Syncord's, else Neutron's of its Neutron port (`port_id`). */
  private feedbackOf(nb: Database, port: ModelObject): PortFeedback {
    const ix = this.rt.indexes(nb);
    const neutronPort = typeof port.port_id === 'string' && port.port_id ? port.port_id : undefined;
    const lsp =
      ix.lspByOwner.get(
        ownerKey(ownerIds(this.rt.instance, { model: 'Port', id: port.id }, 'port')),
      )[0] ?? (neutronPort === undefined ? undefined : ix.lspByName.get(neutronPort)[0]);
    const next: PortFeedback = { ovn_up: null, ovn_chassis: null };
    const sb = this.rt.conn.current('sb');
    if (lsp && sb) {
      const pb = this.rt.sbIndexes(sb).bindingByPort.get(text(lsp.name))[0];
      if (pb) {
        const chassis =
          typeof pb.chassis === 'string' ? sb.monitor.get('Chassis', pb.chassis) : undefined;
        next.ovn_chassis = chassis ? text(chassis.name) : null;
        next.ovn_up = 'up' in pb ? pb.up === true : next.ovn_chassis !== null;
      }
    } else if (lsp) {
      next.ovn_up = typeof lsp.up === 'boolean' ? lsp.up : null;
    }
    return next;
  }
}
