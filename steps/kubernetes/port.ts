// Port → an interface of its instance's pod. A Port is synced once the pod reports it (Multus'
// network-status, written into the Port's observed_* fields by the pod observer). A Port the pod
// does not ask for yet (added after the pod was made) queues the instance, whose pod is then
// replaced with the new interface; a removed Port does the same.
import type { V1Pod } from '@kubernetes/client-node';
import { NotFoundError } from '../../models/errors.js';
import { sameIp, sameMac } from '../../models/ipam/address.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import { NETWORKS, parseNetworks } from './networks.js';
import type { PodObserver } from './observer.js';
import { noPodReason, placeOf } from './pod.js';
import { nameOf, type Runtime } from './runtime.js';

async function instanceOf(
  models: ModelService,
  port: ModelObject,
): Promise<ModelObject | undefined> {
  try {
    return await models.get('ServiceInstance', port.service_instance_id as number, {
      includeDeleted: true,
    });
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export function portStep(rt: Runtime, observer: PodObserver): SyncStep {
  return {
    name: 'kubernetes/port',
    observes: 'Port',
    // A batch's ports read their instances in one query (the cached service) and the watch's
    // cache; their statuses go in one statement.
    batch: 500,

    async sync(port: ModelObject, ctx: StepContext): Promise<string> {
      const si = await instanceOf(ctx.models, port);
      if (!si)
        throw new Error(`its service instance ${String(port.service_instance_id)} does not exist`);
      const skip = noPodReason(si);
      if (skip) return `not attached through Kubernetes: ${si.leaf_model} ${nameOf(si)}: ${skip}`;
      const place = await placeOf(rt, ctx.models, si);
      const where = `${place.namespace}/${place.name}`;
      if (
        sameIp(port.observed_ip, port.ip) &&
        sameMac(port.observed_mac, port.mac) &&
        typeof port.observed_interface === 'string'
      ) {
        return `attached to pod ${where} as ${port.observed_interface} (${String(port.ip)}, ${String(port.mac)})`;
      }
      // The watch cache, once it has listed, is the answer (its events queue this port again);
      // a GET before that.
      const pod = observer.isSynced(place.handle)
        ? observer.cached(place.handle, place.namespace, place.name)
        : await place.handle.cluster.get<V1Pod>('v1', 'Pod', place.namespace, place.name);
      if (!pod) throw new WaitingError(`waiting for pod ${where} to be made`, 1000);
      const asked = parseNetworks(pod.metadata?.annotations?.[NETWORKS], place.namespace).some(
        (sel) => (sel.ips ?? []).some((ip) => sameIp(ip, port.ip)) && sameMac(sel.mac, port.mac),
      );
      if (!asked) {
        ctx.enqueue(si.leaf_model, si.id);
        throw new WaitingError(
          `waiting for pod ${where} to be replaced with this port's interface`,
        );
      }
      if (typeof port.observed_ip === 'string' && !sameIp(port.observed_ip, port.ip)) {
        throw new Error(
          `pod ${where} reports ${port.observed_ip} on ${String(port.observed_interface)}, not ${String(port.ip)}`,
        );
      }
      throw new WaitingError(`waiting for pod ${where} to report this port's interface`);
    },

    async delete(port: ModelObject, ctx: StepContext): Promise<string> {
      const si = await instanceOf(ctx.models, port);
      if (!si || noPodReason(si) || si.deleted_at !== null) return 'detached';
      // The pod is made again without this interface.
      ctx.enqueue(si.leaf_model, si.id);
      return `detached from ${si.leaf_model} ${nameOf(si)} (its pod is replaced)`;
    },
  };
}
