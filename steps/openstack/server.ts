// An OpenStackServiceInstance, or a VNFServiceInstance with workload vm, whose slice's Cluster is
// of kind openstack → a Nova server in the project of the slice's trust domain, booted on Neutron
// ports Syncord makes first, one per Port, with the Port's IPAM address and MAC, on the Neutron
// network that stands for the Port's Network (network.ts); the Flavor's flavor (by its `flavor`
// name, else its name), the Image from Glance (by its `path`, else its name), and the instance's
// user data (an OpenStackServiceInstance's user_data; a VNF's config).
//
// Crash safety: every object is looked up by its name and owner tag before it is made, so a create
// whose answer was lost (a crash, a timeout) is found on the retry, never made twice; ports are
// made before the server, and the server is booted only once all of them exist. A crash between
// the two leaves tagged ports that the retry finds and boots on; a crash after the boot finds the
// server. Nova keeps ports it was given when the server goes (they are Syncord's to remove).
//
// State: the server's status (BUILD, ACTIVE, ERROR) and fault message into vm_status and
// vm_message, its compute host into node_name, its id into server_id, and each port's id,
// address and MAC into the Port. The instance is pending while the server builds and ok once it is
// ACTIVE on its ports; a server in ERROR is reported with Nova's fault, then removed and booted
// again on the retry. A server deleted out of band is booted again (the observer notices within its
// poll period, the periodic resync in any case).
//
// A VM that the Cluster's view (view.ts: the observer's last poll, patched with what this step saw
// and did since) shows exactly as the model wants it is ok with no request to OpenStack: a periodic
// resync of unchanged VMs sends none. Anything else goes the full way above, whose lookups and
// writes are patched into the view.
//
// Observed (management_policy observe): the server of the instance's name on its slice's Cluster
// (any project), compared with the model (flavor, image, the Ports' addresses); its status, host
// and id are recorded as the sync records them. Released (deletion_policy orphan): the server
// loses its owner tags, its `syncord-owner` metadata and Syncord's name (runtime.ts releasedName),
// and so do the Neutron ports of the instance's Ports (released by the port step already when
// the Ports went with the instance); it keeps running on them as it was.
//
// Adopted (adopt.ts: backend_handle `{"openstack/Server": <id>}`): the server is found by that id
// as well as by Syncord's name (a server the step boots for it later, to replace it, has that
// name), keeps its own name, also when released, and is compared as any other (the adoption
// offers only servers this step would leave as they are).
import { OpenStackError } from '../../backends/openstack/client.js';
import { failpoint } from '../../backends/failpoint.js';
import {
  Glance,
  Neutron,
  Nova,
  type NeutronPort,
  type NovaFlavor,
  type NovaServer,
} from '../../backends/openstack/resources.js';
import { sameIp, sameMac } from '../../models/ipam/address.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import { ensureNeutronNetwork, neutronPlaceInView, openstackClusters } from './network.js';
import { openstackPlaceOf, type OpenStackPlace } from './placement.js';
import { portsOf } from '../kubernetes/networks.js';
import { referenced } from '../kubernetes/runtime.js';
import { handleOf, nameOf, releasedName, type OpenStackRuntime, type Owner } from './runtime.js';

const ownerOf = (si: ModelObject): Owner => ({ model: si.leaf_model, id: si.id });

/** The instance's user data: an OpenStackServiceInstance's user_data, a VNF's config. */
export function userDataOf(si: ModelObject): string | undefined {
  if (typeof si.user_data === 'string' && si.user_data) return si.user_data;
  const config = si.config;
  if (config == null) return undefined;
  // JSON is YAML: cloud-init reads an object given as JSON after its header line.
  return typeof config === 'string' ? config : `#cloud-config\n${JSON.stringify(config)}\n`;
}

/** This deployment's server of the instance on a Cluster (any project), if any. */
export async function findServers(
  rt: OpenStackRuntime,
  nova: Nova,
  owner: Owner,
): Promise<NovaServer[]> {
  const name = rt.nameFor(owner);
  // Nova takes `name` as a regular expression; the tag filter makes the match exact.
  const servers = await nova.servers({
    name: `^${name}$`,
    tags: rt.ownerTag(owner),
    all_tenants: true,
  });
  return servers.filter((s) => s.name === name && s.status !== 'DELETED');
}

/**
 * The instance's servers on a Cluster (any project): an adopted one by its handle's id (unless
 * another owner's), first, and those this deployment booted for it (by name and owner tag).
 */
export async function serversOf(
  rt: OpenStackRuntime,
  nova: Nova,
  si: ModelObject,
): Promise<NovaServer[]> {
  const owner = ownerOf(si);
  const servers = await findServers(rt, nova, owner);
  const id = handleOf(si, 'Server');
  if (!id || servers.some((s) => s.id === id)) return servers;
  const adopted = await nova.server(id);
  if (!adopted || adopted.status === 'DELETED' || !rt.releasable(adopted.tags, owner)) {
    return servers;
  }
  return [adopted, ...servers];
}

/**
 * This deployment's Neutron port of a Port, by name (or an adopted one's id) and tag (or by name
 * alone, untagged).
 */
export async function findPorts(
  rt: OpenStackRuntime,
  neutron: Neutron,
  port: ModelObject,
): Promise<NeutronPort[]> {
  const owner = { model: 'Port', id: port.id };
  const name = rt.nameFor(owner);
  // An adopted port by its handle's id, and by Syncord's name the one made in its stead when
  // it had gone stale (its address, MAC or network no longer the model's).
  const ports = await neutron.ports({ name });
  if (handleOf(port, 'Port')) {
    for (const p of await neutron.ports(rt.lookup(port, 'Port'))) {
      if (!ports.some((q) => q.id === p.id)) ports.unshift(p);
    }
  }
  // Untagged: made by a create whose tag call never ran (a crash between the two).
  return ports.filter((p) => p.tags.includes(rt.ownerTag(owner)) || p.tags.length === 0);
}

/**
 * A server in ERROR with its fault: Nova records the state before the fault, so a server seen
 * in ERROR without one is read again for a few seconds.
 */
async function withFault(nova: Nova, server: NovaServer): Promise<NovaServer> {
  let current = server;
  for (let i = 0; i < 10 && !current.fault?.message; i++) {
    await new Promise((r) => setTimeout(r, 300));
    current = (await nova.server(current.id)) ?? current;
  }
  return current;
}

/** Waits (up to `ms`) for Nova to finish deleting the servers. */
async function awaitGone(nova: Nova, ids: string[], ms = 30_000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    const left = [];
    for (const id of ids) if (await nova.server(id)) left.push(id);
    if (!left.length) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

// (A type, not an interface: a feedback write takes a record.)
type ServerFeedback = {
  server_id: string | null;
  vm_status: string | null;
  vm_message: string | null;
  node_name: string | null;
};

const recorded = (si: ModelObject, fb: ServerFeedback): boolean =>
  (si.server_id ?? null) === fb.server_id &&
  (si.vm_status ?? null) === fb.vm_status &&
  (si.vm_message ?? null) === fb.vm_message &&
  (si.node_name ?? null) === fb.node_name;

export async function writeFeedback(
  ctx: StepContext,
  si: ModelObject,
  fb: ServerFeedback,
): Promise<void> {
  if (recorded(si, fb)) return;
  await ctx.models.setStatus(si.leaf_model, si.id, { feedback: fb });
}

export const feedbackOf = (server: NovaServer | undefined): ServerFeedback => ({
  server_id: server?.id ?? null,
  vm_status: server?.status ?? null,
  vm_message: server?.status === 'ERROR' ? (server.fault?.message ?? 'no fault given') : null,
  node_name: server?.['OS-EXT-SRV-ATTR:host'] ?? null,
});

/**
 * Removes the instance's server and its ports from a Cluster: the server (found by name and tag
 * in any project), then the Neutron ports of its Ports and any other port of this deployment's on
 * the server.
 */
async function removeFrom(
  rt: OpenStackRuntime,
  cluster: ModelObject,
  si: ModelObject,
  ports: readonly ModelObject[],
): Promise<string[]> {
  const admin = rt.admin(cluster);
  const nova = new Nova(admin);
  const neutron = new Neutron(admin);
  const view = rt.view(cluster);
  const removed: string[] = [];
  const servers = await serversOf(rt, nova, si);
  const neutronPorts = new Map<string, NeutronPort>();
  for (const s of servers) {
    for (const p of await neutron.ports({ device_id: s.id })) {
      if (rt.ownerOf(p.tags)) neutronPorts.set(p.id, p);
    }
  }
  for (const port of ports) {
    for (const p of await findPorts(rt, neutron, port)) neutronPorts.set(p.id, p);
  }
  for (const s of servers) {
    await nova.deleteServer(s.id);
    removed.push(`server ${s.name} (${s.id})`);
  }
  if (
    servers.length &&
    !(await awaitGone(
      nova,
      servers.map((s) => s.id),
    ))
  ) {
    throw new WaitingError(`waiting for Nova to delete server ${rt.nameFor(ownerOf(si))}`, 2000);
  }
  for (const s of servers) view.servers.put(s.id, undefined, Date.now());
  for (const p of neutronPorts.values()) {
    await neutron.deletePort(p.id);
    view.ports.put(p.id, undefined, Date.now());
    removed.push(`port ${p.id} (${p.fixed_ips.map((f) => f.ip_address).join(', ')})`);
  }
  return removed;
}

/** The instance's servers found by its name on the Cluster (any project), tagged or not. */
async function serversNamed(nova: Nova, name: string): Promise<NovaServer[]> {
  // Nova takes `name` as a regular expression (the names Syncord makes have no special character).
  const servers = await nova.servers({ name: `^${name}$`, all_tenants: true });
  return servers.filter((s) => s.name === name && s.status !== 'DELETED');
}

/**
 * Takes Syncord's marks off the instance's server and the Neutron ports of its Ports on a
 * Cluster: owner tags, the `syncord-owner` metadata and the names. Another owner's objects (tagged
 * so) stay as they are.
 */
async function releaseFrom(
  rt: OpenStackRuntime,
  cluster: ModelObject,
  si: ModelObject,
  ports: readonly ModelObject[],
): Promise<string[]> {
  const admin = rt.admin(cluster);
  const nova = new Nova(admin);
  const neutron = new Neutron(admin);
  const view = rt.view(cluster);
  const owner = ownerOf(si);
  const name = rt.nameFor(owner);
  const released: string[] = [];
  // The ports first: a release cut short finds the server by its name again.
  for (const port of ports) {
    const portOwner = { model: 'Port', id: port.id };
    for (const p of await neutron.ports(rt.lookup(port, 'Port'))) {
      if (!rt.releasable(p.tags, portOwner)) continue;
      for (const tag of rt.marksIn(p.tags, portOwner)) await neutron.untag('ports', p.id, tag);
      const renamed = rt.releasedNameOf(port, 'Port', p.name);
      if (renamed !== p.name) await neutron.rename('ports', p.id, renamed);
      view.ports.put(p.id, undefined, Date.now());
      released.push(`port ${p.id}`);
    }
  }
  const servers = await serversNamed(nova, name);
  // An adopted one by its id (it has its own name).
  const adopted = handleOf(si, 'Server');
  if (adopted && !servers.some((s) => s.id === adopted)) {
    const s = await nova.server(adopted);
    if (s && s.status !== 'DELETED') servers.push(s);
  }
  for (const s of servers) {
    if (!rt.releasable(s.tags, owner)) continue;
    for (const tag of rt.marksIn(s.tags, owner)) await nova.untag(s.id, tag);
    if (s.metadata['syncord-owner'] === `${owner.model}:${String(owner.id)}`) {
      await nova.deleteMetadata(s.id, 'syncord-owner');
    }
    // An adopted server keeps the name it came with.
    if (s.name === name) await nova.rename(s.id, releasedName(name));
    view.servers.put(s.id, undefined, Date.now());
    released.push(`server ${s.id}`);
  }
  return released;
}

/** The Nova flavor a Flavor names: its `flavor` (a name or an id), else its name. */
export const wantedFlavor = (flavor: ModelObject): string =>
  typeof flavor.flavor === 'string' && flavor.flavor ? flavor.flavor : nameOf(flavor);

/** Nova's flavor of that name or id among those listed. */
export const flavorIn = (flavors: readonly NovaFlavor[], wanted: string): NovaFlavor | undefined =>
  flavors.find((f) => f.name === wanted || f.id === wanted);

/** The Glance image an Image names: its `path`, else its name. */
export const wantedImage = (image: ModelObject): string =>
  typeof image.path === 'string' && image.path ? image.path : nameOf(image);

/** The Flavor's Nova flavor, or an error naming the Flavor and what the cloud has. */
async function novaFlavor(
  rt: OpenStackRuntime,
  nova: Nova,
  cluster: ModelObject,
  models: ModelService,
  si: ModelObject,
): Promise<{ id: string; name: string }> {
  if (typeof si.flavor_id !== 'number') {
    throw new Error(
      `${si.leaf_model} ${nameOf(si)} has no flavor: a server on OpenStack needs one`,
    );
  }
  const flavor = await referenced(models, 'Flavor', si.flavor_id, 'its flavor');
  const wanted = wantedFlavor(flavor);
  const listed = Date.now();
  const flavors = await nova.flavors();
  rt.view(cluster).putFlavors(flavors, listed);
  const found = flavorIn(flavors, wanted);
  if (!found) {
    throw new Error(
      `Flavor ${nameOf(flavor)}: OpenStack Cluster ${nameOf(cluster)} has no flavor ${wanted} (it has ${
        flavors
          .map((f) => f.name)
          .sort()
          .join(', ') || 'none'
      })`,
    );
  }
  return found;
}

/** The Image's Glance image, or an error naming the Image. */
async function glanceImage(
  rt: OpenStackRuntime,
  glance: Glance,
  cluster: ModelObject,
  models: ModelService,
  si: ModelObject,
): Promise<{ id: string; name: string }> {
  const image = await referenced(models, 'Image', si.image_id, 'its image');
  if (image.kind !== 'vm') {
    throw new Error(
      `Image ${nameOf(image)} is a container image; a server on OpenStack needs an image of kind vm`,
    );
  }
  const wanted = wantedImage(image);
  const listed = Date.now();
  const found = (await glance.images({ name: wanted }))[0];
  rt.view(cluster).images.put(wanted, found, listed);
  if (!found) {
    throw new Error(
      `Image ${nameOf(image)}: OpenStack Cluster ${nameOf(cluster)} has no image ${wanted} in Glance`,
    );
  }
  if (found.status !== 'active') {
    throw new WaitingError(`waiting for Glance image ${wanted} to become active (${found.status})`);
  }
  return found;
}

/** Each Port's Neutron port on the Cluster, made when missing, in the trust domain's project. */
async function ensurePorts(
  rt: OpenStackRuntime,
  place: OpenStackPlace,
  projectId: string,
  ports: readonly ModelObject[],
  ctx: StepContext,
): Promise<{ neutronPorts: NeutronPort[]; made: string[] }> {
  const neutron = new Neutron(rt.admin(place.cluster));
  const view = rt.view(place.cluster);
  const made: string[] = [];
  const out: NeutronPort[] = [];
  for (const port of ports) {
    if (typeof port.ip !== 'string' || typeof port.mac !== 'string') {
      throw new WaitingError(
        `waiting for Port ${String(port.id)} to get its address and MAC`,
        1000,
      );
    }
    const network = await referenced(
      ctx.models,
      'Network',
      port.network_id,
      `Port ${String(port.id)}'s network`,
    );
    const net = await ensureNeutronNetwork(rt, place.cluster, network, ctx);
    made.push(...net.made);
    const owner = { model: 'Port', id: port.id };
    const mac = port.mac.toLowerCase();
    const found = await rt.locks.exclusive(
      `${String(place.cluster.id)}/Port/${String(port.id)}`,
      async () => {
        const lookedUp = Date.now();
        let existing = await findPorts(rt, neutron, port);
        // A port whose address, MAC or network is no longer the model's is made again.
        const stale = existing.filter(
          (p) =>
            p.network_id !== net.network.id ||
            p.mac_address.toLowerCase() !== mac ||
            p.fixed_ips.length !== 1 ||
            !sameIp(p.fixed_ips[0]?.ip_address, port.ip),
        );
        for (const p of stale) {
          await neutron.deletePort(p.id);
          view.ports.put(p.id, undefined, Date.now());
          made.push(`removed stale port ${p.id}`);
        }
        existing = existing.filter((p) => !stale.includes(p));
        const [keep, ...extra] = existing;
        for (const p of extra) {
          await neutron.deletePort(p.id);
          view.ports.put(p.id, undefined, Date.now());
        }
        if (keep) {
          if (!keep.tags.includes(rt.ownerTag(owner))) {
            // (Added to the tags it has: an adopted port keeps its own.)
            const all = [...new Set([...keep.tags, ...rt.tagsFor(owner)])];
            await neutron.tag('ports', keep.id, all);
            const tagged = { ...keep, tags: all };
            view.ports.put(keep.id, tagged, lookedUp);
            return tagged;
          }
          view.ports.put(keep.id, keep, lookedUp);
          return keep;
        }
        try {
          const p = await neutron.createPort({
            network_id: net.network.id,
            name: rt.nameFor(owner),
            mac_address: mac,
            fixed_ips: [{ subnet_id: net.subnet.id, ip_address: String(port.ip) }],
            tags: rt.tagsFor(owner),
            project_id: projectId,
            // Pods' ports have no security groups either: traffic between pods and VMs on the
            // network flows as on one switch.
            port_security_enabled: false,
            description: `Port ${String(port.id)} of ${nameOf(port)}, made by Syncord`,
          });
          view.ports.put(p.id, p, Date.now());
          made.push(`port ${p.id} (${String(port.ip)})`);
          return p;
        } catch (err) {
          if (err instanceof OpenStackError && err.conflict) {
            throw new Error(
              `Neutron refused Port ${String(port.id)}'s address ${String(port.ip)} / MAC ${mac} on network ${net.network.id}: ${err.message}`,
              { cause: err },
            );
          }
          throw err;
        }
      },
    );
    out.push(found);
    // The Port's own steps (OVN leaves it to Neutron, VTN records it) run again.
    if (await recordNeutronPort(ctx, port, found)) ctx.enqueue('Port', port.id);
  }
  return { neutronPorts: out, made };
}

/** A Port's Neutron port (its id, address and MAC) into its feedback; whether that changed it. */
export async function recordNeutronPort(
  ctx: StepContext,
  port: ModelObject,
  np: NeutronPort,
): Promise<boolean> {
  const ip = np.fixed_ips[0]?.ip_address ?? null;
  if (
    port.port_id === np.id &&
    sameIp(port.observed_ip, ip) &&
    sameMac(port.observed_mac, np.mac_address)
  ) {
    return false;
  }
  await ctx.models.setStatus('Port', port.id, {
    feedback: { port_id: np.id, observed_ip: ip, observed_mac: np.mac_address },
  });
  return true;
}

/** What the step says of a server that runs as the model wants it. */
function activeSentence(
  server: NovaServer,
  flavor: { name: string },
  image: { name: string },
  ports: number,
): string {
  const host = server['OS-EXT-SRV-ATTR:host'] ?? 'an unknown host';
  return `server ${server.name} ACTIVE on ${host} (${flavor.name}, ${image.name}, ${String(ports)} port${ports === 1 ? '' : 's'})`;
}

/**
 * The sync of a VM that the Cluster's fresh view (view.ts) shows exactly as the model wants it:
 * its one server, the recorded one, ACTIVE, with the Flavor's Nova flavor and the Image's Glance
 * image; each Port's recorded Neutron port, its only one, with the Port's address and MAC as
 * recorded, on its Network's recorded Neutron network and subnet, attached to the server; no other
 * port of this deployment's on the server. Its sentence, with no request to OpenStack (the
 * server's status and host are written from the view if the instance records others, as the full
 * way writes them from its read); undefined when anything is missing or differs (the sync then
 * goes the full way, with lookups).
 */
async function steadyInView(
  rt: OpenStackRuntime,
  cluster: ModelObject,
  si: ModelObject,
  ctx: StepContext,
): Promise<string | undefined> {
  if (!rt.trustedView(cluster)) return undefined;
  if (
    typeof si.server_id !== 'string' ||
    typeof si.flavor_id !== 'number' ||
    typeof si.image_id !== 'number'
  ) {
    return undefined;
  }
  // The model first (database reads), then the view, read at once.
  const flavor = await referenced(ctx.models, 'Flavor', si.flavor_id, 'its flavor');
  const image = await referenced(ctx.models, 'Image', si.image_id, 'its image');
  if (image.kind !== 'vm') return undefined;
  const ports = await portsOf(ctx.models, si);
  const networks = new Map<unknown, ModelObject>();
  for (const port of ports) {
    if (!networks.has(port.network_id)) {
      networks.set(
        port.network_id,
        await referenced(
          ctx.models,
          'Network',
          port.network_id,
          `Port ${String(port.id)}'s network`,
        ),
      );
    }
  }
  const view = rt.trustedView(cluster);
  if (!view) return undefined;

  const nf = flavorIn(view.flavors ?? [], wantedFlavor(flavor));
  const gi = view.images.get(wantedImage(image));
  if (!nf || gi?.status !== 'active') return undefined;
  const owner = ownerOf(si);
  const name = rt.nameFor(owner);
  const adopted = handleOf(si, 'Server');
  const servers = view.servers
    .group(rt.ownerTag(owner))
    .filter((s) => (s.name === name || s.id === adopted) && s.status !== 'DELETED');
  const server = servers[0];
  if (servers.length !== 1 || !server || server.id !== si.server_id) return undefined;
  if (server.status !== 'ACTIVE') return undefined;
  if (server.flavor?.original_name !== nf.name) return undefined;
  if ((typeof server.image === 'object' ? server.image.id : undefined) !== gi.id) return undefined;

  const attached = new Set<string>();
  for (const port of ports) {
    const network = networks.get(port.network_id);
    const net = network && neutronPlaceInView(rt, view, network);
    if (!net) return undefined;
    if (
      typeof port.port_id !== 'string' ||
      typeof port.ip !== 'string' ||
      typeof port.mac !== 'string'
    ) {
      return undefined;
    }
    const portOwner = { model: 'Port', id: port.id };
    const mine = view.ports.group(rt.ownerTag(portOwner));
    const np = mine[0];
    if (
      mine.length !== 1 ||
      np?.id !== port.port_id ||
      !rt.isNamed(port, 'Port', np) ||
      np.network_id !== net.network.id ||
      np.device_id !== server.id ||
      np.mac_address.toLowerCase() !== port.mac.toLowerCase() ||
      np.fixed_ips.length !== 1 ||
      !sameIp(np.fixed_ips[0]?.ip_address, port.ip) ||
      !sameIp(port.observed_ip, port.ip) ||
      !sameMac(port.observed_mac, np.mac_address)
    ) {
      return undefined;
    }
    attached.add(np.id);
  }
  if (view.ports.group(`device:${server.id}`).some((p) => !attached.has(p.id))) return undefined;
  await writeFeedback(ctx, si, feedbackOf(server));
  return activeSentence(server, nf, gi, ports.length);
}

/**
 * Where an instance's servers may be, for a teardown or a release: its OpenStack Cluster, or, when
 * it has none any more but booted a server once, every OpenStack Cluster; and its Ports (deleted
 * ones too: they go with it).
 */
async function whereServersMayBe(
  ctx: StepContext,
  si: ModelObject,
): Promise<{ clusters: ModelObject[]; ports: ModelObject[] }> {
  const place = await openstackPlaceOf(ctx.models, si);
  const clusters = place
    ? [place.cluster]
    : typeof si.server_id === 'string' && si.server_id
      ? await openstackClusters(ctx.models)
      : [];
  const ports = await ctx.models.list('Port', {
    filter: [{ field: 'service_instance', value: si.id }],
    includeDeleted: true,
    pageSize: 5000,
  });
  return { clusters, ports: ports.items };
}

export function serverStep(rt: OpenStackRuntime, model: string): SyncStep {
  return {
    name: `openstack/server:${model}`,
    observes: model,

    // A Port added to the instance queues it (the port step, until its Neutron port exists); a
    // Port removed takes its Neutron port with it (Nova detaches the interface).

    // An edited Flavor or Image (another flavor name, another Glance image) replaces the servers
    // of the instances using it.
    async affectedBy(change, ctx): Promise<number[]> {
      if (change.status || (change.model !== 'Flavor' && change.model !== 'Image')) return [];
      const page = await ctx.models.list(model, {
        filter: [{ field: change.model === 'Flavor' ? 'flavor' : 'image', value: change.id }],
        pageSize: 5000,
      });
      return page.items.map((si) => si.id);
    },

    async sync(si: ModelObject, ctx: StepContext): Promise<string> {
      const place = await openstackPlaceOf(ctx.models, si, { fresh: true });
      if (!place) {
        // Moved off OpenStack: nothing of it is left there.
        const removed: string[] = [];
        if (typeof si.server_id === 'string' && si.server_id) {
          const ports = await portsOf(ctx.models, si);
          for (const cluster of await openstackClusters(ctx.models)) {
            removed.push(...(await removeFrom(rt, cluster, si, ports)));
          }
          await writeFeedback(ctx, si, feedbackOf(undefined));
        }
        return `no Nova server: it does not run on an OpenStack cluster${removed.length ? ` (removed ${removed.join(', ')})` : ''}`;
      }
      const { cluster, slice } = place;
      const steady = await steadyInView(rt, cluster, si, ctx);
      if (steady) return steady;
      const td = await referenced(
        ctx.models,
        'TrustDomain',
        slice.trust_domain_id,
        `slice ${nameOf(slice)}'s trust domain`,
      );
      const scope = await rt.project(cluster, td);
      const admin = rt.admin(cluster);
      const novaAdmin = new Nova(admin);
      const view = rt.view(cluster);
      const flavor = await novaFlavor(rt, novaAdmin, cluster, ctx.models, si);
      const image = await glanceImage(rt, new Glance(admin), cluster, ctx.models, si);
      const ports = await portsOf(ctx.models, si);
      const owner = ownerOf(si);
      const name = rt.nameFor(owner);
      return rt.locks.exclusive(
        `${String(cluster.id)}/${owner.model}/${String(owner.id)}`,
        async () => {
          const { neutronPorts, made } = await ensurePorts(rt, place, scope.projectId, ports, ctx);
          const wanted = new Set(neutronPorts.map((p) => p.id));
          const [first, ...extra] = await serversOf(rt, novaAdmin, si);
          let server: NovaServer | undefined = first;
          for (const s of extra) {
            await novaAdmin.deleteServer(s.id);
            view.servers.put(s.id, undefined, Date.now());
          }

          if (server?.status === 'ERROR') server = await withFault(novaAdmin, server);
          // A server that failed, or whose flavor or image is no longer the model's, is replaced.
          const imageId = typeof server?.image === 'object' ? server.image.id : undefined;
          const replace =
            server?.status === 'ERROR'
              ? `it went to ERROR: ${server.fault?.message ?? 'Nova gave no fault'}`
              : server &&
                  server.flavor?.original_name !== undefined &&
                  server.flavor.original_name !== flavor.name
                ? `its flavor is ${server.flavor.original_name}, not ${flavor.name}`
                : server && imageId !== undefined && imageId !== image.id
                  ? `its image is ${imageId}, not ${image.name}`
                  : undefined;
          if (server && replace) {
            await writeFeedback(ctx, si, feedbackOf(server));
            await novaAdmin.deleteServer(server.id);
            view.servers.put(server.id, undefined, Date.now());
            const gone = await awaitGone(novaAdmin, [server.id]);
            if (server.status === 'ERROR') {
              throw new Error(
                `server ${name} failed (${replace}); it is booted again on the retry`,
              );
            }
            if (!gone)
              throw new WaitingError(
                `waiting for Nova to delete server ${name} (${replace})`,
                2000,
              );
            made.push(`removed server ${server.id} (${replace})`);
            server = undefined;
          }

          if (!server) {
            // A crash test's point: every port made, the server not yet booted.
            failpoint('openstack-before-boot');
            const created = await new Nova(scope.session).createServer({
              name,
              flavorRef: flavor.id,
              imageRef: image.id,
              ports: neutronPorts.map((p) => p.id),
              userData: userDataOf(si),
              metadata: { 'syncord-owner': `${owner.model}:${String(owner.id)}` },
              tags: rt.tagsFor(owner),
            });
            await writeFeedback(ctx, si, {
              server_id: created.id,
              vm_status: 'BUILD',
              vm_message: null,
              node_name: null,
            });
            throw new WaitingError(
              `booting server ${name} (${created.id}) with ${flavor.name} and ${image.name} on ${String(neutronPorts.length)} port${neutronPorts.length === 1 ? '' : 's'}${made.length ? `; made ${made.join(', ')}` : ''}`,
              1000,
            );
          }
          // Re-read with the admin's view (host and fault).
          const read = Date.now();
          const found = server;
          server = (await novaAdmin.server(server.id)) ?? server;
          // (Found by its owner tag: it has it, whether or not this answer lists tags.)
          view.servers.put(server.id, { ...server, tags: server.tags ?? found.tags }, read);
          await writeFeedback(ctx, si, feedbackOf(server));
          if (server.status !== 'ACTIVE') {
            throw new WaitingError(
              `waiting for server ${name} to become ACTIVE (it is ${server.status})`,
              1000,
            );
          }

          // Interfaces: the model's ports attached, this deployment's other ports taken off.
          const listed = Date.now();
          const attached = await novaAdmin.interfaces(server.id);
          const changes: string[] = [];
          for (const p of neutronPorts) {
            if (attached.some((a) => a.port_id === p.id)) continue;
            await novaAdmin.attachPort(server.id, p.id);
            changes.push(`attached port ${p.id}`);
          }
          const neutron = new Neutron(admin);
          for (const a of attached) {
            if (wanted.has(a.port_id)) continue;
            const p = await neutron.port(a.port_id);
            if (p && rt.ownerOf(p.tags)) {
              await neutron.deletePort(p.id);
              view.ports.put(p.id, undefined, Date.now());
              changes.push(`removed port ${p.id}`);
            }
          }
          // Each of the model's ports is on the server now (as of the interface listing at the
          // latest: a poll begun since knows better).
          for (const p of neutronPorts) {
            if (p.device_id !== server.id)
              view.ports.put(p.id, { ...p, device_id: server.id }, listed);
          }
          const all = [...made, ...changes];
          return `${activeSentence(server, flavor, image, neutronPorts.length)}${all.length ? `; ${all.join(', ')}` : ''}`;
        },
      );
    },

    async observe(si: ModelObject, ctx: StepContext): Promise<string> {
      const place = await openstackPlaceOf(ctx.models, si, { fresh: true });
      if (!place) return 'no Nova server: it does not run on an OpenStack cluster';
      const { cluster } = place;
      const admin = rt.admin(cluster);
      const nova = new Nova(admin);
      const adopted = handleOf(si, 'Server');
      const name = adopted ?? rt.nameFor(ownerOf(si));
      // An adopted one by its id.
      const [server, ...more] = adopted
        ? [await nova.server(adopted)].filter(
            (s): s is NovaServer => s !== undefined && s.status !== 'DELETED',
          )
        : await serversNamed(nova, name);
      if (!server) {
        await writeFeedback(ctx, si, feedbackOf(undefined));
        throw new Error(`Nova server ${name} is not there on Cluster ${nameOf(cluster)}`);
      }
      const differs: string[] = [];
      const runsFlavor = server.flavor?.original_name ?? server.flavor?.id ?? 'unknown';
      if (typeof si.flavor_id === 'number') {
        const flavor = await referenced(ctx.models, 'Flavor', si.flavor_id, 'its flavor');
        const wanted = wantedFlavor(flavor);
        const nf = flavorIn(await nova.flavors(), wanted);
        if (runsFlavor !== (nf?.name ?? wanted))
          differs.push(`flavor ${runsFlavor} (model ${wanted})`);
      }
      const runsImage = typeof server.image === 'object' ? server.image.id : undefined;
      let imageName = runsImage ?? 'no image';
      if (typeof si.image_id === 'number') {
        const image = await referenced(ctx.models, 'Image', si.image_id, 'its image');
        const wanted = wantedImage(image);
        const gi = (await new Glance(admin).images({ name: wanted }))[0];
        if (gi && gi.id === runsImage) imageName = gi.name;
        else differs.push(`image ${runsImage ?? 'none'} (model ${wanted})`);
      }
      const addresses = Object.values(server.addresses ?? {}).flat();
      for (const port of await portsOf(ctx.models, si)) {
        if (typeof port.ip !== 'string') continue;
        if (!addresses.some((a) => sameIp(a.addr, port.ip))) {
          differs.push(`no address ${port.ip} (Port ${String(port.id)})`);
        }
      }
      await writeFeedback(ctx, si, feedbackOf(server));
      const host = server['OS-EXT-SRV-ATTR:host'] ?? 'no host';
      const fault =
        server.status === 'ERROR' ? ` (${server.fault?.message ?? 'no fault given'})` : '';
      return `server ${server.name} (${server.id}) on Cluster ${nameOf(cluster)}: ${server.status}${fault} on ${host}, ${runsFlavor}, ${imageName}, ${String(addresses.length)} address${addresses.length === 1 ? '' : 'es'}${more.length ? `, and ${String(more.length)} more of that name` : ''}${differs.length ? `; differs from the model: ${differs.join(', ')}` : ''}`;
    },

    async release(si: ModelObject, ctx: StepContext): Promise<string> {
      const { clusters, ports } = await whereServersMayBe(ctx, si);
      const released: string[] = [];
      for (const cluster of clusters) released.push(...(await releaseFrom(rt, cluster, si, ports)));
      return released.length
        ? handleOf(si, 'Server')
          ? `released ${released.join(', ')}: owner tags and metadata removed (the server keeps the name it came with)`
          : `released ${released.join(', ')}: owner tags, metadata and names removed (now ${releasedName(rt.nameFor(ownerOf(si)))})`
        : 'no Nova server to release';
    },

    async delete(si: ModelObject, ctx: StepContext): Promise<string> {
      const { clusters, ports } = await whereServersMayBe(ctx, si);
      const removed: string[] = [];
      for (const cluster of clusters) removed.push(...(await removeFrom(rt, cluster, si, ports)));
      return removed.length ? `removed ${removed.join(', ')}` : 'no Nova server to remove';
    },
  };
}
