// Network → VTN ServiceNetwork: type (the model's VTN network type), segment id (the VNI), subnet,
// service IP (the gateway) and providers (the networks of the services this network's service
// depends on, from ServiceDependency). As XOS's vtn-service did, a network without a segment id
// is not pushed: VTN cannot carry it (the status says so).
//
// Observed (management_policy observe), the service network of that id is read and compared with
// the model, and nothing is written. Released (deletion_policy orphan), it stays as it is but for
// Syncord's three owner annotations; the sweep then leaves it alone (it has no marks).
import { NotFoundError } from '../../models/errors.js';
import { listAll, type ModelObject, type ModelService } from '../../models/service.js';
import type { StepContext, SyncStep } from '../../synchronizer/engine.js';
import type { ServiceNetwork } from '../../backends/vtn/generated/cordvtn/ServiceNetwork.js';
import { marks, vtnNetworkName, withoutMarks } from './names.js';
import { differences } from './observe.js';
import type { VtnObserver } from './observer.js';
import { vtnCall, type VtnRuntime } from './runtime.js';

async function getOrUndefined(
  models: ModelService,
  model: string,
  id: unknown,
): Promise<ModelObject | undefined> {
  if (typeof id !== 'number') return undefined;
  try {
    return await models.get(model, id);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/**
 * The networks a network's instances may reach: for each ServiceDependency whose subscriber is
 * the service of the network's slice, with connect_method `private`, the networks of the
 * provider service's slices (UNIDIRECTIONAL: the subscriber reaches the provider).
 */
export async function providersOf(
  models: ModelService,
  network: ModelObject,
): Promise<ModelObject[]> {
  const slice = await getOrUndefined(models, 'Slice', network.owner_id);
  if (!slice || typeof slice.service_id !== 'number') return [];
  const deps = await listAll(models, 'ServiceDependency', {
    filter: [{ field: 'subscriber_service', value: slice.service_id }],
  });
  const providerServices = deps
    .filter((d) => d.connect_method === 'private')
    .map((d) => d.provider_service_id as number);
  if (providerServices.length === 0) return [];
  const slices = await listAll(models, 'Slice', {
    filter: [{ field: 'service', op: 'in', value: providerServices }],
  });
  if (slices.length === 0) return [];
  const nets = await listAll(models, 'Network', {
    filter: [{ field: 'owner', op: 'in', value: slices.map((s) => s.id) }],
  });
  return nets.filter((n) => n.id !== network.id).sort((a, b) => a.id - b.id);
}

/** A ServiceNetwork as the step sends it: every field set. */
export type WantedNetwork = Required<
  Pick<
    ServiceNetwork,
    'id' | 'name' | 'type' | 'segment_id' | 'subnet' | 'service_ip' | 'annotations'
  >
> & { providers: { id: string; type: 'UNIDIRECTIONAL' | 'BIDIRECTIONAL' }[] };

/** The ServiceNetwork a Network becomes, or why it has none. */
export async function serviceNetworkOf(
  rt: VtnRuntime,
  models: ModelService,
  network: ModelObject,
): Promise<WantedNetwork | string> {
  if (typeof network.segment_id !== 'number') {
    return 'not in VTN: the network has no segment_id (VTN needs its VNI)';
  }
  const providers = await providersOf(models, network);
  return {
    id: vtnNetworkName(rt.instance, network),
    name: typeof network.name === 'string' ? network.name : '',
    type: network.type as NonNullable<ServiceNetwork['type']>,
    segment_id: network.segment_id,
    subnet: String(network.subnet),
    service_ip: typeof network.gateway === 'string' ? network.gateway : '',
    providers: providers.map((p) => ({
      id: vtnNetworkName(rt.instance, p),
      type: 'UNIDIRECTIONAL' as const,
    })),
    annotations: marks(rt.instance, { model: 'Network', id: network.id }),
  };
}

export function networkStep(rt: VtnRuntime, seen: VtnObserver): SyncStep {
  return {
    name: 'vtn/network',
    observes: 'Network',
    batch: 100,

    async sync(network: ModelObject, ctx: StepContext): Promise<string> {
      const want = await serviceNetworkOf(rt, ctx.models, network);
      const id = vtnNetworkName(rt.instance, network);
      if (typeof want === 'string') {
        // Pushed before, when it had a segment id: no longer.
        if (seen.synced && !seen.networks.has(id)) return want;
        const removed = await vtnCall('network', () => rt.client.deleteNetwork(id));
        return removed ? `${want}; removed service network ${id}` : want;
      }
      // VTN has it as wanted already (by the watch's replica): no call.
      if (!seen.hasNetwork(want)) await vtnCall(`network ${id}`, () => rt.client.putNetwork(want));
      const providers = want.providers.length
        ? `, providers ${want.providers.map((p) => p.id).join(', ')}`
        : '';
      return `service network ${id} (${String(want.type)}, VNI ${String(want.segment_id)}, ${want.subnet}${providers})`;
    },

    async delete(network: ModelObject): Promise<string> {
      const id = vtnNetworkName(rt.instance, network);
      const removed = await rt.client.deleteNetwork(id);
      return removed ? `removed service network ${id}` : `no service network ${id} to remove`;
    },

    async observe(network: ModelObject, ctx: StepContext): Promise<string> {
      const id = vtnNetworkName(rt.instance, network);
      const have = await rt.client.getNetwork(id);
      const want = await serviceNetworkOf(rt, ctx.models, network);
      if (!have) {
        // What sync would leave: no service network.
        if (typeof want === 'string') return want;
        throw new Error(`ServiceNetwork ${id} is not there`);
      }
      const ports = await rt.client.listPorts({}, id);
      const providers = have.providers.map((p) => p.id).join(', ');
      const wanted = typeof want === 'string' ? undefined : want;
      return (
        `ServiceNetwork ${id}: ${have.type}, VNI ${have.segment_id}, ${have.subnet}, service IP ${have.service_ip || 'none'}` +
        `${providers ? `, providers ${providers}` : ''}, ${String(ports.length)} port${ports.length === 1 ? '' : 's'}` +
        differences([
          [
            'name',
            have.name,
            wanted?.name ?? (typeof network.name === 'string' ? network.name : ''),
          ],
          ['type', have.type, String(network.type)],
          ['VNI', have.segment_id, wanted ? String(wanted.segment_id) : ''],
          ['subnet', have.subnet, String(network.subnet)],
          ['service IP', have.service_ip, wanted?.service_ip ?? ''],
          ['providers', providers, wanted?.providers.map((p) => p.id).join(', ') ?? ''],
        ])
      );
    },

    async release(network: ModelObject): Promise<string> {
      const id = vtnNetworkName(rt.instance, network);
      const have = await rt.client.getNetwork(id);
      if (!have) return `no service network ${id} to release`;
      const annotations = withoutMarks(
        rt.instance,
        { model: 'Network', id: network.id },
        have.annotations,
      );
      if (!annotations) return `service network ${id} carries no owner annotations of this network`;
      // The network as VTN has it, but for the marks.
      await rt.reannotateNetwork(have, annotations);
      return `released service network ${id}: owner annotations removed`;
    },

    /** Providers follow ServiceDependency and the slices' services. */
    async affectedBy(change, ctx): Promise<number[]> {
      if (change.model !== 'ServiceDependency' && change.model !== 'Slice') return [];
      return (await listAll(ctx.models, 'Network')).map((n) => n.id);
    },
  };
}
