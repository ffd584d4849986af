// What Syncord calls its objects in VTN, and how it marks them as its own.
//
// VTN's ids are the caller's: a Network is `syncord-net-<id>` and a Port `syncord-port-<id>`
// (`syncord-<instance>-...` for a deployment other than the default one, as in OVN). Every
// network, port and host Syncord writes carries annotations naming the deployment, the owner's
// model and id (`syncord-instance`, `syncord-model`, `syncord-id`), so that strays are found
// exactly and objects without them are never touched. A port's `name`, the interface VTN matches
// on the node's switch, is the OVN logical switch port name: the interface id the CNI binds.
import { createHash } from 'node:crypto';
import { DEFAULT_INSTANCE, ID_KEY, INSTANCE_KEY, MODEL_KEY } from '../ovn/names.js';

export { ID_KEY, INSTANCE_KEY, MODEL_KEY };

const prefix = (instance: string) =>
  instance === DEFAULT_INSTANCE ? 'syncord' : `syncord-${instance}`;

export const vtnNetworkId = (instance: string, networkId: number): string =>
  `${prefix(instance)}-net-${String(networkId)}`;

export const vtnPortId = (instance: string, portId: number): string =>
  `${prefix(instance)}-port-${String(portId)}`;

/** The annotations that mark an object as this deployment's, for this owner. */
export function marks(
  instance: string,
  owner: { model: string; id: number },
): Record<string, string> {
  return { [INSTANCE_KEY]: instance, [MODEL_KEY]: owner.model, [ID_KEY]: String(owner.id) };
}

/** The owner an object's annotations name, when they are this deployment's marks. */
export function ownerOf(
  instance: string,
  annotations: Record<string, string> | undefined,
): { model: string; id: number } | undefined {
  if (!annotations || annotations[INSTANCE_KEY] !== instance) return undefined;
  const model = annotations[MODEL_KEY];
  const id = Number(annotations[ID_KEY]);
  return model && Number.isInteger(id) && id > 0 ? { model, id } : undefined;
}

/**
 * The connect point of a pod's interface for VTN: the node as an OpenFlow-style device id
 * (`of:` and 16 hex digits of a hash of the node's name; Syncord does not see the node's OVS
 * datapath id) and the interface name as the port. Stable, so a host is not "moved" by a resync.
 */
export function connectPointOf(
  node: string,
  iface: string,
): { device_id: string; port_number: string } {
  const hex = createHash('sha256').update(node).digest('hex').slice(0, 16);
  return { device_id: `of:${hex}`, port_number: iface };
}
