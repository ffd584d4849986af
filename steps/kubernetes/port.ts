// Port → an interface of its instance's pod. A Port is synced once the pod reports it (Multus'
// network-status, written into the Port's observed_* fields by the pod observer). A Port the pod
// does not ask for yet (added after the pod was made) queues the instance, whose pod is then
// replaced with the new interface; a removed Port does the same.
// Observed: the interface as the pod (Multus' network-status) or the KubeVirt VM reports it,
// into the Port's observed_* fields. Orphaned or adopted: a Port has no Kubernetes object of its
// own (its interface is part of its instance's pod), so there is no mark to take off or put on.
import type { V1Pod } from '@kubernetes/client-node';
import { NotFoundError } from '../../models/errors.js';
import { sameIp, sameMac } from '../../models/ipam/address.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import { differences } from './marks.js';
import {
  interfaceNames,
  NETWORK_STATUS,
  NETWORKS,
  parseNetworks,
  parseNetworkStatus,
  portsOf,
} from './networks.js';
import type { PodObserver } from './observer.js';
import { noPodReason, placeOf } from './pod.js';
import { nameOf, type Runtime } from './runtime.js';
import { noVmReason, VM_API, VM_KIND, type VirtualMachine } from './vm.js';

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

    async observe(port: ModelObject, ctx: StepContext): Promise<string> {
      const si = await instanceOf(ctx.models, port);
      if (!si)
        throw new Error(`its service instance ${String(port.service_instance_id)} does not exist`);
      const iface = interfaceNames(await portsOf(ctx.models, si)).get(port.id) ?? '?';
      const model = `${String(port.ip)} ${String(port.mac)}`;
      const place = async () => {
        const p = await placeOf(rt, ctx.models, si);
        return { ...p, where: `${p.namespace}/${p.name}` };
      };
      if (noPodReason(si)) {
        const skip = await noVmReason(ctx.models, si);
        if (skip) return `not attached through Kubernetes: ${si.leaf_model} ${nameOf(si)}: ${skip}`;
        const p = await place();
        const vm = await p.handle.cluster.get<VirtualMachine>(VM_API, VM_KIND, p.namespace, p.name);
        if (!vm) throw new Error(`VirtualMachine ${p.where} is not there`);
        const spec = vm.spec?.template as
          | {
              spec?: {
                domain?: { devices?: { interfaces?: { name?: string; macAddress?: string }[] } };
              };
            }
          | undefined;
        const i = spec?.spec?.domain?.devices?.interfaces?.find((x) => x.name === iface);
        if (!i) throw new Error(`VirtualMachine ${p.where} has no interface ${iface}`);
        const diffs = sameMac(i.macAddress, port.mac)
          ? []
          : [`MAC ${i.macAddress ?? 'none'} (model ${String(port.mac)})`];
        return `interface ${iface} of VirtualMachine ${p.where}: ${i.macAddress ?? 'no MAC'}${differences(diffs)}`;
      }
      const p = await place();
      const pod = await p.handle.cluster.get<V1Pod>('v1', 'Pod', p.namespace, p.name);
      if (!pod) throw new Error(`Pod ${p.where} is not there`);
      const asked = parseNetworks(pod.metadata?.annotations?.[NETWORKS], p.namespace).find(
        (sel) => sel.interface === iface,
      );
      const seen = parseNetworkStatus(pod.metadata?.annotations?.[NETWORK_STATUS]).find(
        (e) => e.default !== true && e.interface === iface,
      );
      const observed = {
        observed_ip: seen?.ips?.[0]?.split('/')[0] ?? null,
        observed_mac: seen?.mac ?? null,
        observed_interface: seen?.interface ?? null,
      };
      if (Object.entries(observed).some(([k, v]) => (port[k] ?? null) !== v)) {
        await ctx.models.writeStatus('Port', port.id, { feedback: observed });
      }
      if (!asked && !seen) throw new Error(`Pod ${p.where} has no interface ${iface}`);
      const ip = (seen ? observed.observed_ip : asked?.ips?.[0]) ?? 'no address';
      const mac = (seen ? observed.observed_mac : asked?.mac) ?? 'no MAC';
      const diffs: string[] = [];
      if (!sameIp(ip, port.ip) || !sameMac(mac, port.mac)) {
        diffs.push(`${ip} ${mac} (model ${model})`);
      }
      const state = seen ? '' : ' (asked for, not reported yet)';
      return `interface ${iface} of Pod ${p.where}: ${ip} ${mac}${state}${differences(diffs)}`;
    },

    // Nothing to take off: the interface belongs to the instance's pod (a live, fully managed
    // instance then makes its pod without it, as for any Port that goes).
    release(port: ModelObject): Promise<string> {
      return Promise.resolve(
        `released: Port ${String(port.id)} has no Kubernetes object of its own (its interface is part of its instance's pod)`,
      );
    },

    // Adopted with its pod (adopt.ts): nothing to mark here, the pod step marks the pod.
    adopt(port: ModelObject): Promise<string> {
      return Promise.resolve(
        `adopted: Port ${String(port.id)}'s interface is marked with its instance's pod`,
      );
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
