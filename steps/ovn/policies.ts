// The OVN steps' side of the management and deletion policies (the engine decides when each runs):
// - observe (management_policy observe): reads the rows sync() would make for the object, from
//   the monitor's replica, and writes nothing. Its own rows are found by their owner ids, as sync
//   finds them; rows made out of band (no Syncord ids) by the names sync gives: the switch
//   `syncord-<network name>`, the router port `syncord-rtos-<id>`, the switch port
//   `syncord-port-<id>`; DHCP options (which have no name) by the network's CIDR. The sentence says
//   what is there and, where it is not what sync would make, how it differs from the model.
// - release (deletion_policy orphan): takes Syncord's external_ids (MARK_KEYS) off exactly the rows
//   delete() would remove, by owner, in one transaction, and changes nothing else. Rows shared
//   with other owners stay theirs: a Port's release leaves its switch and DHCP options to the
//   Network, and a Network's release leaves the deployment's router (marked by the deployment,
//   not by a Network) and its Ports' switch ports. A row without Syncord's ids is invisible to the
//   observer's sweep and drift handling, and a router holding a released port is never empty, so
//   nothing in Syncord removes or changes a released row afterwards.
import { asStringMap, mutate, select, type Operation, type Row } from '../../backends/ovn/ovsdb.js';
import type { ModelObject } from '../../models/service.js';
import type { StepContext, SyncStep } from '../../synchronizer/engine.js';
import { openstackPlaceOf } from '../openstack/placement.js';
import type { Database } from './connection.js';
import { isOvn, planOf } from './network.js';
import {
  INSTANCE_KEY,
  MARK_KEYS,
  ownerIds,
  lspName,
  routerPortName,
  switchName,
  switchRouterPortName,
  type Role,
} from './names.js';
import { addressOf, networkOf } from './port.js';
import {
  holding,
  ids,
  ownerKey,
  setsEqual,
  strings,
  text,
  uuid,
  write,
  type OvnRuntime,
} from './runtime.js';

const label = (o: ModelObject): string =>
  typeof o.name === 'string' && o.name ? o.name : String(o.id);

const plural = (n: number, word: string) => `${String(n)} ${word}${n === 1 ? '' : 's'}`;

/** A set column as the status shows it: `"a" "b"`, or `none`. */
const shown = (values: readonly string[]) =>
  values.length ? values.map((v) => `"${v}"`).join(' ') : 'none';

/** A row of Syncord's naming no deployment (made out of band, or released). */
const unmarked = (row: Row) => ids(row)[INSTANCE_KEY] === undefined;

/** The switch (of those given, else any in the replica) whose ports hold a switch port. */
function holderOf(db: Database, lsp: Row, likely: (Row | undefined)[]): Row | undefined {
  const id = uuid(lsp);
  return (
    likely.find((ls) => ls && strings(ls, 'ports').includes(id)) ??
    db.monitor.rows('Logical_Switch').find((ls) => strings(ls, 'ports').includes(id))
  );
}

/** The network's switch as sync would find it: its own by owner, else one by its name. */
function switchOf(rt: OvnRuntime, db: Database, network: ModelObject): Row | undefined {
  const ix = rt.indexes(db);
  const name = switchName(network);
  const owned = ix.lsByOwner.get(
    ownerKey(ownerIds(rt.instance, { model: 'Network', id: network.id }, 'switch')),
  );
  return owned.find((r) => r.name === name) ?? owned[0] ?? ix.lsByName.get(name).find(unmarked);
}

const SWITCH_WORDS: Record<string, string> = {
  subnet: 'subnet',
  exclude_ips: 'excluded',
  ipv6_prefix: 'IPv6 prefix',
};

async function observeNetwork(rt: OvnRuntime, network: ModelObject): Promise<string> {
  if (!isOvn(network)) {
    return `not an OVN network (its provider is ${String(network.provider)}): Syncord makes no OVN objects for it`;
  }
  const db = await rt.northbound();
  const ix = rt.indexes(db);
  const plan = planOf(rt, network);
  const mine = (role: Role) =>
    ownerKey(ownerIds(rt.instance, { model: 'Network', id: network.id }, role));
  const parts: string[] = [];
  const differs: string[] = [];

  // The segment: Neutron's switch, or Syncord's.
  let ls: Row | undefined;
  if (plan.neutronSwitch !== undefined) {
    ls = ix.lsByName.get(plan.neutronSwitch)[0];
    if (!ls) throw new Error(`Neutron's Logical_Switch ${plan.neutronSwitch} is not there`);
    parts.push(
      `Neutron's Logical_Switch ${plan.neutronSwitch}: ${plural(strings(ls, 'ports').length, 'port')}`,
    );
  } else {
    ls = switchOf(rt, db, network);
    if (!ls) throw new Error(`Logical_Switch ${plan.switchName} is not there`);
    const config = asStringMap(ls.other_config ?? {});
    const plan4 = Object.keys(SWITCH_WORDS).filter((k) => config[k] !== undefined);
    const seen = plan4.map((k) => `${SWITCH_WORDS[k]!} ${config[k]!}`);
    parts.push(
      `Logical_Switch ${text(ls.name)}: ${[...(seen.length ? seen : ['no address plan']), plural(strings(ls, 'ports').length, 'port')].join(', ')}`,
    );
    if (ls.name !== plan.switchName)
      differs.push(`name ${text(ls.name)} (model ${plan.switchName})`);
    for (const [key, word] of Object.entries(SWITCH_WORDS)) {
      const want = plan.otherConfig[key];
      if (config[key] !== want)
        differs.push(`${word} ${config[key] ?? 'none'} (model ${want ?? 'none'})`);
    }
  }

  // DHCP: its own options by owner, else options nobody's with the network's CIDR.
  const dhcp =
    ix.dhcpByOwner.get(mine('dhcp'))[0] ??
    (plan.dhcp
      ? db.monitor.rows('DHCP_Options').find((r) => r.cidr === plan.dhcp!.cidr && unmarked(r))
      : undefined);
  if (dhcp) {
    parts.push(`DHCP ${text(dhcp.cidr)}`);
    if (!plan.dhcp) differs.push('DHCP options (model: no DHCP)');
    else {
      if (dhcp.cidr !== plan.dhcp.cidr)
        differs.push(`DHCP ${text(dhcp.cidr)} (model ${plan.dhcp.cidr})`);
      const options = asStringMap(dhcp.options ?? {});
      const keys = [
        ...new Set([...Object.keys(plan.dhcp.options), ...Object.keys(options)]),
      ].sort();
      for (const k of keys) {
        if (options[k] !== plan.dhcp.options[k]) {
          differs.push(
            `DHCP ${k} ${options[k] ?? 'unset'} (model ${plan.dhcp.options[k] ?? 'unset'})`,
          );
        }
      }
    }
  } else if (plan.dhcp) differs.push('no DHCP options (model: DHCP)');

  // The router port and its switch-side peer, for a routed network.
  const lrpName = routerPortName(rt.instance, network.id);
  const owned = ix.lrpByOwner.get(mine('router-port'));
  const lrp = plan.routed
    ? (owned.find((r) => r.name === lrpName) ??
      owned[0] ??
      db.monitor.rows('Logical_Router_Port').find((r) => r.name === lrpName && unmarked(r)))
    : owned[0];
  if (lrp) {
    const router = db.monitor
      .rows('Logical_Router')
      .find((r) => strings(r, 'ports').includes(uuid(lrp)));
    const networks = strings(lrp, 'networks');
    parts.push(
      `router port ${text(lrp.name)} ${networks.join(' ')}${router ? ` on ${text(router.name)}` : ''}`,
    );
    if (!plan.routed) differs.push(`a router port (model: ${plan.type}, not routed)`);
    else {
      const want = [`${plan.gateway}/${String(plan.subnet.prefix)}`];
      if (!setsEqual(networks, want))
        differs.push(`router port ${networks.join(' ')} (model ${want[0]!})`);
      if (!router || router.name !== rt.routerName) {
        differs.push(`router ${router ? text(router.name) : 'none'} (model ${rt.routerName})`);
      }
      const peerName = switchRouterPortName(rt.instance, network.id);
      const peer =
        ix.lspByOwner.get(mine('switch-router-port'))[0] ??
        ix.lspByName.get(peerName).find(unmarked);
      if (!peer || !strings(ls, 'ports').includes(uuid(peer))) {
        differs.push(`no switch port to the router on ${text(ls.name)} (model ${peerName})`);
      }
      if (plan.public) {
        const chassis = strings(lrp, 'gateway_chassis')
          .map((id) => db.monitor.get('Gateway_Chassis', id))
          .filter((g): g is Row => g !== undefined)
          .sort((a, b) => Number(b.priority) - Number(a.priority))
          .map((g) => text(g.chassis_name));
        const want = rt.gatewayChassis();
        if (chassis.join(' ') !== want.join(' ')) {
          differs.push(
            `gateway chassis ${chassis.join(' ') || 'none'} (model ${want.join(' ') || 'none'})`,
          );
        }
      }
    }
  } else if (plan.routed) {
    differs.push(`no router port ${lrpName} (model: ${plan.type}, routed by ${rt.routerName})`);
  }
  return `${parts.join(', ')}${differs.length ? `; differs from the model: ${differs.join(', ')}` : ''}`;
}

async function observePort(rt: OvnRuntime, port: ModelObject, ctx: StepContext): Promise<string> {
  const [network, si] = await Promise.all([
    networkOf(ctx.models, port),
    rt.serviceInstance(ctx.models, port.service_instance_id as number),
  ]);
  if (!isOvn(network)) {
    return `not on an OVN network (Network ${label(network)}'s provider is ${String(network.provider)}): Syncord makes no OVN objects for it`;
  }
  const db = await rt.northbound();
  const ix = rt.indexes(db);
  const place = si ? await openstackPlaceOf(ctx.models, si) : undefined;
  let lsp: Row | undefined;
  let what: string;
  let expected: Row | undefined;
  const neutron = planOf(rt, network).neutronSwitch;
  if (neutron !== undefined) expected = ix.lsByName.get(neutron)[0];
  else expected = switchOf(rt, db, network);
  const expectedName = neutron ?? switchName(network);
  if (place) {
    // A Nova server's port: the switch port is Neutron's, named by the Neutron port.
    const neutronPort = typeof port.port_id === 'string' && port.port_id ? port.port_id : undefined;
    if (!neutronPort) {
      throw new Error(
        `Port ${String(port.id)} runs on OpenStack Cluster ${label(place.cluster)} and has no Neutron port yet: no logical switch port to observe`,
      );
    }
    lsp = ix.lspByName.get(neutronPort)[0];
    what = `Neutron's Logical_Switch_Port ${neutronPort}`;
    if (!lsp) throw new Error(`${what} is not there`);
  } else {
    const name = lspName(rt.instance, port);
    const owned = ix.lspByOwner.get(
      ownerKey(ownerIds(rt.instance, { model: 'Port', id: port.id }, 'port')),
    );
    lsp = owned.find((r) => r.name === name) ?? owned[0] ?? ix.lspByName.get(name).find(unmarked);
    what = `Logical_Switch_Port ${name}`;
    if (!lsp) throw new Error(`${what} is not there`);
  }
  const holder = holderOf(db, lsp, [expected]);
  const addresses = strings(lsp, 'addresses');
  const security = strings(lsp, 'port_security');
  const up = lsp.up === true ? 'up' : lsp.up === false ? 'down' : 'not bound yet';
  const parts = [
    `${what} on ${holder ? text(holder.name) : 'no switch'}`,
    `addresses ${shown(addresses)}`,
    up,
  ];
  const differs: string[] = [];
  if (!holder || !expected || uuid(holder) !== uuid(expected)) {
    differs.push(`on ${holder ? text(holder.name) : 'no switch'} (model ${expectedName})`);
  }
  if (typeof port.mac === 'string' && typeof port.ip === 'string') {
    const want = [addressOf(port)];
    if (!setsEqual(addresses, want))
      differs.push(`addresses ${shown(addresses)} (model ${shown(want)})`);
    if (!place && !setsEqual(security, want)) {
      differs.push(`port security ${shown(security)} (model ${shown(want)})`);
    }
  }
  return `${parts.join(', ')}${differs.length ? `; differs from the model: ${differs.join(', ')}` : ''}`;
}

/** What a release row is called in the status. */
function nameOfRow(table: string, row: Row): string {
  if (table === 'DHCP_Options') return `DHCP_Options ${text(row.cidr)}`;
  return `${table} ${text(row.name ?? row._uuid)}`;
}

/**
 * Takes MARK_KEYS off every row of the tables and roles given that carries the owner's ids, in
 * one transaction (the rows are found by the server, not the replica, so a row written just
 * before is not missed). Returns the rows let go of, as the status names them.
 */
async function releaseRows(
  rt: OvnRuntime,
  owner: { model: string; id: number },
  targets: readonly (readonly [table: string, role: Role])[],
): Promise<string[]> {
  const db = await rt.northbound();
  const where = (role: Role) => holding(ownerIds(rt.instance, owner, role));
  const ops: Operation[] = [
    ...targets.map(([table, role]) => select(table, where(role))),
    ...targets.map(([table, role]) =>
      mutate(table, where(role), [['external_ids', 'delete', [...MARK_KEYS]]]),
    ),
  ];
  const results = await write(db, ops);
  return targets.flatMap(([table], i) =>
    (results[i] as { rows: Row[] }).rows.map((row) => nameOfRow(table, row)),
  );
}

/** The rows a Network's delete() removes (its Ports' switch ports are theirs). */
const NETWORK_ROWS = [
  ['Logical_Switch', 'switch'],
  ['DHCP_Options', 'dhcp'],
  ['Logical_Router_Port', 'router-port'],
  ['Logical_Switch_Port', 'switch-router-port'],
  ['Gateway_Chassis', 'gateway-chassis'],
] as const;

const released = (what: string, rows: string[]) =>
  rows.length
    ? `released ${what}: owner marks removed from ${rows.join(', ')}`
    : `released ${what}: no OVN row of it carried its owner marks`;

export function networkPolicies(rt: OvnRuntime): Pick<SyncStep, 'observe' | 'release'> {
  return {
    observe: (network) => observeNetwork(rt, network),
    async release(network) {
      const rows = await releaseRows(rt, { model: 'Network', id: network.id }, NETWORK_ROWS);
      return released(`Network ${label(network)}`, rows);
    },
  };
}

export function portPolicies(rt: OvnRuntime): Pick<SyncStep, 'observe' | 'release'> {
  return {
    observe: (port, ctx) => observePort(rt, port, ctx),
    async release(port) {
      if (typeof port.port_id === 'string') rt.neutronPorts.delete(port.port_id);
      const rows = await releaseRows(rt, { model: 'Port', id: port.id }, [
        ['Logical_Switch_Port', 'port'],
      ]);
      return released(`Port ${String(port.id)}`, rows);
    },
  };
}
