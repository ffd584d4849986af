// Port (on an OVN network) → a Logical_Switch_Port on its network's switch, named after the port
// (`syncord-port-<id>`: the interface id the node's CNI, or Neutron for a VM, binds), with
// `addresses` and `port_security` "MAC IP" from Syncord's IPAM (never OVN's dynamic addresses:
// pods and VMs share one allocator) and the network's DHCP options.
//
// As for networks: read by external_ids, then one guarded write transaction; the port is
// inserted together with the mutation that puts it on its switch (a logical switch port exists
// only while a switch holds it), so a crash never leaves half a port.
//
// On a Network with a Neutron network (`neutron_network_id`), the switch is Neutron's
// (`neutron-<id>`, found by name): the port's LSP goes there. A Port of an instance that runs on
// OpenStack (a Nova server) gets no LSP of Syncord's at all: Neutron's ML2/OVN driver makes the
// LSP of the Neutron port the OpenStack steps make for it (`port_id`).
import {
  insert,
  mutate,
  namedUuid,
  update,
  type Operation,
  type Row,
} from '../../backends/ovn/ovsdb.js';
import { parseAddress } from '../../models/ipam/address.js';
import { NotFoundError } from '../../models/errors.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import { openstackPlaceOf } from '../openstack/placement.js';
import type { Database } from './connection.js';
import { isOvn, unplug } from './network.js';
import {
  INSTANCE_KEY,
  NETWORK_KEY,
  neutronNetworkOf,
  neutronSwitchName,
  ownerIds,
  lspName,
  switchName,
  type Role,
} from './names.js';
import {
  byUuid,
  ids,
  mutateIf,
  ownerKey,
  patchMap,
  present,
  setsEqual,
  strings,
  text,
  uuid,
  write,
  type OvnRuntime,
} from './runtime.js';

/** The Port's Network (deleted ones too); an error naming it when it does not exist. */
export async function networkOf(models: ModelService, port: ModelObject): Promise<ModelObject> {
  try {
    return await models.get('Network', port.network_id as number, { includeDeleted: true });
  } catch (err) {
    if (err instanceof NotFoundError) {
      throw new Error(`its network ${String(port.network_id)} does not exist`, { cause: err });
    }
    throw err;
  }
}

/** "MAC IP", the form of OVN's `addresses` and `port_security`. */
export function addressOf(port: ModelObject): string {
  if (typeof port.mac !== 'string' || typeof port.ip !== 'string') {
    throw new WaitingError(`waiting for Port ${String(port.id)} to get its address and MAC`);
  }
  return `${port.mac.toLowerCase()} ${port.ip}`;
}

interface Existing {
  mine: Row[];
  /** A row with the port's name, whoever it belongs to. */
  named: Row[];
  /** Syncord's switches of the network, or Neutron's switch when the network is on Neutron. */
  switches: Row[];
  dhcp: Row[];
}

/**
 * What exists of the port and its network in the northbound database, from the monitor's replica
 * (by owner and by name, indexed): no read transaction, and no table scan in the server. The
 * replica may lag a write made elsewhere; the write transaction's guards (and the unique name
 * of a logical switch port) catch that, and the sync runs again.
 */
function readExisting(
  rt: OvnRuntime,
  db: Database,
  port: ModelObject,
  networkId: number,
  neutronSwitch: string | undefined,
): Existing {
  const ix = rt.indexes(db);
  const net = (role: Role) =>
    ownerKey(ownerIds(rt.instance, { model: 'Network', id: networkId }, role));
  return {
    mine: ix.lspByOwner.get(
      ownerKey(ownerIds(rt.instance, { model: 'Port', id: port.id }, 'port')),
    ),
    named: ix.lspByName.get(lspName(rt.instance, port)),
    switches:
      neutronSwitch === undefined
        ? ix.lsByOwner.get(net('switch'))
        : ix.lsByName.get(neutronSwitch),
    dhcp: ix.dhcpByOwner.get(net('dhcp')),
  };
}

const label = (o: ModelObject): string =>
  typeof o.name === 'string' && o.name ? o.name : String(o.id);

export function portStep(rt: OvnRuntime): SyncStep {
  return {
    name: 'ovn/port',
    observes: 'Port',
    // Ports of a batch read the replica and write through the group commit: a batch of them
    // costs a few northbound transactions, one PostgreSQL read and one status write.
    batch: 500,

    async sync(port: ModelObject, ctx: StepContext): Promise<string> {
      // The instance is asked for before the first await, so that the reads of the syncs of a
      // batch (started together) go in one query.
      const [network, si] = await Promise.all([
        networkOf(ctx.models, port),
        rt.serviceInstance(ctx.models, port.service_instance_id as number),
      ]);
      const db = await rt.northbound();
      const name = lspName(rt.instance, port);
      const neutron = neutronNetworkOf(network);
      const neutronSwitch = neutron === undefined ? undefined : neutronSwitchName(neutron);
      const ex = readExisting(rt, db, port, network.id, neutronSwitch);
      if (!isOvn(network)) {
        const ops = ex.mine.map(unplug);
        if (ops.length) await write(db, ops);
        return `not on an OVN network (Network ${label(network)}'s provider is ${String(network.provider)})${ops.length ? `: removed logical switch port ${name}` : ''}`;
      }
      const place = si ? await openstackPlaceOf(ctx.models, si) : undefined;
      if (place) {
        // A Nova server's port: Neutron makes its LSP (named by the Neutron port's uuid). One of
        // Syncord's (made before the instance moved to OpenStack) would be a second port with the
        // same address on the segment: it goes.
        const neutronPort =
          typeof port.port_id === 'string' && port.port_id ? port.port_id : undefined;
        if (neutronPort) rt.noteNeutronPort(neutronPort, port.id);
        const ops = ex.mine.map(unplug);
        if (ops.length) await write(db, ops);
        return `its logical switch port is Neutron's (port ${neutronPort ?? 'not made yet'}): its instance runs on OpenStack Cluster ${label(place.cluster)}${ops.length ? `; removed logical switch port ${name}` : ''}`;
      }
      const foreign = ex.named.find((r) => !ex.mine.some((m) => uuid(m) === uuid(r)));
      if (foreign) {
        const owner = ids(foreign)[INSTANCE_KEY];
        throw new Error(
          `a logical switch port named ${name} exists and is not this port's (${owner ? `it belongs to Syncord deployment ${owner}` : 'it has no Syncord ids'}); it is left alone`,
        );
      }
      const ls =
        ex.switches.find((s) => s.name === (neutronSwitch ?? switchName(network))) ??
        ex.switches[0];
      if (!ls && neutronSwitch !== undefined) {
        throw new WaitingError(
          `waiting for Neutron's logical switch ${neutronSwitch} of Network ${label(network)}`,
          2000,
        );
      }
      if (!ls) {
        throw new WaitingError(
          `waiting for the logical switch of Network ${label(network)} (${switchName(network)})`,
          2000,
        );
      }
      const on = neutronSwitch === undefined ? text(ls.name) : `Neutron's switch ${text(ls.name)}`;
      const address = addressOf(port);
      const v6 = parseAddress(String(port.ip)).family === 6;
      const dhcp = ex.dhcp[0] ? uuid(ex.dhcp[0]) : null;
      const want = {
        name,
        addresses: [address],
        port_security: [address],
        dhcpv4_options: v6 ? null : dhcp,
        dhcpv6_options: v6 ? dhcp : null,
      };
      const portIds = {
        ...ownerIds(rt.instance, { model: 'Port', id: port.id }, 'port'),
        [NETWORK_KEY]: String(network.id),
      };
      const ops: Operation[] = [present('Logical_Switch', uuid(ls))];
      const onSwitch = (r: Row) => strings(ls, 'ports').includes(uuid(r));
      const lsp =
        ex.mine.find((r) => onSwitch(r) && r.name === name) ??
        ex.mine.find((r) => r.name === name) ??
        ex.mine.find(onSwitch) ??
        ex.mine[0];
      for (const extra of ex.mine.filter((r) => r !== lsp)) ops.push(unplug(extra));
      const moved = lsp !== undefined && !onSwitch(lsp);
      if (lsp && moved) {
        // On another switch (a duplicate being removed, or the network's segment changed to or
        // from Neutron's switch): moved, not remade, since its name is unique.
        ops.push(unplug(lsp));
        ops.push(mutate('Logical_Switch', byUuid(uuid(ls)), [['ports', 'insert', [uuid(lsp)]]]));
      }
      let done: string;
      if (!lsp) {
        // No `wait` for the absence of the row: that would scan the table in the server. The
        // port's name is unique (the schema's index), so a second insert of it fails instead.
        ops.push(insert('Logical_Switch_Port', { ...want, external_ids: portIds }, 'lsp'));
        ops.push(
          mutate('Logical_Switch', byUuid(uuid(ls)), [['ports', 'insert', [namedUuid('lsp')]]]),
        );
        done = `created logical switch port ${name} on ${on} (${address})`;
      } else {
        const row: Record<string, unknown> = {};
        if (lsp.name !== want.name) row.name = want.name;
        if (!setsEqual(strings(lsp, 'addresses'), want.addresses)) row.addresses = want.addresses;
        if (!setsEqual(strings(lsp, 'port_security'), want.port_security)) {
          row.port_security = want.port_security;
        }
        if ((lsp.dhcpv4_options ?? null) !== want.dhcpv4_options)
          row.dhcpv4_options = want.dhcpv4_options;
        if ((lsp.dhcpv6_options ?? null) !== want.dhcpv6_options)
          row.dhcpv6_options = want.dhcpv6_options;
        const changed = Object.keys(row);
        if (moved) changed.push(`moved to ${on}`);
        if (Object.keys(row).length) {
          ops.push(
            update(
              'Logical_Switch_Port',
              byUuid(uuid(lsp)),
              row as Record<string, string | string[] | null>,
            ),
          );
        }
        const idPatch = patchMap('external_ids', ids(lsp), portIds, []);
        if (idPatch.length) changed.push('external_ids');
        ops.push(...mutateIf('Logical_Switch_Port', uuid(lsp), idPatch));
        done = changed.length
          ? `updated logical switch port ${name} on ${on} (${changed.join(', ')})`
          : `logical switch port ${name} is in place on ${on} (${address})`;
      }
      if (ops.some((op) => op.op !== 'wait')) await write(db, ops);
      return done;
    },

    async delete(port: ModelObject): Promise<string> {
      if (typeof port.port_id === 'string') rt.neutronPorts.delete(port.port_id);
      const db = await rt.northbound();
      const mine = rt
        .indexes(db)
        .lspByOwner.get(ownerKey(ownerIds(rt.instance, { model: 'Port', id: port.id }, 'port')));
      if (mine.length === 0) return 'no logical switch port to remove';
      await write(db, mine.map(unplug));
      return `removed logical switch port ${mine.map((r) => text(r.name)).join(', ')}`;
    },

    /** An edited Network (DHCP on or off, a new plan) runs its ports again. */
    // A port takes from its network: whether it is OVN's, which switch (Syncord's, by the
    // network's name, or Neutron's), and its DHCP options (made again when DHCP is turned back
    // on; the subnet too, to be safe). Not its exclude range, DNS, MTU, type or segment.
    derivedFrom: {
      Network: (obj) =>
        JSON.stringify([
          isOvn(obj),
          switchName(obj),
          neutronNetworkOf(obj) ?? null,
          obj.dhcp ?? null,
          obj.subnet ?? null,
        ]),
    },
    async affectedBy(change, ctx): Promise<number[]> {
      if (change.model !== 'Network') return [];
      const page = await ctx.models.list('Port', {
        filter: [{ field: 'network', value: change.id }],
        pageSize: 5000,
      });
      return page.items.map((p) => p.id);
    },
  };
}
