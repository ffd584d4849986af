// The OpenStack observer: Nova has no watch, so every `pollMs` (and once when it starts) it lists
// what this deployment has on each OpenStack Cluster, by tag, in a few calls per Cluster whatever
// the number of VMs: servers (every project), Neutron ports, networks and subnets, Nova's flavors
// and the Glance images the VMs' Images name. The listing becomes the Cluster's view (view.ts),
// which lets a resync of unchanged VMs and networks send OpenStack nothing; and it is compared with
// the model, which queues what differs:
//
// - an instance whose server changed (status, host), vanished (deleted out of band: booted again),
//   runs another flavor or image than its Flavor's and Image's (replaced), one of whose Neutron
//   ports vanished, changed address or MAC, or is no longer on its ACTIVE server (made again or
//   attached by the sync), or whose server has a port of this deployment's that none of its Ports
//   records (taken off);
// - a Network whose recorded Neutron network vanished (forgotten, then made again for its VMs).
//
// A server whose owner no longer exists in the database is removed with its ports: tags make that
// exact, and nothing of another deployment's is touched, nor anything released (deletion_policy
// orphan: its tags are gone, and the server is read again before it is removed). Everything is
// listed by tag, so nothing untagged is ever queued, changed or removed here. A Cluster whose listing fails keeps its
// view (trusted for three poll periods at most, see runtime.ts) and nothing is taken as vanished
// in that pass.
import {
  Glance,
  Neutron,
  Nova,
  type GlanceImage,
  type NeutronPort,
} from '../../backends/openstack/resources.js';
import { sameIp, sameMac } from '../../models/ipam/address.js';
import { listAll, type ModelObject } from '../../models/service.js';
import type { StepContext } from '../../synchronizer/engine.js';
import { openstackClusters } from './network.js';
import { SERVER_MODELS } from './placement.js';
import { errorText, nameOf, type OpenStackRuntime } from './runtime.js';
import { flavorIn, wantedFlavor, wantedImage } from './server.js';
import type { ClusterListing } from './view.js';

export class OpenStackObserver {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private ctx: StepContext | undefined;

  constructor(private readonly rt: OpenStackRuntime) {}

  start(ctx: StepContext): Promise<void> {
    if (this.ctx) return Promise.resolve();
    this.ctx = ctx;
    if (this.rt.pollMs > 0) {
      this.timer = setInterval(() => void this.poll(), this.rt.pollMs);
      this.timer.unref();
      // A first view now rather than a period later (not awaited: starting waits on no cloud).
      void this.poll();
    }
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.ctx = undefined;
    await this.running;
  }

  /** One pass; a pass still running is not started twice. Tests call it to skip the wait. */
  poll(): Promise<void> {
    this.running ??= this.pass()
      .catch((err: unknown) => {
        this.rt.log(`OpenStack observer: ${errorText(err)}`);
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** What this deployment has on the Cluster, listed from now. */
  private async list(cluster: ModelObject, imageNames: Set<string>): Promise<ClusterListing> {
    const begin = Date.now();
    const admin = this.rt.admin(cluster);
    const neutron = new Neutron(admin);
    const nova = new Nova(admin);
    const glance = new Glance(admin);
    const tags = this.rt.instanceTag;
    const [servers, ports, networks, subnets, flavors, images] = await Promise.all([
      nova.servers({ tags, all_tenants: true }),
      neutron.ports({ tags }),
      neutron.networks({ tags }),
      neutron.subnets({ tags }),
      nova.flavors(),
      Promise.all(
        [...imageNames].map(async (name) => [name, (await glance.images({ name }))[0]] as const),
      ),
    ]);
    const found = new Map<string, GlanceImage>();
    for (const [name, image] of images) if (image) found.set(name, image);
    return { begin, servers, ports, networks, subnets, flavors, images: found };
  }

  private async pass(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    const clusters = await openstackClusters(ctx.models);
    if (!clusters.length) return;
    const byOwner = new Map<string, ModelObject>();
    for (const model of SERVER_MODELS) {
      // Every page: a deployment may have more VMs than one page.
      const vms = await listAll(ctx.models, model, {
        filter: [{ field: 'server_id', op: 'notnull' }],
      });
      for (const si of vms) byOwner.set(`${si.leaf_model}:${String(si.id)}`, si);
    }
    const byId = new Map([...byOwner.values()].map((si) => [si.id, si]));
    // The Flavors and Images of the VMs: what their servers should run, and the images to list.
    const ids = (field: string) =>
      [...byOwner.values()]
        .map((si) => si[field])
        .filter((v): v is number => typeof v === 'number');
    const flavors = new Map(
      (await ctx.models.getMany('Flavor', ids('flavor_id'), { includeDeleted: true })).map((f) => [
        f.id,
        f,
      ]),
    );
    const images = new Map(
      (await ctx.models.getMany('Image', ids('image_id'), { includeDeleted: true })).map((i) => [
        i.id,
        i,
      ]),
    );
    const imageNames = new Set(
      [...images.values()].filter((i) => i.kind === 'vm').map((i) => wantedImage(i)),
    );

    const seen = new Set<string>();
    const neutronPorts = new Map<string, NeutronPort>();
    const neutronNetworks = new Set<string>();
    /** This deployment's servers whose instance exists, by server id. */
    const instanceOfServer = new Map<string, ModelObject>();
    let complete = true;
    for (const cluster of clusters) {
      let listing: ClusterListing;
      try {
        listing = await this.list(cluster, imageNames);
      } catch (err) {
        complete = false;
        this.rt.log(`OpenStack observer: Cluster ${nameOf(cluster)}: ${errorText(err)}`);
        continue;
      }
      const view = this.rt.view(cluster);
      view.apply(listing);
      for (const p of listing.ports) neutronPorts.set(p.id, p);
      for (const n of listing.networks) neutronNetworks.add(n.id);
      const admin = this.rt.admin(cluster);
      for (const server of listing.servers) {
        const owner = this.rt.ownerOf(server.tags);
        if (!owner || !SERVER_MODELS.includes(owner.model)) continue;
        const key = `${owner.model}:${String(owner.id)}`;
        seen.add(key);
        const si = byOwner.get(key);
        if (!si) {
          if (await this.exists(ctx, owner.model, owner.id)) continue;
          // Its owner is gone for good (deleted while Syncord was down, or a database restored
          // from before it was made): remove it and its ports. Unless it lost its owner tag since
          // the listing: its owner was deleted with deletion_policy orphan, whose release took
          // the marks off before the row went, and it is no longer Syncord's.
          const nova = new Nova(admin);
          const now = await nova.server(server.id);
          if (
            this.rt.ownerOf(now?.tags)?.model !== owner.model ||
            this.rt.ownerOf(now?.tags)?.id !== owner.id
          ) {
            continue;
          }
          this.rt.log(
            `removing orphaned server ${server.name} (${server.id}) from Cluster ${nameOf(cluster)}`,
          );
          const neutron = new Neutron(admin);
          const ports = await neutron.ports({ device_id: server.id });
          await nova.deleteServer(server.id);
          view.servers.put(server.id, undefined, Date.now());
          for (const p of ports) {
            if (!this.rt.ownerOf(p.tags)) continue;
            await neutron.deletePort(p.id);
            view.ports.put(p.id, undefined, Date.now());
          }
          continue;
        }
        instanceOfServer.set(server.id, si);
        // What the sync would replace: another flavor or image than the model's (as it checks).
        const flavor = flavors.get(si.flavor_id as number);
        const nf = flavor && flavorIn(listing.flavors, wantedFlavor(flavor));
        const runsFlavor = server.flavor?.original_name;
        const image = images.get(si.image_id as number);
        const gi = image?.kind === 'vm' ? listing.images.get(wantedImage(image)) : undefined;
        const runsImage = typeof server.image === 'object' ? server.image.id : undefined;
        if (
          si.server_id !== server.id ||
          si.vm_status !== server.status ||
          (si.node_name ?? null) !== (server['OS-EXT-SRV-ATTR:host'] ?? null) ||
          (nf && runsFlavor !== undefined && runsFlavor !== nf.name) ||
          (gi && runsImage !== undefined && runsImage !== gi.id)
        ) {
          ctx.enqueue(si.leaf_model, si.id);
        }
      }
    }
    // What a Cluster whose listing failed holds is unknown: nothing is taken as vanished.
    if (!complete) return;
    // A recorded server no Cluster lists: deleted out of band. (Not an observed instance's: its
    // server is not Syncord's, untagged, never listed; it is read again on its own period.)
    for (const [key, si] of byOwner) {
      if (!seen.has(key) && si.management_policy !== 'observe') ctx.enqueue(si.leaf_model, si.id);
    }
    // A recorded Neutron port no Cluster lists (its instance makes it again and attaches it), or
    // not as the Port wants it, or not on its instance's ACTIVE server (attached again).
    const differ = new Set<number>();
    const recorded = new Set<string>();
    for (const port of await listAll(ctx.models, 'Port', {
      filter: [{ field: 'port_id', op: 'notnull' }],
    })) {
      const id = String(port.port_id);
      recorded.add(id);
      const np = neutronPorts.get(id);
      const si = byId.get(port.service_instance_id as number);
      if (si?.management_policy === 'observe') continue;
      if (
        !np ||
        (typeof port.ip === 'string' && !sameIp(np.fixed_ips[0]?.ip_address, port.ip)) ||
        (typeof port.mac === 'string' && !sameMac(np.mac_address, port.mac)) ||
        (si?.vm_status === 'ACTIVE' && np.device_id !== si.server_id)
      ) {
        differ.add(port.service_instance_id as number);
      }
    }
    // A port of this deployment's on a server that none of its instance's Ports records.
    for (const np of neutronPorts.values()) {
      const si = instanceOfServer.get(np.device_id);
      if (si && !recorded.has(np.id)) differ.add(si.id);
    }
    for (const id of differ) {
      const si = byId.get(id);
      if (si) ctx.enqueue(si.leaf_model, si.id);
    }
    // A recorded Neutron network no Cluster lists: the network step forgets it.
    for (const net of await listAll(ctx.models, 'Network', {
      filter: [{ field: 'neutron_network_id', op: 'notnull' }],
    })) {
      if (!neutronNetworks.has(String(net.neutron_network_id))) ctx.enqueue('Network', net.id);
    }
  }

  private async exists(ctx: StepContext, model: string, id: number): Promise<boolean> {
    try {
      await ctx.models.get(model, id, { includeDeleted: true });
      return true;
    } catch {
      return false;
    }
  }
}
