// What Syncord calls the OVN objects it makes, and how it marks them as its own.
//
// Every row Syncord writes carries `external_ids`: `syncord-instance` (the deployment, so that
// deployments and test runs sharing one northbound database never take each other's rows for
// strays), `syncord-model` and `syncord-id` (the owner; absent on the shared router, which has
// `syncord-role: router` instead) and `syncord-role` (which of the owner's rows it is). Rows are
// found by these keys, never by name; names are deterministic so that people and the node's CNI
// can use them:
//   switch               syncord-<network name>  (the name the NAD's CNI config carries)
//   port                 syncord-port-<port id>  (the interface id the CNI binds: iface-id)
//   router               syncord-router          (one per deployment, made on first need)
//   router port (LRP)    syncord-rtos-<network id>
//   its switch side LSP  syncord-stor-<network id>
// A deployment other than the default one (`syncord`) puts its instance into the names that OVN
// indexes (ports, router ports, the router): syncord-<instance>-port-<id> and so on, so that two
// deployments' port 1 do not collide on the Logical_Switch_Port name index.
//
// A Network that carries VMs on OpenStack (`neutron_network_id` set) has no switch of Syncord's:
// its segment is the switch Neutron's ML2/OVN driver made, `neutron-<network uuid>`, which
// Syncord finds by that name and never writes but for putting its own ports on it. A VM's port is
// Neutron's LSP named by the Neutron port's uuid; the OpenStack steps name that Neutron port
// `syncord-<instance>-Port-<id>` (steps/openstack/runtime.ts nameFor), which Neutron copies into
// the LSP's `external_ids:neutron:port_name`.
import { createHash } from 'node:crypto';
import type { ModelObject } from '../../models/service.js';

export const DEFAULT_INSTANCE = 'syncord';

export const INSTANCE_KEY = 'syncord-instance';
export const MODEL_KEY = 'syncord-model';
export const ID_KEY = 'syncord-id';
export const ROLE_KEY = 'syncord-role';
/** On a Port's logical switch port: its Network's id (found again when the Network's segment moves). */
export const NETWORK_KEY = 'syncord-network';
/** On a Neutron port's logical switch port: the Neutron port's name (Neutron's own key). */
export const NEUTRON_PORT_NAME_KEY = 'neutron:port_name';
/** On router ports: the network's type, so the observer knows the gateway ports. */
export const TYPE_KEY = 'syncord-network-type';

/**
 * Every external_ids key Syncord writes on its rows: taken off when an object is let go of
 * (deletion_policy orphan), so that nothing of Syncord's (owner, sweep, drift, the network's
 * index of its ports' switch ports) takes the row for its own again.
 */
export const MARK_KEYS = [
  INSTANCE_KEY,
  MODEL_KEY,
  ID_KEY,
  ROLE_KEY,
  NETWORK_KEY,
  TYPE_KEY,
] as const;

export type Role =
  'switch' | 'dhcp' | 'router' | 'router-port' | 'switch-router-port' | 'port' | 'gateway-chassis';

/** The deployment's instance: the option, else $SYNCORD_INSTANCE, else `syncord`. */
export function resolveInstance(instance?: string): string {
  return instance ?? process.env.SYNCORD_INSTANCE ?? DEFAULT_INSTANCE;
}

/** The prefix of names OVN indexes: `syncord`, or `syncord-<instance>` for other deployments. */
function prefix(instance: string): string {
  return instance === DEFAULT_INSTANCE ? 'syncord' : `syncord-${instance}`;
}

const nameOf = (o: ModelObject): string =>
  typeof o.name === 'string' && o.name ? o.name : String(o.id);

/**
 * An adopted object's OVN name for a table, from its backend_handle (`{"ovn/<table>": name}`,
 * written by `syncord adopt`): the rows it was made from keep their names.
 */
export function handleOf(obj: ModelObject, table: string): string | undefined {
  const handle = obj.backend_handle;
  if (!handle || typeof handle !== 'object' || Array.isArray(handle)) return undefined;
  const name = (handle as Record<string, unknown>)[`ovn/${table}`];
  return typeof name === 'string' && name ? name : undefined;
}

/**
 * A Network's logical switch: `syncord-<network name>` (its id when it has no name), or for an
 * adopted one the switch it was made from.
 */
export const switchName = (network: ModelObject): string =>
  handleOf(network, 'Logical_Switch') ?? `syncord-${nameOf(network)}`;

/** A Port's logical switch port, which is the interface id the node's CNI binds. */
export const portName = (instance: string, portId: number): string =>
  `${prefix(instance)}-port-${String(portId)}`;

/** A Port's logical switch port: portName, or for an adopted Port the one it was made from. */
export const lspName = (instance: string, port: ModelObject): string =>
  handleOf(port, 'Logical_Switch_Port') ?? portName(instance, port.id);

export const defaultRouterName = (instance: string): string => `${prefix(instance)}-router`;

export const routerPortName = (instance: string, networkId: number): string =>
  `${prefix(instance)}-rtos-${String(networkId)}`;

export const switchRouterPortName = (instance: string, networkId: number): string =>
  `${prefix(instance)}-stor-${String(networkId)}`;

/** The Neutron network a Network stands for on OpenStack, when the OpenStack steps made one. */
export function neutronNetworkOf(network: ModelObject): string | undefined {
  const id = network.neutron_network_id;
  return typeof id === 'string' && id ? id : undefined;
}

/** The logical switch Neutron's ML2/OVN driver makes for a Neutron network. */
export const neutronSwitchName = (neutronNetworkId: string): string =>
  `neutron-${neutronNetworkId}`;

/**
 * The Port a Neutron port's name stands for (`syncord-<instance>-Port-<id>`, as the OpenStack
 * steps name it; the instance unprefixed, unlike the OVN names above), when it is this
 * deployment's.
 */
export function portOfNeutronName(instance: string, name: string | undefined): number | undefined {
  const head = `syncord-${instance}-Port-`;
  if (!name?.startsWith(head)) return undefined;
  const digits = name.slice(head.length);
  if (!/^[1-9]\d*$/.test(digits)) return undefined;
  const id = Number(digits);
  return Number.isSafeInteger(id) ? id : undefined;
}

export const gatewayChassisName = (lrp: string, chassis: string): string => `${lrp}-${chassis}`;

/** The external_ids of a row owned by a model object. */
export function ownerIds(
  instance: string,
  owner: { model: string; id: number },
  role: Role,
): Record<string, string> {
  return {
    [INSTANCE_KEY]: instance,
    [MODEL_KEY]: owner.model,
    [ID_KEY]: String(owner.id),
    [ROLE_KEY]: role,
  };
}

/** The external_ids of the deployment's router. */
export const routerIds = (instance: string): Record<string, string> => ({
  [INSTANCE_KEY]: instance,
  [ROLE_KEY]: 'router',
});

/** The owner a row's external_ids name, when the row is this deployment's and has one. */
export function ownerOfRow(
  instance: string,
  externalIds: Record<string, string>,
): { model: string; id: number } | undefined {
  if (externalIds[INSTANCE_KEY] !== instance) return undefined;
  const model = externalIds[MODEL_KEY];
  const id = Number(externalIds[ID_KEY]);
  if (!model || !Number.isSafeInteger(id) || id <= 0) return undefined;
  return { model, id };
}

/**
 * The MAC of a network's router port and DHCP server: derived from the deployment and the
 * network, so it is the same after any restart; `0a:59:` keeps it apart from IPAM's `0a:58:`.
 */
export function networkMac(instance: string, networkId: number): string {
  const digest = createHash('sha256')
    .update(`${instance}/${String(networkId)}`)
    .digest();
  return ['0a', '59', ...[...digest.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0'))]
    .join(':')
    .toLowerCase();
}

/**
 * The deployments whose OVN steps run in this process (counted: a step set registers on start
 * and unregisters on stop). Only for these does a pod's networks request name the logical switch
 * port to bind: without Syncord's OVN backend there is no port of Syncord's for the CNI to bind.
 */
const running = new Map<string, number>();

export function registerOvnDeployment(instance: string): () => void {
  running.set(instance, (running.get(instance) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (running.get(instance) ?? 1) - 1;
    if (n > 0) running.set(instance, n);
    else running.delete(instance);
  };
}

/** The logical switch port a pod's interface binds, when the deployment's OVN steps run here. */
export function ovnPortFor(instance: string, port: ModelObject): string | undefined {
  return running.has(instance) ? lspName(instance, port) : undefined;
}
