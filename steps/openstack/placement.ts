// Where an instance runs: which service instances are Nova servers on an OpenStack Cluster. Shared
// by the OpenStack steps (which boot them), the OVN steps (which leave those instances' ports to
// Neutron, whose ML2/OVN driver makes their logical switch ports) and the VTN steps.
//
// An instance runs on OpenStack when it is an OpenStackServiceInstance, or a VNFServiceInstance
// with workload vm, and its slice's Cluster is of kind openstack. A slice's cluster is looked up
// at most every few seconds per slice (the OVN port step asks for every port of a batch).
import type { ModelObject, ModelService } from '../../models/service.js';

export interface OpenStackPlace {
  slice: ModelObject;
  cluster: ModelObject;
}

/** The models that can run as a Nova server. */
export const SERVER_MODELS: readonly string[] = ['OpenStackServiceInstance', 'VNFServiceInstance'];

/** Whether the instance's own fields ask for a VM (its slice's cluster decides where). */
export function wantsVm(si: ModelObject): boolean {
  if (si.leaf_model === 'OpenStackServiceInstance') return true;
  return si.leaf_model === 'VNFServiceInstance' && si.workload === 'vm';
}

const SLICE_TTL_MS = 5_000;
const slices = new WeakMap<
  ModelService,
  Map<number, { at: number; place: Promise<OpenStackPlace | undefined> }>
>();

async function sliceCluster(
  models: ModelService,
  sliceId: number,
): Promise<OpenStackPlace | undefined> {
  const slice = await models.get('Slice', sliceId, { includeDeleted: true });
  if (typeof slice.cluster_id !== 'number') return undefined;
  const cluster = await models.get('Cluster', slice.cluster_id, { includeDeleted: true });
  return cluster.kind === 'openstack' ? { slice, cluster } : undefined;
}

/** The slice's OpenStack Cluster, or undefined when the slice runs on Kubernetes. */
export function openstackPlaceOfSlice(
  models: ModelService,
  sliceId: number,
  options: { fresh?: boolean } = {},
): Promise<OpenStackPlace | undefined> {
  let bySlice = slices.get(models);
  if (!bySlice) {
    bySlice = new Map();
    slices.set(models, bySlice);
  }
  const hit = bySlice.get(sliceId);
  if (!options.fresh && hit && Date.now() - hit.at < SLICE_TTL_MS) return hit.place;
  const place = sliceCluster(models, sliceId);
  bySlice.set(sliceId, { at: Date.now(), place });
  place.catch(() => bySlice.delete(sliceId));
  return place;
}

/** Where the instance runs on OpenStack, or undefined when it is not a Nova server. */
export async function openstackPlaceOf(
  models: ModelService,
  si: ModelObject,
  options: { fresh?: boolean } = {},
): Promise<OpenStackPlace | undefined> {
  if (!wantsVm(si) || typeof si.slice_id !== 'number') return undefined;
  return openstackPlaceOfSlice(models, si.slice_id, options);
}
