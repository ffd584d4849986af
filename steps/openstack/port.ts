// Port → its Neutron port, when its instance is a Nova server: made by the server step (which
// needs every port before it boots), reported here, and removed here when the Port goes (Nova
// takes the interface off the running server).
import { Neutron } from '../../backends/openstack/resources.js';
import { NotFoundError } from '../../models/errors.js';
import { sameIp } from '../../models/ipam/address.js';
import type { ModelObject } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import { openstackClusters } from './network.js';
import { openstackPlaceOf } from './placement.js';
import { nameOf, type OpenStackRuntime } from './runtime.js';
import { findPorts } from './server.js';

async function instanceOf(ctx: StepContext, port: ModelObject): Promise<ModelObject | undefined> {
  try {
    return await ctx.models.get('ServiceInstance', port.service_instance_id as number, {
      includeDeleted: true,
    });
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export function portStep(rt: OpenStackRuntime): SyncStep {
  return {
    name: 'openstack/port',
    observes: 'Port',
    // Ports of other clusters' instances (most of them) return at once; a batch lets the
    // other backends' port steps take Ports 500 at a time (a model is batched only when every
    // step of it allows it).
    batch: 500,

    async sync(port: ModelObject, ctx: StepContext): Promise<string> {
      const si = await instanceOf(ctx, port);
      if (!si)
        throw new Error(`its service instance ${String(port.service_instance_id)} does not exist`);
      const place = await openstackPlaceOf(ctx.models, si);
      if (!place) return 'not on OpenStack';
      const id = typeof port.port_id === 'string' ? port.port_id : '';
      if (id && sameIp(port.observed_ip, port.ip)) {
        return `Neutron port ${id} of server ${nameOf(si)} (${String(port.ip)}, ${String(port.observed_mac)})`;
      }
      ctx.enqueue(si.leaf_model, si.id);
      throw new WaitingError(
        `waiting for ${si.leaf_model} ${nameOf(si)} to make its Neutron port on Cluster ${nameOf(place.cluster)}`,
        2000,
      );
    },

    async delete(port: ModelObject, ctx: StepContext): Promise<string> {
      const si = await instanceOf(ctx, port);
      const place = si ? await openstackPlaceOf(ctx.models, si) : undefined;
      const clusters = place
        ? [place.cluster]
        : typeof port.port_id === 'string' && port.port_id
          ? await openstackClusters(ctx.models)
          : [];
      const removed: string[] = [];
      // The server is checked again (an interface Nova still lists is taken off).
      if (si && place && si.deleted_at === null) ctx.enqueue(si.leaf_model, si.id);
      for (const cluster of clusters) {
        const neutron = new Neutron(rt.admin(cluster));
        for (const p of await findPorts(rt, neutron, port.id)) {
          await neutron.deletePort(p.id);
          rt.view(cluster).ports.put(p.id, undefined, Date.now());
          removed.push(p.id);
        }
      }
      return removed.length
        ? `removed Neutron port ${removed.join(', ')}`
        : 'no Neutron port to remove';
    },
  };
}
