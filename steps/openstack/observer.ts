// The OpenStack observer: Nova has no watch, so every `pollMs` it lists this deployment's servers
// on each OpenStack Cluster (one call per Cluster, by tag, every project) and queues the instances
// whose server changed (status, host) or vanished (deleted out of band: booted again by the
// sync), or one of whose Neutron ports vanished (made again and attached by the sync). A server whose owner no longer exists in the database is removed with its ports: tags
// make that exact, and nothing of another deployment's is touched.
import { Neutron, Nova } from '../../backends/openstack/resources.js';
import type { ModelObject } from '../../models/service.js';
import type { StepContext } from '../../synchronizer/engine.js';
import { openstackClusters } from './network.js';
import { SERVER_MODELS } from './placement.js';
import { errorText, nameOf, type OpenStackRuntime } from './runtime.js';

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

  private async pass(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    const clusters = await openstackClusters(ctx.models);
    if (!clusters.length) return;
    const byOwner = new Map<string, ModelObject>();
    for (const model of SERVER_MODELS) {
      // Paged: a deployment may have more VMs than one page.
      let pageToken: string | undefined;
      do {
        const page = await ctx.models.list(model, {
          filter: [{ field: 'server_id', op: 'notnull' }],
          pageSize: 5000,
          ...(pageToken ? { pageToken } : {}),
        });
        for (const si of page.items) byOwner.set(`${si.leaf_model}:${String(si.id)}`, si);
        pageToken = page.nextPageToken ?? undefined;
      } while (pageToken);
    }
    const seen = new Set<string>();
    const neutronPorts = new Set<string>();
    for (const cluster of clusters) {
      const admin = this.rt.admin(cluster);
      for (const p of await new Neutron(admin).ports({ tags: this.rt.instanceTag })) {
        neutronPorts.add(p.id);
      }
      const nova = new Nova(admin);
      const servers = await nova.servers({ tags: this.rt.instanceTag, all_tenants: true });
      for (const server of servers) {
        const owner = this.rt.ownerOf(server.tags);
        if (!owner || !SERVER_MODELS.includes(owner.model)) continue;
        const key = `${owner.model}:${String(owner.id)}`;
        seen.add(key);
        const si = byOwner.get(key);
        if (!si) {
          if (await this.exists(ctx, owner.model, owner.id)) continue;
          // Its owner is gone for good (deleted while Syncord was down, or a database restored
          // from before it was made): remove it and its ports.
          this.rt.log(
            `removing orphaned server ${server.name} (${server.id}) from Cluster ${nameOf(cluster)}`,
          );
          const neutron = new Neutron(admin);
          const ports = await neutron.ports({ device_id: server.id });
          await nova.deleteServer(server.id);
          for (const p of ports) if (this.rt.ownerOf(p.tags)) await neutron.deletePort(p.id);
          continue;
        }
        if (
          si.server_id !== server.id ||
          si.vm_status !== server.status ||
          (si.node_name ?? null) !== (server['OS-EXT-SRV-ATTR:host'] ?? null)
        ) {
          ctx.enqueue(si.leaf_model, si.id);
        }
      }
    }
    // A recorded server no Cluster lists: deleted out of band.
    for (const [key, si] of byOwner) if (!seen.has(key)) ctx.enqueue(si.leaf_model, si.id);
    // A recorded Neutron port no Cluster lists: its instance makes it again and attaches it.
    const gone = new Set<number>();
    let pageToken: string | undefined;
    do {
      const page = await ctx.models.list('Port', {
        filter: [{ field: 'port_id', op: 'notnull' }],
        pageSize: 5000,
        ...(pageToken ? { pageToken } : {}),
      });
      for (const port of page.items) {
        if (!neutronPorts.has(String(port.port_id))) gone.add(port.service_instance_id as number);
      }
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    for (const si of await ctx.models.getMany('ServiceInstance', [...gone])) {
      if (byOwner.has(`${si.leaf_model}:${String(si.id)}`)) ctx.enqueue(si.leaf_model, si.id);
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
