// Network (provider ovn) → a Logical_Switch with its address plan in other_config (`subnet` and
// `exclude_ips` for IPv4: the gateway and the model's reserved ranges; `ipv6_prefix` for a /64),
// a DHCP_Options row when the network has DHCP (server and router = the gateway, lease time, DNS
// servers and MTU when the model names them), and, for a routed network (VTN's PRIVATE, PUBLIC
// and VSG), a port on the deployment's router holding the gateway address with its switch-side
// peer. On a PUBLIC network that router port is the router's gateway port (a distributed gateway
// port on the gateway chassis).
//
// One sync reads what exists by external_ids, then makes it right in one write transaction whose
// `wait` operations check that nothing it relies on changed meanwhile (no row of the owner was
// inserted by someone else, the router still exists and holds the ports it read), so a retry after
// a crash adopts what the crashed run wrote and two writers never make two of a row.
//
// A Network with `neutron_network_id` (it carries VMs on OpenStack) has Neutron's switch
// `neutron-<id>` as its segment: Syncord makes no switch of its own for it and writes no column of
// a row Neutron made; it only puts its own switch ports (the pods' ports and the switch side of
// its router port) into, and takes them out of, that switch's `ports`. Its DHCP options and router
// port stay Syncord's. When the segment changes (Neutron's network appears, or goes), the step
// moves the ports in the same transaction that removes or makes Syncord's switch: a switch port
// that no switch holds at commit is garbage-collected by ovsdb-server.
import {
  del,
  insert,
  mutate,
  namedUuid,
  select,
  update,
  type Operation,
  type Row,
} from '../../backends/ovn/ovsdb.js';
import {
  defaultGateway,
  formatAddress,
  formatExcludeIps,
  parseAddress,
  parseCidr,
  parseExcludeIps,
  type Subnet,
} from '../../models/ipam/address.js';
import type { ModelObject } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import type { Database } from './connection.js';
import {
  gatewayChassisName,
  INSTANCE_KEY,
  networkMac,
  neutronNetworkOf,
  neutronSwitchName,
  ownerIds,
  ownerOfRow,
  ROLE_KEY,
  routerIds,
  routerPortName,
  switchName,
  switchRouterPortName,
  TYPE_KEY,
  type Role,
} from './names.js';
import {
  absent,
  byUuid,
  holding,
  ids,
  mapsEqual,
  mutateIf,
  networkKey,
  ownerKey,
  patchMap,
  present,
  setsEqual,
  stillHolds,
  strings,
  text,
  uuid,
  write,
  type OvnRuntime,
} from './runtime.js';

/** The VTN network types whose gateway is Syncord's router. */
export const ROUTED_TYPES: ReadonlySet<string> = new Set(['PRIVATE', 'PUBLIC', 'VSG']);

/** The other_config keys Syncord owns on a switch. */
const SWITCH_KEYS = ['subnet', 'exclude_ips', 'ipv6_prefix'] as const;

export const isOvn = (network: ModelObject): boolean => (network.provider ?? 'ovn') === 'ovn';

const label = (network: ModelObject): string =>
  typeof network.name === 'string' && network.name ? network.name : String(network.id);

/** What the model asks OVN for. */
export interface NetworkPlan {
  subnet: Subnet;
  gateway: string;
  switchName: string;
  /** Neutron's switch when the Network is on a Neutron network: then Syncord makes none. */
  neutronSwitch: string | undefined;
  otherConfig: Record<string, string>;
  dhcp: { cidr: string; options: Record<string, string> } | undefined;
  routed: boolean;
  public: boolean;
  mac: string;
  type: string;
}

function dnsOption(servers: string[]): string {
  return servers.length === 1 ? servers[0]! : `{${servers.join(', ')}}`;
}

export function planOf(rt: OvnRuntime, network: ModelObject): NetworkPlan {
  const subnet = parseCidr(network.subnet as string);
  const gateway =
    typeof network.gateway === 'string' && network.gateway
      ? formatAddress(subnet.family, parseAddress(network.gateway).value)
      : formatAddress(subnet.family, defaultGateway(subnet));
  const otherConfig: Record<string, string> = {};
  if (subnet.family === 4) {
    otherConfig.subnet = subnet.cidr;
    const reserved = [
      { first: parseAddress(gateway).value, last: parseAddress(gateway).value },
      ...parseExcludeIps(
        subnet,
        typeof network.exclude_ips === 'string' ? network.exclude_ips : '',
      ),
    ];
    otherConfig.exclude_ips = formatExcludeIps(4, reserved);
  } else if (subnet.prefix === 64) {
    otherConfig.ipv6_prefix = formatAddress(6, subnet.network);
  }
  const mac = networkMac(rt.instance, network.id);
  const dns =
    typeof network.dns_servers === 'string' ? network.dns_servers.split(/\s+/).filter(Boolean) : [];
  let dhcp: NetworkPlan['dhcp'];
  if (network.dhcp !== false) {
    const options: Record<string, string> =
      subnet.family === 4
        ? {
            server_id: gateway,
            server_mac: mac,
            lease_time: String(rt.leaseTime),
            router: gateway,
          }
        : { server_id: mac };
    if (dns.length) options.dns_server = dnsOption(dns);
    if (subnet.family === 4 && typeof network.mtu === 'number') options.mtu = String(network.mtu);
    dhcp = { cidr: subnet.cidr, options };
  }
  const type = typeof network.type === 'string' ? network.type : 'PRIVATE';
  const neutron = neutronNetworkOf(network);
  return {
    subnet,
    gateway,
    switchName: switchName(network),
    neutronSwitch: neutron === undefined ? undefined : neutronSwitchName(neutron),
    otherConfig,
    dhcp,
    routed: ROUTED_TYPES.has(type),
    public: type === 'PUBLIC',
    mac,
    type,
  };
}

/** The rows of a network as they are: found by external_ids. */
interface Existing {
  switches: Row[];
  dhcp: Row[];
  routerPorts: Row[];
  switchRouterPorts: Row[];
  routers: Row[];
  gatewayChassis: Row[];
  /** Switches named as Neutron's switch of the Network (read only when it has one). */
  neutron: Row[];
  /** The switch ports of the Network's Ports, wherever they are (from the replica). */
  portLsps: Row[];
}

/**
 * What exists of the network, from the monitor's replica (indexed by owner and name: no read
 * transaction, so that a periodic resync of an unchanged network sends the server nothing). The
 * replica may lag a write made elsewhere; the write transaction's guards catch that, and the sync
 * runs again.
 */
function readExisting(
  rt: OvnRuntime,
  db: Database,
  networkId: number,
  neutronSwitch?: string,
): Existing {
  const ix = rt.indexes(db);
  const owner = { model: 'Network', id: networkId };
  const mine = (role: Role) => ownerKey(ownerIds(rt.instance, owner, role));
  const router = Object.entries(routerIds(rt.instance));
  return {
    switches: ix.lsByOwner.get(mine('switch')),
    dhcp: ix.dhcpByOwner.get(mine('dhcp')),
    routerPorts: ix.lrpByOwner.get(mine('router-port')),
    switchRouterPorts: ix.lspByOwner.get(mine('switch-router-port')),
    routers: db.monitor
      .rows('Logical_Router')
      .filter((r) => router.every(([k, v]) => ids(r)[k] === v)),
    gatewayChassis: ix.gatewayChassisByOwner.get(mine('gateway-chassis')),
    neutron: neutronSwitch === undefined ? [] : ix.lsByName.get(neutronSwitch),
    portLsps: ix.portLspByNetwork.get(networkKey(rt.instance, networkId)),
  };
}

/** The same, read from the server in one transaction (just after a write the replica may lag). */
async function readExistingNow(
  rt: OvnRuntime,
  db: Database,
  networkId: number,
  neutronSwitch?: string,
): Promise<Existing> {
  const owner = { model: 'Network', id: networkId };
  const mine = (role: Role) => holding(ownerIds(rt.instance, owner, role));
  const [switches, dhcp, routerPorts, switchRouterPorts, routers, gatewayChassis, neutron] =
    await db.client.transact([
      select('Logical_Switch', mine('switch')),
      select('DHCP_Options', mine('dhcp')),
      select('Logical_Router_Port', mine('router-port')),
      select('Logical_Switch_Port', mine('switch-router-port')),
      select('Logical_Router', holding(routerIds(rt.instance))),
      select('Gateway_Chassis', mine('gateway-chassis')),
      ...(neutronSwitch === undefined
        ? []
        : [select('Logical_Switch', [['name', '==', neutronSwitch]])]),
    ]);
  return {
    switches: switches.rows,
    dhcp: dhcp.rows,
    routerPorts: routerPorts.rows,
    switchRouterPorts: switchRouterPorts.rows,
    routers: routers.rows,
    gatewayChassis: gatewayChassis.rows,
    neutron: neutron?.rows ?? [],
    portLsps: rt.indexes(db).portLspByNetwork.get(networkKey(rt.instance, networkId)),
  };
}

/** The switch a network's switch ports belong on, and the ports known to be on it. */
interface Segment {
  ref: Ref;
  /** How the status names it. */
  label: string;
  /** Its ports as the read and the replica show them (empty for a switch made now). */
  ports: ReadonlySet<string>;
}

/** A switch's ports as the read showed them and as the replica shows them now. */
function portsOf(db: Database, ls: Row): Set<string> {
  const replica = db.monitor.get('Logical_Switch', uuid(ls));
  return new Set([...strings(ls, 'ports'), ...(replica ? strings(replica, 'ports') : [])]);
}

/**
 * Ops that put switch ports onto the segment, off whichever switch holds them now: in one
 * transaction with the rest of the sync, so a port leaving a switch that the same transaction
 * deletes is held again at commit and survives. Each port is guarded to still exist (it was
 * seen in the replica, which may lag: inserting a deleted row's uuid would fail the write).
 */
function moveOps(lsps: Row[], segment: Segment): Operation[] {
  const moving = lsps.filter((r) => !segment.ports.has(uuid(r)));
  if (moving.length === 0) return [];
  return [
    ...moving.map((r) => present('Logical_Switch_Port', uuid(r))),
    ...moving.map(unplug),
    mutate(
      'Logical_Switch',
      [['_uuid', '==', segment.ref]],
      [['ports', 'insert', moving.map(uuid)]],
    ),
  ];
}

/** The row to keep of several with the same owner: the one with the expected name, else the first. */
function keeper(rows: Row[], name?: string): Row | undefined {
  return rows.find((r) => name !== undefined && r.name === name) ?? rows[0];
}

/** The router to use: the one named as configured, else the one with the most ports. */
function pickRouter(rt: OvnRuntime, routers: Row[]): Row | undefined {
  return (
    routers.find((r) => r.name === rt.routerName) ??
    [...routers].sort((a, b) => strings(b, 'ports').length - strings(a, 'ports').length)[0]
  );
}

/**
 * Ops that take router ports off their routers (OVN then removes them), and a router that is
 * left with no port, when allowed (guarded: only if its ports are still what was read).
 */
function detachRouterPorts(
  routers: Row[],
  lrps: Row[],
  done: string[],
  removeEmptyRouter = true,
): Operation[] {
  const ops: Operation[] = [];
  for (const router of routers) {
    const ports = strings(router, 'ports');
    const gone = lrps.map(uuid).filter((u) => ports.includes(u));
    if (gone.length === 0) continue;
    if (removeEmptyRouter && gone.length === ports.length) {
      ops.push(stillHolds('Logical_Router', uuid(router), 'ports', ports));
      ops.push(del('Logical_Router', byUuid(uuid(router))));
      done.push(`removed router ${text(router.name)} (no port left)`);
    } else {
      ops.push(mutate('Logical_Router', byUuid(uuid(router)), [['ports', 'delete', gone]]));
    }
  }
  for (const lrp of lrps) done.push(`removed router port ${text(lrp.name)}`);
  return ops;
}

/** The ops (and the words for them) that make the network's rows what the plan says. */
function reconcile(
  rt: OvnRuntime,
  db: Database,
  network: ModelObject,
  plan: NetworkPlan,
  ex: Existing,
): { ops: Operation[]; done: string[]; moved: number[] } {
  const owner = { model: 'Network', id: network.id };
  const idsOf = (role: Role) => ownerIds(rt.instance, owner, role);
  const ops: Operation[] = [];
  const done: string[] = [];
  /** Syncord's switches that go once their ports are moved off (the segment is Neutron's). */
  const retired: Row[] = [];
  /** Switch ports of this deployment's found on a retired switch, to move. */
  const adopted: Row[] = [];

  // The segment.
  let segment: Segment;
  const neutron = plan.neutronSwitch === undefined ? undefined : ex.neutron[0];
  if (neutron) {
    segment = {
      ref: uuid(neutron),
      label: `Neutron's switch ${text(neutron.name)}`,
      ports: portsOf(db, neutron),
    };
    // Referred to, never written: the ports mutation below is the only change to it.
    ops.push(present('Logical_Switch', uuid(neutron)));
    for (const ls of ex.switches) {
      // Its ports as read: one put on it meanwhile would go with the switch; then retry.
      ops.push(stillHolds('Logical_Switch', uuid(ls), 'ports', strings(ls, 'ports')));
      let foreign = 0;
      for (const id of strings(ls, 'ports')) {
        const lsp = db.monitor.get('Logical_Switch_Port', id);
        if (!lsp) {
          throw new WaitingError(
            `the OVN replica does not show the ports of logical switch ${text(ls.name)} yet; trying again`,
            500,
          );
        }
        const x = ids(lsp);
        if (x[INSTANCE_KEY] !== rt.instance) foreign++;
        // The router's switch port is the router part's (moved there, or unplugged).
        else if (x[ROLE_KEY] !== 'switch-router-port') adopted.push(lsp);
      }
      retired.push(ls);
      done.push(
        `removed logical switch ${text(ls.name)}${foreign ? ` (with ${String(foreign)} switch ports not of this deployment)` : ''}`,
      );
    }
  } else {
    const ls = keeper(ex.switches, plan.switchName);
    let lsRef: Ref;
    for (const extra of ex.switches.filter((r) => r !== ls)) {
      ops.push(del('Logical_Switch', byUuid(uuid(extra))));
      done.push(`removed a duplicate switch ${text(extra.name)}`);
    }
    if (!ls) {
      ops.push(absent('Logical_Switch', idsOf('switch')));
      ops.push(
        insert(
          'Logical_Switch',
          { name: plan.switchName, other_config: plan.otherConfig, external_ids: idsOf('switch') },
          'ls',
        ),
      );
      lsRef = namedUuid('ls');
      done.push(`created logical switch ${plan.switchName} (${describePlan(plan)})`);
    } else {
      lsRef = uuid(ls);
      const changed: string[] = [];
      if (ls.name !== plan.switchName) {
        ops.push(update('Logical_Switch', byUuid(uuid(ls)), { name: plan.switchName }));
        changed.push(`renamed from ${text(ls.name)}`);
      }
      const patch = patchMap('other_config', asMap(ls.other_config), plan.otherConfig, SWITCH_KEYS);
      if (patch.length) changed.push(`address plan ${describePlan(plan)}`);
      ops.push(...mutateIf('Logical_Switch', uuid(ls), patch));
      if (changed.length)
        done.push(`updated logical switch ${plan.switchName}: ${changed.join(', ')}`);
    }
    segment = {
      ref: lsRef,
      label: `logical switch ${plan.switchName}`,
      ports: ls ? portsOf(db, ls) : new Set(),
    };
  }

  // DHCP.
  const dhcpRow = plan.dhcp ? keeper(ex.dhcp) : undefined;
  for (const extra of ex.dhcp.filter((r) => r !== dhcpRow)) {
    ops.push(del('DHCP_Options', byUuid(uuid(extra))));
    if (plan.dhcp) done.push('removed a duplicate DHCP_Options row');
    else done.push('removed its DHCP options');
  }
  if (plan.dhcp && !dhcpRow) {
    ops.push(absent('DHCP_Options', idsOf('dhcp')));
    ops.push(
      insert('DHCP_Options', {
        cidr: plan.dhcp.cidr,
        options: plan.dhcp.options,
        external_ids: idsOf('dhcp'),
      }),
    );
    done.push('created its DHCP options');
  } else if (plan.dhcp && dhcpRow) {
    const options = asMap(dhcpRow.options);
    if (dhcpRow.cidr !== plan.dhcp.cidr || !mapsEqual(options, plan.dhcp.options)) {
      ops.push(
        update('DHCP_Options', byUuid(uuid(dhcpRow)), {
          cidr: plan.dhcp.cidr,
          options: plan.dhcp.options,
        }),
      );
      done.push('updated its DHCP options');
    }
  }

  // The router port and its switch-side peer.
  if (!plan.routed) {
    ops.push(...detachRouterPorts(ex.routers, ex.routerPorts, done));
    for (const lsp of ex.switchRouterPorts) ops.push(unplug(lsp));
  } else {
    ops.push(...routerOps(rt, network, plan, ex, done));
    ops.push(...switchRouterPortOps(rt, network, ex, segment, done));
  }

  // The ports' switch ports: on the segment (moved when it changed, or off a duplicate switch).
  const lsps = [...new Map([...adopted, ...ex.portLsps].map((r) => [uuid(r), r])).values()];
  const moving = lsps.filter((r) => !segment.ports.has(uuid(r)));
  ops.push(...moveOps(moving, segment));
  if (moving.length) {
    done.push(
      `moved ${String(moving.length)} logical switch port${moving.length === 1 ? '' : 's'} onto ${segment.label}`,
    );
  }
  for (const ls of retired) ops.push(del('Logical_Switch', byUuid(uuid(ls))));
  const moved = moving
    .map((r) => ownerOfRow(rt.instance, ids(r)))
    .filter((o) => o?.model === 'Port')
    .map((o) => o!.id);
  return { ops, done, moved };
}

type Ref = string | ReturnType<typeof namedUuid>;

/** Takes a logical switch port off whichever switch holds it (OVN then removes it). */
export const unplug = (lsp: Row): Operation =>
  mutate('Logical_Switch', [['ports', 'includes', uuid(lsp)]], [['ports', 'delete', [uuid(lsp)]]]);

function routerOps(
  rt: OvnRuntime,
  network: ModelObject,
  plan: NetworkPlan,
  ex: Existing,
  done: string[],
): Operation[] {
  const idsOf = (role: Role) => ownerIds(rt.instance, { model: 'Network', id: network.id }, role);
  const ops: Operation[] = [];
  const router = pickRouter(rt, ex.routers);
  let lrRef: Ref;
  if (!router) {
    ops.push(absent('Logical_Router', routerIds(rt.instance)));
    ops.push(
      insert('Logical_Router', { name: rt.routerName, external_ids: routerIds(rt.instance) }, 'lr'),
    );
    lrRef = namedUuid('lr');
    done.push(`created router ${rt.routerName}`);
  } else {
    lrRef = uuid(router);
    ops.push(present('Logical_Router', uuid(router)));
    if (router.name !== rt.routerName) {
      ops.push(update('Logical_Router', byUuid(uuid(router)), { name: rt.routerName }));
      done.push(`renamed router ${text(router.name)} to ${rt.routerName}`);
    }
  }
  const lrpName = routerPortName(rt.instance, network.id);
  const lrp = keeper(ex.routerPorts, lrpName);
  const extras = ex.routerPorts.filter((p) => p !== lrp);
  if (extras.length) ops.push(...detachRouterPorts(ex.routers, extras, [], false));
  const lrpIds = { ...idsOf('router-port'), [TYPE_KEY]: plan.type };
  const networks = [`${plan.gateway}/${String(plan.subnet.prefix)}`];
  const chassis = plan.public ? rt.gatewayChassis() : [];
  const wanted = chassis.map((c, i) => ({
    name: gatewayChassisName(lrpName, c),
    chassis_name: c,
    priority: Math.max(1, 32767 - i),
    external_ids: idsOf('gateway-chassis'),
  }));
  const gateway = chassis.length ? ` as the gateway port on ${chassis.join(', ')}` : '';
  if (!lrp) {
    wanted.forEach((row, i) => ops.push(insert('Gateway_Chassis', row, `gc${String(i)}`)));
    ops.push(absent('Logical_Router_Port', idsOf('router-port')));
    ops.push(
      insert(
        'Logical_Router_Port',
        {
          name: lrpName,
          mac: plan.mac,
          networks,
          gateway_chassis: wanted.map((_, i) => namedUuid(`gc${String(i)}`)),
          external_ids: lrpIds,
        },
        'lrp',
      ),
    );
    ops.push(
      mutate('Logical_Router', [['_uuid', '==', lrRef]], [['ports', 'insert', [namedUuid('lrp')]]]),
    );
    done.push(`created router port ${lrpName} (${networks[0]!})${gateway}`);
    return ops;
  }
  const changed: string[] = [];
  // On another router of ours (the configured router changed): moved to this one.
  if (!router || !strings(router, 'ports').includes(uuid(lrp))) {
    for (const other of ex.routers.filter((r) => strings(r, 'ports').includes(uuid(lrp)))) {
      ops.push(mutate('Logical_Router', byUuid(uuid(other)), [['ports', 'delete', [uuid(lrp)]]]));
    }
    ops.push(
      mutate('Logical_Router', [['_uuid', '==', lrRef]], [['ports', 'insert', [uuid(lrp)]]]),
    );
    changed.push(`moved to ${rt.routerName}`);
  }
  const row: Record<string, string | string[]> = {};
  if (lrp.name !== lrpName) row.name = lrpName;
  if (lrp.mac !== plan.mac) row.mac = plan.mac;
  if (!setsEqual(strings(lrp, 'networks'), networks)) row.networks = networks;
  if (Object.keys(row).length) {
    ops.push(update('Logical_Router_Port', byUuid(uuid(lrp)), row));
    changed.push(row.networks ? networks[0]! : 'name and MAC');
  }
  ops.push(
    ...mutateIf('Logical_Router_Port', uuid(lrp), patchMap('external_ids', ids(lrp), lrpIds, [])),
  );
  // Gateway chassis: a row per chassis, named after the port and the chassis, kept where right.
  const current = ex.gatewayChassis.filter((g) =>
    strings(lrp, 'gateway_chassis').includes(uuid(g)),
  );
  const same =
    current.length === wanted.length &&
    wanted.every((w) => current.some((c) => c.name === w.name && c.priority === w.priority));
  if (!same) {
    const list: Ref[] = [];
    wanted.forEach((w, i) => {
      const old = current.find((c) => c.name === w.name);
      if (old) {
        list.push(uuid(old));
        if (old.priority !== w.priority) {
          ops.push(update('Gateway_Chassis', byUuid(uuid(old)), { priority: w.priority }));
        }
      } else {
        ops.push(insert('Gateway_Chassis', w, `gc${String(i)}`));
        list.push(namedUuid(`gc${String(i)}`));
      }
    });
    ops.push(update('Logical_Router_Port', byUuid(uuid(lrp)), { gateway_chassis: list }));
    changed.push(chassis.length ? `gateway port on ${chassis.join(', ')}` : 'not a gateway port');
  }
  if (changed.length) done.push(`updated router port ${lrpName}: ${changed.join(', ')}`);
  return ops;
}

function switchRouterPortOps(
  rt: OvnRuntime,
  network: ModelObject,
  ex: Existing,
  segment: Segment,
  done: string[],
): Operation[] {
  const ops: Operation[] = [];
  const lspIds = ownerIds(rt.instance, { model: 'Network', id: network.id }, 'switch-router-port');
  const lspName = switchRouterPortName(rt.instance, network.id);
  const want = {
    name: lspName,
    type: 'router',
    addresses: ['router'],
    options: { 'router-port': routerPortName(rt.instance, network.id) },
  };
  const lsp = keeper(ex.switchRouterPorts, lspName);
  for (const extra of ex.switchRouterPorts.filter((r) => r !== lsp)) ops.push(unplug(extra));
  if (!lsp) {
    ops.push(absent('Logical_Switch_Port', lspIds));
    ops.push(insert('Logical_Switch_Port', { ...want, external_ids: lspIds }, 'lsp'));
    ops.push(
      mutate(
        'Logical_Switch',
        [['_uuid', '==', segment.ref]],
        [['ports', 'insert', [namedUuid('lsp')]]],
      ),
    );
    done.push(`connected it to the router (${lspName})`);
    return ops;
  }
  if (
    lsp.name !== want.name ||
    lsp.type !== want.type ||
    !setsEqual(strings(lsp, 'addresses'), want.addresses) ||
    !mapsEqual(asMap(lsp.options), want.options)
  ) {
    ops.push(update('Logical_Switch_Port', byUuid(uuid(lsp)), want));
    done.push(`repaired its router connection ${lspName}`);
  }
  const move = moveOps([lsp], segment);
  if (move.length) {
    ops.push(...move);
    done.push(`moved its router connection ${lspName} onto ${segment.label}`);
  }
  return ops;
}

const asMap = (v: Row[string] | undefined): Record<string, string> =>
  ids({ external_ids: v ?? {} });

function describePlan(plan: NetworkPlan): string {
  const parts = [plan.subnet.cidr];
  if (plan.otherConfig.exclude_ips) parts.push(`excluding ${plan.otherConfig.exclude_ips}`);
  return parts.join(', ');
}

/**
 * Every row of the network, for a teardown (or a network no longer on OVN): its switch, DHCP
 * options and router port, and its switch ports on a switch not its own (Neutron's), taken off
 * that switch. Neutron's switch itself stays.
 */
function teardownOps(ex: Existing, done: string[]): Operation[] {
  const ops: Operation[] = [];
  ops.push(...detachRouterPorts(ex.routers, ex.routerPorts, done));
  const onOwnSwitch = (lsp: Row) =>
    ex.switches.some((ls) => strings(ls, 'ports').includes(uuid(lsp)));
  for (const lsp of ex.switchRouterPorts) {
    if (onOwnSwitch(lsp)) continue;
    ops.push(unplug(lsp));
  }
  // The Network's Ports went first (and took their switch ports); these are leftovers.
  const left = ex.portLsps.filter((lsp) => !onOwnSwitch(lsp));
  for (const lsp of left) ops.push(unplug(lsp));
  if (left.length) {
    done.push(
      `removed ${String(left.length)} logical switch port${left.length === 1 ? '' : 's'} of its ports`,
    );
  }
  for (const ls of ex.switches) {
    ops.push(del('Logical_Switch', byUuid(uuid(ls))));
    done.push(`removed logical switch ${text(ls.name)}`);
  }
  for (const d of ex.dhcp) {
    ops.push(del('DHCP_Options', byUuid(uuid(d))));
    done.push('removed its DHCP options');
  }
  return ops;
}

export function networkStep(rt: OvnRuntime): SyncStep {
  return {
    name: 'ovn/network',
    observes: 'Network',
    // Networks synced together share the group commit's transactions.
    batch: 100,

    async sync(network: ModelObject, ctx: StepContext): Promise<string> {
      const db = await rt.northbound();
      const neutron = neutronNetworkOf(network);
      let ex = readExisting(
        rt,
        db,
        network.id,
        isOvn(network) && neutron !== undefined ? neutronSwitchName(neutron) : undefined,
      );
      if (!isOvn(network)) {
        const done: string[] = [];
        const ops = teardownOps(ex, done);
        if (ops.length) await write(db, ops);
        const why = `not an OVN network (its provider is ${String(network.provider)})`;
        return done.length ? `${why}: ${done.join(', ')}` : why;
      }
      const plan = planOf(rt, network);
      if (plan.neutronSwitch !== undefined) {
        if (ex.neutron.length === 0) {
          // Made by Neutron when the OpenStack steps made the network; until it shows, the
          // pods stay where they are (on Syncord's switch, if there is one).
          throw new WaitingError(
            `waiting for Neutron's logical switch ${plan.neutronSwitch} of Network ${label(network)}`,
            2000,
          );
        }
      }
      let madeRouter = false;
      if (plan.routed && !pickRouter(rt, ex.routers)) {
        // The router is shared: made once, before the networks that need it are written (else
        // networks synced together would each try to make it, and all but one be refused).
        madeRouter = await rt.makeRouter(db);
        ex = await readExistingNow(rt, db, network.id, plan.neutronSwitch);
      }
      const { ops, done, moved } = reconcile(rt, db, network, plan, ex);
      if (madeRouter) done.push(`created router ${rt.routerName}`);
      if (ops.some((op) => op.op !== 'wait')) await write(db, ops);
      // The moved ports' own syncs run again: their status names the switch they are on, and a
      // port sync that read the Network before its segment changed may have put one back.
      for (const id of moved) ctx.enqueue('Port', id);
      const on =
        plan.neutronSwitch === undefined ? '' : `on Neutron's switch ${plan.neutronSwitch}`;
      if (done.length) return on ? `${on}: ${done.join(', ')}` : done.join(', ');
      const parts = on
        ? [`logical switch ports ${on} (${plan.subnet.cidr}`]
        : [`logical switch ${plan.switchName} is in place (${describePlan(plan)}`];
      if (plan.dhcp) parts.push('DHCP');
      if (plan.routed) parts.push(`routed by ${rt.routerName}`);
      return `${parts.join(', ')})`;
    },

    async delete(network: ModelObject): Promise<string> {
      const db = await rt.northbound();
      const ex = readExisting(rt, db, network.id);
      const done: string[] = [];
      const ops = teardownOps(ex, done);
      if (ops.length) await write(db, ops);
      return done.length
        ? done.join(', ')
        : `no OVN objects of Network ${label(network)} to remove`;
    },
  };
}
