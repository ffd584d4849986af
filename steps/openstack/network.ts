// Network → a Neutron network and subnet on each OpenStack Cluster that runs a VM on it, made by
// the server step when the first such VM needs it: same CIDR, gateway, DHCP and MTU as the
// Network, shared (the trust domains' projects put their VMs' ports on it), in the Cluster's own
// project. Its id is recorded on the Network (`neutron_network_id`): the OVN steps then put the
// pods' ports on Neutron's switch (`neutron-<id>`) instead of a switch of their own, so pods and
// VMs share one L2 segment (backends/openstack/README.md says who owns which OVN row).
//
// Addresses stay Syncord's: every port Syncord makes names its IPAM address. Neutron's own
// allocation pool is one address, the subnet's last usable one, which it can give only to a port
// it makes by itself (Neutron rejects an empty pool list by filling in the whole subnet).
//
// The step on Network itself repairs a recorded network that vanished (made again on the next
// VM sync) and, on delete, removes this deployment's Neutron networks of the Network from every
// OpenStack Cluster. A recorded network the Cluster's view (view.ts) shows is taken as it is,
// with no request: the observer's polls list the networks and queue a Network whose network
// vanished.
//
// Observed (management_policy observe): the Neutron network of the Network's name, and its
// subnet, on each Cluster (there must be one where a VM of the Network runs), compared with the
// Network; nothing is recorded (neutron_network_id would move the pods' ports onto its switch).
// Released (deletion_policy orphan): the network and its subnet lose their owner tags and
// Syncord's name (runtime.ts releasedName) and stay as they are, ports and all.
//
// Adopted (adopt.ts: backend_handle `{"openstack/Network": <id>}`): the network is found by that
// id instead of Syncord's name, its one subnet whatever its name, and both keep their names
// when released.
import {
  Neutron,
  type NeutronNetwork,
  type NeutronSubnet,
} from '../../backends/openstack/resources.js';
import {
  formatAddress,
  parseAddress,
  parseCidr,
  sameIp,
  usableRange,
} from '../../models/ipam/address.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import type { StepContext, SyncStep } from '../../synchronizer/engine.js';
import { openstackPlaceOf } from './placement.js';
import { handleOf, nameOf, type OpenStackRuntime } from './runtime.js';
import type { ClusterView } from './view.js';

export interface NeutronPlace {
  network: NeutronNetwork;
  subnet: NeutronSubnet;
}

/** Every Cluster of kind openstack (few: listed when a Network is deleted). */
export async function openstackClusters(models: ModelService): Promise<ModelObject[]> {
  const page = await models.list('Cluster', {
    filter: [{ field: 'kind', value: 'openstack' }],
    pageSize: 1000,
  });
  return page.items;
}

/** The ids of the OpenStack Clusters that run a VM with a Port on the Network. */
async function vmClustersOf(models: ModelService, network: ModelObject): Promise<Set<number>> {
  const ports = await models.list('Port', {
    filter: [{ field: 'network', value: network.id }],
    pageSize: 5000,
  });
  const ids = [...new Set(ports.items.map((p) => p.service_instance_id as number))];
  const clusters = new Set<number>();
  for (const si of await models.getMany('ServiceInstance', ids)) {
    const place = await openstackPlaceOf(models, si);
    if (place) clusters.add(place.cluster.id);
  }
  return clusters;
}

/** What a Neutron network and its subnet are, and where they differ from the Network. */
async function describeNetwork(
  neutron: Neutron,
  net: NeutronNetwork,
  name: string,
  network: ModelObject,
): Promise<string> {
  const subnets = await neutron.subnets({ network_id: net.id });
  const subnet =
    subnets.find((s) => s.name === name) ?? (subnets.length === 1 ? subnets[0] : undefined);
  const ports = await neutron.ports({ network_id: net.id });
  const seen: string[] = [];
  const differs: string[] = [];
  const wanted = parseCidr(String(network.subnet));
  if (!subnet) {
    seen.push(
      subnets.length ? `${String(subnets.length)} subnets, none named ${name}` : 'no subnet',
    );
    differs.push(`no subnet ${wanted.cidr}`);
  } else {
    const cidr = parseCidr(subnet.cidr).cidr;
    seen.push(
      `subnet ${cidr}`,
      `gateway ${subnet.gateway_ip ?? 'none'}`,
      `DHCP ${subnet.enable_dhcp ? 'on' : 'off'}`,
    );
    if (cidr !== wanted.cidr) differs.push(`subnet ${cidr} (model ${wanted.cidr})`);
    const gateway = typeof network.gateway === 'string' && network.gateway ? network.gateway : null;
    if (!(gateway === null ? subnet.gateway_ip === null : sameIp(subnet.gateway_ip, gateway))) {
      differs.push(`gateway ${subnet.gateway_ip ?? 'none'} (model ${gateway ?? 'none'})`);
    }
    if (subnet.enable_dhcp !== (network.dhcp !== false)) {
      differs.push(
        `DHCP ${subnet.enable_dhcp ? 'on' : 'off'} (model ${network.dhcp !== false ? 'on' : 'off'})`,
      );
    }
  }
  if (net.mtu !== undefined) seen.push(`MTU ${String(net.mtu)}`);
  if (typeof network.mtu === 'number' && net.mtu !== undefined && net.mtu !== network.mtu) {
    differs.push(`MTU ${String(net.mtu)} (model ${String(network.mtu)})`);
  }
  seen.push(`${String(ports.length)} port${ports.length === 1 ? '' : 's'}`);
  return `${seen.join(', ')}${differs.length ? `; differs from the model: ${differs.join(', ')}` : ''}`;
}

/** This deployment's Neutron networks of a Network on a Cluster, by name and owner tag. */
async function networksOf(
  rt: OpenStackRuntime,
  neutron: Neutron,
  network: ModelObject,
): Promise<NeutronNetwork[]> {
  const owner = { model: 'Network', id: network.id };
  return neutron.networks({ ...rt.lookup(network, 'Network'), tags: rt.ownerTag(owner) });
}

/**
 * The Network's subnets among a Neutron network's: those of Syncord's name, or, for an adopted
 * network (its handle), all of them (it was adopted with one).
 */
export function subnetsOf<T extends { name: string }>(
  rt: OpenStackRuntime,
  network: ModelObject,
  subnets: readonly T[],
): T[] {
  if (handleOf(network, 'Network')) return [...subnets];
  const name = rt.nameFor({ model: 'Network', id: network.id });
  return subnets.filter((s) => s.name === name);
}

/**
 * The Network's recorded Neutron network and its subnet as the Cluster's view shows them, if they
 * are what the model wants (the Network's one network, named and tagged as its, with a subnet of
 * the Network's CIDR); else undefined, and the caller looks them up.
 */
export function neutronPlaceInView(
  rt: OpenStackRuntime,
  view: ClusterView,
  network: ModelObject,
): NeutronPlace | undefined {
  const id = network.neutron_network_id;
  if (typeof id !== 'string' || !id || (network.provider ?? 'ovn') !== 'ovn') return undefined;
  const owner = { model: 'Network', id: network.id };
  const mine = view.networks.group(rt.ownerTag(owner));
  const net = mine[0];
  if (mine.length !== 1 || net?.id !== id || !rt.isNamed(network, 'Network', net)) return undefined;
  let cidr: string;
  try {
    cidr = parseCidr(String(network.subnet)).cidr;
  } catch {
    return undefined;
  }
  const subnets = subnetsOf(rt, network, view.subnets.group(`network:${id}`));
  const subnet = subnets[0];
  if (subnets.length !== 1 || !subnet || parseCidr(subnet.cidr).cidr !== cidr) return undefined;
  return { network: net, subnet };
}

/**
 * The Network's Neutron network and subnet on the Cluster, made when missing (looked up by name
 * first, so a create whose answer was lost is found, not made twice; the tag is put on after the
 * create, and a network found by name without it gets it then).
 */
export async function ensureNeutronNetwork(
  rt: OpenStackRuntime,
  cluster: ModelObject,
  network: ModelObject,
  ctx: StepContext,
): Promise<NeutronPlace & { made: string[] }> {
  if ((network.provider ?? 'ovn') !== 'ovn') {
    throw new Error(
      `Network ${nameOf(network)} has provider ${String(network.provider)}: a VM on OpenStack can only join an OVN network`,
    );
  }
  const owner = { model: 'Network', id: network.id };
  const name = rt.nameFor(owner);
  const tags = rt.tagsFor(owner);
  return rt.locks.exclusive(`${String(cluster.id)}/Network/${String(network.id)}`, async () => {
    const neutron = new Neutron(rt.admin(cluster));
    const view = rt.view(cluster);
    const made: string[] = [];
    // What is found is in the view as of this lookup; what is made, as of its making.
    const lookedUp = Date.now();
    let net = (await networksOf(rt, neutron, network))[0];
    let netAt = lookedUp;
    if (!net) {
      // A create whose tag call never ran (a crash between the two) is found by its name.
      // (An adopted one, by its id, keeps the tags it has besides.)
      const adopted = Boolean(handleOf(network, 'Network'));
      const named = (await neutron.networks(rt.lookup(network, 'Network'))).find((n) =>
        adopted ? !n.tags.some((t) => t.startsWith('syncord-owner=')) : n.tags.length === 0,
      );
      if (named) {
        const all = [...new Set([...named.tags, ...tags])];
        await neutron.tag('networks', named.id, all);
        net = { ...named, tags: all };
      }
    }
    if (!net) {
      net = await neutron.createNetwork({
        name,
        tags,
        shared: true,
        ...(typeof network.mtu === 'number' ? { mtu: network.mtu } : {}),
      });
      netAt = Date.now();
      made.push(`Neutron network ${net.id}`);
    }
    view.networks.put(net.id, net, netAt);
    const subnetPlan = parseCidr(String(network.subnet));
    const subnetsAt = Date.now();
    const subnets = await neutron.subnets({ network_id: net.id });
    let subnet = subnetsOf(rt, network, subnets)[0];
    if (subnet && parseCidr(subnet.cidr).cidr !== subnetPlan.cidr) {
      throw new Error(
        `Neutron network ${net.id} of Network ${nameOf(network)} has subnet ${subnet.cidr}, not ${subnetPlan.cidr}; remove it or restore the Network's subnet`,
      );
    }
    if (subnet && !tags.every((t) => subnet?.tags.includes(t))) {
      // Made by a create whose tag call never ran: tagged now, so the observer lists it.
      const all = [...new Set([...subnet.tags, ...tags])];
      await neutron.tag('subnets', subnet.id, all);
      subnet = { ...subnet, tags: all };
    }
    if (subnet) view.subnets.put(subnet.id, subnet, subnetsAt);
    if (!subnet) {
      const usable = usableRange(subnetPlan);
      const last = formatAddress(subnetPlan.family, usable.last);
      const gateway =
        typeof network.gateway === 'string' && network.gateway
          ? formatAddress(subnetPlan.family, parseAddress(network.gateway).value)
          : null;
      const dns =
        typeof network.dns_servers === 'string'
          ? network.dns_servers.split(/\s+/).filter(Boolean)
          : [];
      subnet = await neutron.createSubnet({
        network_id: net.id,
        name,
        cidr: subnetPlan.cidr,
        ip_version: subnetPlan.family,
        gateway_ip: gateway,
        enable_dhcp: network.dhcp !== false,
        allocation_pools: last === gateway ? [] : [{ start: last, end: last }],
        ...(dns.length ? { dns_nameservers: dns } : {}),
        tags,
      });
      view.subnets.put(subnet.id, subnet, Date.now());
      made.push(`subnet ${subnet.cidr}`);
    }
    if (network.neutron_network_id !== net.id) {
      await ctx.models.setStatus('Network', network.id, {
        feedback: { neutron_network_id: net.id },
      });
      // The OVN steps move the pods' ports onto Neutron's switch.
      ctx.enqueue('Network', network.id);
    }
    return { network: net, subnet, made };
  });
}

export function networkStep(rt: OpenStackRuntime): SyncStep {
  return {
    name: 'openstack/network',
    observes: 'Network',
    batch: 100,

    async sync(network: ModelObject, ctx: StepContext): Promise<string> {
      const id = typeof network.neutron_network_id === 'string' ? network.neutron_network_id : '';
      if (!id) return 'no Neutron network (no VM on OpenStack uses it)';
      const clusters = await openstackClusters(ctx.models);
      // A Cluster whose fresh view shows it: nothing to ask.
      const owner = { model: 'Network', id: network.id };
      for (const cluster of clusters) {
        const net = rt.trustedView(cluster)?.networks.get(id);
        if (net && rt.isNamed(network, 'Network', net) && net.tags.includes(rt.ownerTag(owner)))
          return `Neutron network ${id} on Cluster ${nameOf(cluster)}`;
      }
      // Which Cluster holds it: the one whose Neutron has it under this Network's name.
      for (const cluster of clusters) {
        const neutron = new Neutron(rt.admin(cluster));
        const lookedUp = Date.now();
        const nets = await networksOf(rt, neutron, network);
        for (const n of nets) rt.view(cluster).networks.put(n.id, n, lookedUp);
        if (nets.some((n) => n.id === id))
          return `Neutron network ${id} on Cluster ${nameOf(cluster)}`;
      }
      // Gone out of band: forget it (the pods' ports go back to Syncord's own switch) and let
      // the VMs on it make it again.
      await ctx.models.setStatus('Network', network.id, { feedback: { neutron_network_id: null } });
      ctx.enqueue('Network', network.id);
      const ports = await ctx.models.list('Port', {
        filter: [{ field: 'network', value: network.id }],
        pageSize: 5000,
      });
      const ids = [...new Set(ports.items.map((p) => p.service_instance_id as number))];
      for (const si of await ctx.models.getMany('ServiceInstance', ids)) {
        ctx.enqueue(si.leaf_model, si.id);
      }
      return `Neutron network ${id} is gone: it is made again for the VMs on the network`;
    },

    async observe(network: ModelObject, ctx: StepContext): Promise<string> {
      const clusters = await openstackClusters(ctx.models);
      if (!clusters.length) return 'no OpenStack Cluster';
      const needed = await vmClustersOf(ctx.models, network);
      const lookup = rt.lookup(network, 'Network');
      const name = 'id' in lookup ? lookup.id : lookup.name;
      const seen: string[] = [];
      for (const cluster of clusters) {
        const neutron = new Neutron(rt.admin(cluster));
        const nets = await neutron.networks(lookup);
        if (!nets.length && needed.has(cluster.id)) {
          throw new Error(`Neutron network ${name} is not there on Cluster ${nameOf(cluster)}`);
        }
        for (const net of nets) {
          seen.push(
            `Neutron network ${name} (${net.id}) on Cluster ${nameOf(cluster)}: ${await describeNetwork(neutron, net, name, network)}`,
          );
        }
      }
      return seen.length
        ? seen.join('; ')
        : `no Neutron network ${name} (no VM on OpenStack uses the Network)`;
    },

    async release(network: ModelObject, ctx: StepContext): Promise<string> {
      const owner = { model: 'Network', id: network.id };
      const name = rt.nameFor(owner);
      const released: string[] = [];
      for (const cluster of await openstackClusters(ctx.models)) {
        const neutron = new Neutron(rt.admin(cluster));
        const view = rt.view(cluster);
        // Found by the name, as delete() and the server step find them; a network or subnet
        // of another owner's (tagged so) is not this Network's to let go of.
        // An adopted network (found by its handle's id) keeps the name it came with.
        for (const net of await neutron.networks(rt.lookup(network, 'Network'))) {
          if (!rt.releasable(net.tags, owner)) continue;
          for (const tag of rt.marksIn(net.tags, owner))
            await neutron.untag('networks', net.id, tag);
          // The subnet before the network's name: a release cut short finds both again.
          const subnets = subnetsOf(rt, network, await neutron.subnets({ network_id: net.id }));
          for (const subnet of subnets) {
            if (!rt.releasable(subnet.tags, owner)) continue;
            for (const tag of rt.marksIn(subnet.tags, owner)) {
              await neutron.untag('subnets', subnet.id, tag);
            }
            const renamed = rt.releasedNameOf(network, 'Network', subnet.name);
            if (renamed !== subnet.name) await neutron.rename('subnets', subnet.id, renamed);
            view.subnets.put(subnet.id, undefined, Date.now());
          }
          const renamed = rt.releasedNameOf(network, 'Network', net.name);
          if (renamed !== net.name) await neutron.rename('networks', net.id, renamed);
          view.networks.put(net.id, undefined, Date.now());
          released.push(`${net.id} on Cluster ${nameOf(cluster)}`);
        }
      }
      return released.length
        ? `released Neutron network ${released.join(', ')} and its subnet: owner tags removed${handleOf(network, 'Network') ? '' : `, renamed ${rt.releasedNameOf(network, 'Network', name)}`}`
        : 'no Neutron network to release';
    },

    async delete(network: ModelObject, ctx: StepContext): Promise<string> {
      const removed: string[] = [];
      for (const cluster of await openstackClusters(ctx.models)) {
        const neutron = new Neutron(rt.admin(cluster));
        for (const net of await networksOf(rt, neutron, network)) {
          // Its ports went first (Ports are deleted before their Network); a port Neutron made
          // by itself (DHCP, metadata) goes with the network.
          await neutron.deleteNetwork(net.id);
          rt.view(cluster).networks.put(net.id, undefined, Date.now());
          removed.push(`${net.id} on Cluster ${nameOf(cluster)}`);
        }
      }
      return removed.length
        ? `removed Neutron network ${removed.join(', ')}`
        : 'no Neutron network to remove';
    },
  };
}
