// What Syncord calls its objects in VTN, and how it marks them as its own.
//
// VTN's ids are the caller's: a Network is `syncord-net-<id>` and a Port `syncord-port-<id>`
// (`syncord-<instance>-...` for a deployment other than the default one, as in OVN); an adopted
// one (`syncord adopt`, steps/vtn/adopt.ts) keeps the id it was made from, its backend_handle's
// `vtn/ServiceNetwork` or `vtn/ServicePort` (vtnNetworkName, vtnPortName: what the steps use). Every
// network, port and host Syncord writes carries annotations naming the deployment, the owner's
// model and id (`syncord-instance`, `syncord-model`, `syncord-id`), so that strays are found
// exactly and objects without them are never touched. A release (deletion_policy orphan) takes
// exactly these three off and leaves the object to whoever holds it next. A port's `name`, the
// interface VTN matches on the node's switch, is the OVN logical switch port name: the interface
// id the CNI binds.
import { createHash } from 'node:crypto';
import type { ModelObject } from '../../models/service.js';
import { DEFAULT_INSTANCE, ID_KEY, INSTANCE_KEY, MODEL_KEY } from '../ovn/names.js';

export { ID_KEY, INSTANCE_KEY, MODEL_KEY };

const prefix = (instance: string) =>
  instance === DEFAULT_INSTANCE ? 'syncord' : `syncord-${instance}`;

export const vtnNetworkId = (instance: string, networkId: number): string =>
  `${prefix(instance)}-net-${String(networkId)}`;

export const vtnPortId = (instance: string, portId: number): string =>
  `${prefix(instance)}-port-${String(portId)}`;

/** The handle keys of objects adopted from VTN (`syncord adopt`): `{"vtn/ServiceNetwork": id}`. */
export const NETWORK_HANDLE = 'vtn/ServiceNetwork';
export const PORT_HANDLE = 'vtn/ServicePort';

/** An adopted object's VTN id, from its backend_handle, when it has one. */
export function vtnHandleOf(obj: ModelObject, key: string): string | undefined {
  const handle = obj.backend_handle;
  if (!handle || typeof handle !== 'object' || Array.isArray(handle)) return undefined;
  const id = (handle as Record<string, unknown>)[key];
  return typeof id === 'string' && id ? id : undefined;
}

/** A Network's service network id: vtnNetworkId, or for an adopted one the id it was made from. */
export const vtnNetworkName = (instance: string, network: ModelObject): string =>
  vtnHandleOf(network, NETWORK_HANDLE) ?? vtnNetworkId(instance, network.id);

/** A Port's service port id: vtnPortId, or for an adopted one the id it was made from. */
export const vtnPortName = (instance: string, port: ModelObject): string =>
  vtnHandleOf(port, PORT_HANDLE) ?? vtnPortId(instance, port.id);

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
 * The annotations without this owner's marks (for a release), or undefined when they do not
 * carry them: another owner's, another deployment's or nobody's are not Syncord's to take off.
 */
export function withoutMarks(
  instance: string,
  owner: { model: string; id: number },
  annotations: Record<string, string> | undefined,
): Record<string, string> | undefined {
  const o = ownerOf(instance, annotations);
  if (!annotations || o?.model !== owner.model || o.id !== owner.id) return undefined;
  const ours = new Set([INSTANCE_KEY, MODEL_KEY, ID_KEY]);
  return Object.fromEntries(Object.entries(annotations).filter(([k]) => !ours.has(k)));
}

/**
 * The connect point of a pod's interface for VTN: the node as an OpenFlow-style device id
 * (`of:` and 16 hex digits of a hash of the node's name; Syncord does not see the node's OVS
 * datapath id) and the interface name as the port. Stable, so a host is not "moved" by a resync.
 */
/**
 * The adoption fact (synchronizer/adopt.ts) of a port's VTN host that its instance decides: where
 * the host is, `device/port`, which for a pod's interface is connectPointOf its node and its
 * interface name (as the VTN port step detects it). A pod's interface tells the same.
 */
export const HOST_AT = 'where its VTN host is';

/** A connect point as HOST_AT's value. */
export const hostAt = (
  cp: { device_id?: string; port_number?: string } | null | undefined,
): string => `${cp?.device_id ?? ''}/${cp?.port_number ?? ''}`;

export function connectPointOf(
  node: string,
  iface: string,
): { device_id: string; port_number: string } {
  const hex = createHash('sha256').update(node).digest('hex').slice(0, 16);
  return { device_id: `of:${hex}`, port_number: iface };
}
