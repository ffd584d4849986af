// Port → its Neutron port, when its instance is a Nova server: made by the server step (which
// needs every port before it boots), reported here, and removed here when the Port goes (Nova
// takes the interface off the running server).
//
// Observed (management_policy observe): the Neutron port of the Port's name on its instance's
// Cluster, compared with the Port (address, MAC, network); its id, address and MAC are recorded
// as the server step records them. Released (deletion_policy orphan): the Neutron port loses its
// owner tags and Syncord's name (runtime.ts releasedName) and stays, attached as it was; its
// network and server keep their own owners' marks.
//
// Adopted (adopt.ts: backend_handle `{"openstack/Port": <id>}`): the Neutron port is found by
// that id instead of Syncord's name, and keeps its name when released.
import { Neutron } from '../../backends/openstack/resources.js';
import { NotFoundError } from '../../models/errors.js';
import { sameIp, sameMac } from '../../models/ipam/address.js';
import type { ModelObject } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import { openstackClusters } from './network.js';
import { openstackPlaceOf } from './placement.js';
import { handleOf, nameOf, releasedName, type OpenStackRuntime } from './runtime.js';
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

    async observe(port: ModelObject, ctx: StepContext): Promise<string> {
      const si = await instanceOf(ctx, port);
      if (!si)
        throw new Error(`its service instance ${String(port.service_instance_id)} does not exist`);
      const place = await openstackPlaceOf(ctx.models, si);
      if (!place) return 'not on OpenStack';
      const lookup = rt.lookup(port, 'Port');
      const name = 'id' in lookup ? lookup.id : lookup.name;
      const neutron = new Neutron(rt.admin(place.cluster));
      const [np, ...more] = await neutron.ports(lookup);
      if (!np) {
        throw new Error(`Neutron port ${name} is not there on Cluster ${nameOf(place.cluster)}`);
      }
      const ips = np.fixed_ips.map((f) => f.ip_address);
      const differs: string[] = [];
      if (typeof port.ip === 'string' && (ips.length !== 1 || !sameIp(ips[0], port.ip))) {
        differs.push(`address ${ips.join(' ') || 'none'} (model ${port.ip})`);
      }
      if (typeof port.mac === 'string' && !sameMac(np.mac_address, port.mac)) {
        differs.push(`MAC ${np.mac_address} (model ${port.mac.toLowerCase()})`);
      }
      const network = await ctx.models.get('Network', port.network_id as number, {
        includeDeleted: true,
      });
      const netLookup = rt.lookup(network, 'Network');
      const netName = 'id' in netLookup ? netLookup.id : netLookup.name;
      const nets = await neutron.networks(netLookup);
      if (!nets.some((n) => n.id === np.network_id)) {
        differs.push(`network ${np.network_id} (model ${netName})`);
      }
      const ip = ips[0] ?? null;
      if (
        port.port_id !== np.id ||
        !sameIp(port.observed_ip, ip) ||
        !sameMac(port.observed_mac, np.mac_address)
      ) {
        await ctx.models.setStatus('Port', port.id, {
          feedback: { port_id: np.id, observed_ip: ip, observed_mac: np.mac_address },
        });
      }
      const where = np.device_id
        ? `on ${np.device_owner || 'device'} ${np.device_id}`
        : 'unattached';
      return `Neutron port ${name} (${np.id}) on Cluster ${nameOf(place.cluster)}: ${ips.join(' ') || 'no address'}, ${np.mac_address}, ${np.status}, ${where}${more.length ? `, and ${String(more.length)} more of that name` : ''}${differs.length ? `; differs from the model: ${differs.join(', ')}` : ''}`;
    },

    async release(port: ModelObject, ctx: StepContext): Promise<string> {
      const si = await instanceOf(ctx, port);
      const place = si ? await openstackPlaceOf(ctx.models, si) : undefined;
      const clusters = place
        ? [place.cluster]
        : typeof port.port_id === 'string' && port.port_id
          ? await openstackClusters(ctx.models)
          : [];
      const owner = { model: 'Port', id: port.id };
      const name = rt.nameFor(owner);
      const released: string[] = [];
      for (const cluster of clusters) {
        const neutron = new Neutron(rt.admin(cluster));
        // The ports delete() would remove (findPorts: by the name, with the owner's tag or
        // none), and one a release cut short left with the instance tag alone.
        for (const p of await neutron.ports(rt.lookup(port, 'Port'))) {
          if (!rt.releasable(p.tags, owner)) continue;
          for (const tag of rt.marksIn(p.tags, owner)) await neutron.untag('ports', p.id, tag);
          // An adopted port keeps the name it came with.
          const renamed = rt.releasedNameOf(port, 'Port', p.name);
          if (renamed !== p.name) await neutron.rename('ports', p.id, renamed);
          rt.view(cluster).ports.put(p.id, undefined, Date.now());
          released.push(p.id);
        }
      }
      return released.length
        ? `released Neutron port ${released.join(', ')}: owner tags removed${handleOf(port, 'Port') ? '' : `, renamed ${releasedName(name)}`}`
        : 'no Neutron port to release';
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
        for (const p of await findPorts(rt, neutron, port)) {
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
