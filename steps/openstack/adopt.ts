// Adoption from OpenStack (synchronizer/adopt.ts): Neutron networks and ports that carry no
// Syncord tag become Networks and Ports, and the steps' adopt() puts the owner tags on them.
// Their handle is the Neutron id (`{"openstack/Network": id}`, `{"openstack/Port": id}`): the
// steps find them by it (runtime.ts lookup) and they keep their names, even when released.
//
// A network is offered only as what Syncord's network step would leave as it is: one IPv4 subnet
// with a gateway (its CIDR, gateway, DHCP, DNS servers and the network's MTU are the Network's
// values; the addresses of Neutron's own ports on it, DHCP and metadata, become its exclude_ips so
// that IPAM never hands them out), adopted as a FLAT ovn network (a routed type would get a port
// on Syncord's router). Adopting records the network as the Network's `neutron_network_id`, as
// the server step does for the networks it makes.
//
// A port (not Neutron's own) on such a network, or on a Network of Syncord's, is offered with its
// one address and its MAC as the Port's static ip and mac; it must belong to a ServiceInstance
// that runs as a VM on the same Cluster, named by the filter's `instance` (a Neutron port does not
// say whose interface it is), and be attached to nothing (servers are not adoptable yet). Nova
// servers are listed, not adoptable yet.
import { Neutron, Nova, type NeutronPort } from '../../backends/openstack/resources.js';
import {
  formatAddress,
  normalizeMac,
  parseAddress,
  parseCidr,
  sameIp,
  sameMac,
} from '../../models/ipam/address.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import type { AdoptCandidate, AdoptFilter, AdoptSource } from '../../synchronizer/adopt.js';
import type { StepContext } from '../../synchronizer/engine.js';
import { openstackClusters, subnetsOf } from './network.js';
import { openstackPlaceOf } from './placement.js';
import { handleOf, nameOf, type OpenStackRuntime, type Owner } from './runtime.js';

/** Whether an object carries any of Syncord's tags (of any deployment). */
const marked = (tags: readonly string[] | undefined): boolean =>
  Boolean(tags?.some((t) => t.startsWith('syncord-')));

/** Neutron's own ports (DHCP, OVN metadata, router interfaces): not anyone's interface. */
const neutronOwn = (p: NeutronPort): boolean => p.device_owner.startsWith('network:');

/** The subnet fields Syncord reads and Neutron lists, beyond the typed ones. */
interface SubnetDetail {
  id: string;
  network_id: string;
  name: string;
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  ip_version?: number;
  dns_nameservers?: string[];
  tags: string[];
}

interface View {
  values: Record<string, unknown>;
  detail: string;
  problem?: string;
}

/** What a Neutron network would be as a Network, and why it cannot be adopted as it is, if so. */
function networkView(
  net: { id: string; name: string; mtu?: number; shared?: boolean },
  subnets: readonly SubnetDetail[],
  ports: readonly NeutronPort[],
): View {
  const values: Record<string, unknown> = {
    name: net.name || net.id,
    provider: 'ovn',
    type: 'FLAT',
  };
  const detail = `${subnets.map((s) => s.cidr).join(' ') || 'no subnet'}, ${String(ports.length)} port${ports.length === 1 ? '' : 's'}${net.shared ? ', shared' : ''}`;
  const subnet = subnets[0];
  if (!subnet) {
    return { values, detail, problem: 'it has no subnet (Syncord would make one)' };
  }
  if (subnets.length > 1) {
    return {
      values,
      detail,
      problem: `it has ${String(subnets.length)} subnets (a Network has one)`,
    };
  }
  let plan;
  try {
    plan = parseCidr(subnet.cidr);
  } catch (err) {
    return { values, detail, problem: `subnet ${subnet.cidr}: ${(err as Error).message}` };
  }
  if (plan.family !== 4) {
    return { values, detail, problem: 'only networks with an IPv4 subnet can be adopted yet' };
  }
  values.subnet = plan.cidr;
  if (!subnet.gateway_ip) {
    return {
      values,
      detail,
      problem: 'its subnet has no gateway (a Network always has one: Syncord would differ)',
    };
  }
  values.gateway = formatAddress(4, parseAddress(subnet.gateway_ip).value);
  values.dhcp = subnet.enable_dhcp;
  if (subnet.dns_nameservers?.length) values.dns_servers = subnet.dns_nameservers.join(' ');
  if (net.mtu !== undefined) {
    if (net.mtu < 576 || net.mtu > 9216) {
      return { values, detail, problem: `its MTU ${String(net.mtu)} is out of 576..9216` };
    }
    values.mtu = net.mtu;
  }
  // Neutron's own ports' addresses: IPAM must not give them to a Port.
  const own = ports
    .filter(neutronOwn)
    .flatMap((p) => p.fixed_ips.filter((f) => f.subnet_id === subnet.id))
    .map((f) => formatAddress(4, parseAddress(f.ip_address).value))
    .filter((a) => a !== values.gateway);
  if (own.length) values.exclude_ips = [...new Set(own)].sort().join(' ');
  return { values, detail };
}

/** What a Neutron port would be as a Port, or why it cannot be adopted as it is. */
function portView(p: NeutronPort): View {
  const values: Record<string, unknown> = p.name ? { name: p.name } : {};
  const ips = p.fixed_ips.map((f) => f.ip_address);
  const detail = `${ips.join(' ') || 'no address'}, ${p.mac_address}${p.device_id ? `, on ${p.device_owner || 'device'} ${p.device_id}` : ', unattached'}`;
  if (ips.length !== 1) {
    return { values, detail, problem: 'it needs exactly one address (a Port has one)' };
  }
  try {
    values.ip = formatAddress(4, parseAddress(ips[0]!).value);
    values.mac = normalizeMac(p.mac_address);
  } catch (err) {
    return { values, detail, problem: `address: ${(err as Error).message}` };
  }
  if (p.device_id) {
    return {
      values,
      detail,
      problem: `it is attached to ${p.device_owner || 'device'} ${p.device_id} (servers are not adoptable yet)`,
    };
  }
  return { values, detail };
}

/** The ServiceInstance the filter names (by name, or id), for the adopted ports. */
async function instanceOf(
  models: ModelService,
  filter: AdoptFilter,
): Promise<ModelObject | string> {
  const wanted = filter.instance;
  if (!wanted) {
    return 'its instance is unknown: name the ServiceInstance its ports belong to (syncord adopt --instance NAME)';
  }
  const byId = /^\d+$/.test(wanted)
    ? await models.get('ServiceInstance', Number(wanted)).catch(() => undefined)
    : undefined;
  if (byId) return byId;
  const page = await models.list('ServiceInstance', {
    filter: [{ field: 'name', value: wanted }],
    pageSize: 2,
  });
  if (page.items.length === 1) return page.items[0]!;
  return `no ServiceInstance named ${wanted}${page.items.length > 1 ? ' (several are: give its id)' : ''}`;
}

/** Neutron networks and ports (and, listed only, Nova servers) without Syncord tags. */
export function openstackAdoptSource(rt: OpenStackRuntime): AdoptSource {
  return {
    backend: 'openstack',
    async discover(models, filter) {
      const kinds = filter.kinds?.length ? new Set(filter.kinds) : undefined;
      const wants = (kind: string) => !kinds || kinds.has(kind);
      const found = await instanceOf(models, filter);
      const out: AdoptCandidate[] = [];
      for (const cluster of await openstackClusters(models)) {
        const admin = rt.admin(cluster);
        const neutron = new Neutron(admin);
        const where = `Cluster ${nameOf(cluster)}`;
        // Whether the named instance runs as a VM on this Cluster (its ports' owner).
        let instance: ModelObject | string = found;
        if (typeof found !== 'string') {
          const place = await openstackPlaceOf(models, found, { fresh: true });
          if (place?.cluster.id !== cluster.id) {
            instance = `ServiceInstance ${nameOf(found)} does not run as a VM on ${where}`;
          }
        }
        const networkKey = (id: string) => `openstack/Network/${nameOf(cluster)}/${id}`;
        const nets = wants('Network') || wants('Port') ? await neutron.networks() : [];
        const allSubnets = nets.length
          ? await admin.request<{ subnets: SubnetDetail[] }>('network', 'GET', '/v2.0/subnets')
          : { subnets: [] };
        const allPorts = nets.length ? await neutron.ports({}) : [];
        // Networks Syncord has (its own, tagged; adopted ones once marked), by Neutron id.
        const ours = new Map<string, number>();
        const candidates = new Set<string>();
        for (const net of nets) {
          const owner = rt.ownerOf(net.tags);
          if (owner?.model === 'Network') ours.set(net.id, owner.id);
          if (marked(net.tags)) continue;
          // Syncord's name without its tags: a create of Syncord's cut short, found by name.
          if (net.name.startsWith(`syncord-${rt.instance}-`)) continue;
          candidates.add(net.id);
          if (!wants('Network')) continue;
          const subnets = allSubnets.subnets.filter((s) => s.network_id === net.id);
          const ports = allPorts.filter((p) => p.network_id === net.id);
          const view = networkView(net, subnets, ports);
          out.push({
            key: networkKey(net.id),
            backend: 'openstack',
            kind: 'Network',
            name: net.id,
            cluster: nameOf(cluster),
            detail: `Neutron network ${net.name || '(no name)'} on ${where}: ${view.detail}`,
            model: 'Network',
            values: view.values,
            handle: { 'openstack/Network': net.id },
            ...(view.problem ? { problem: view.problem } : {}),
          });
        }
        if (wants('Port')) {
          for (const p of allPorts) {
            if (marked(p.tags) || neutronOwn(p)) continue;
            if (p.name.startsWith(`syncord-${rt.instance}-`)) continue;
            const network = ours.get(p.network_id);
            if (network === undefined && !candidates.has(p.network_id)) continue;
            const view = portView(p);
            const problem = view.problem ?? (typeof instance === 'string' ? instance : undefined);
            out.push({
              key: `openstack/Port/${nameOf(cluster)}/${p.id}`,
              backend: 'openstack',
              kind: 'Port',
              name: p.id,
              cluster: nameOf(cluster),
              detail: `Neutron port ${p.name || '(no name)'} on network ${p.network_id} on ${where}: ${view.detail}`,
              model: 'Port',
              values: {
                ...view.values,
                ...(network !== undefined ? { network_id: network } : {}),
                ...(typeof instance === 'string' ? {} : { service_instance_id: instance.id }),
              },
              ...(network === undefined ? { refs: { network_id: networkKey(p.network_id) } } : {}),
              handle: { 'openstack/Port': p.id },
              ...(problem ? { problem } : {}),
            });
          }
        }
        if (wants('Server')) {
          const nova = new Nova(admin);
          for (const s of await nova.servers({ all_tenants: true })) {
            if (marked(s.tags) || s.metadata['syncord-owner'] || s.status === 'DELETED') continue;
            if (s.name.startsWith(`syncord-${rt.instance}-`)) continue;
            out.push({
              key: `openstack/Server/${nameOf(cluster)}/${s.id}`,
              backend: 'openstack',
              kind: 'Server',
              name: s.id,
              cluster: nameOf(cluster),
              detail: `Nova server ${s.name} on ${where}: ${s.status}`,
              model: 'VNFServiceInstance',
              values: { name: s.name, workload: 'vm' },
              handle: { 'openstack/Server': s.id },
              problem: 'Nova servers are not adoptable yet',
            });
          }
        }
      }
      return out;
    },
  };
}

/**
 * Refuses an object another owner tagged (of this deployment, or another deployment's), and
 * returns the tags it should have: its own and the owner's.
 */
function wantedTags(
  rt: OpenStackRuntime,
  what: string,
  tags: readonly string[],
  owner: Owner,
): string[] {
  const other = rt.ownerOf(tags);
  if (other && (other.model !== owner.model || other.id !== owner.id)) {
    throw new Error(`${what} belongs to ${other.model} ${String(other.id)}`);
  }
  const instance = tags.find((t) => t.startsWith('syncord-instance='));
  if (instance && instance !== rt.instanceTag) {
    throw new Error(
      `${what} belongs to Syncord deployment ${instance.slice('syncord-instance='.length)}`,
    );
  }
  const otherOwner = tags.find((t) => t.startsWith('syncord-owner=') && t !== rt.ownerTag(owner));
  if (otherOwner) throw new Error(`${what} is tagged ${otherOwner}`);
  return [...new Set([...tags, ...rt.tagsFor(owner)])];
}

const sameTags = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((t) => b.includes(t));

/**
 * The Network step's adopt(): Syncord's tags onto the Neutron network it was made from and its
 * subnet (added to the tags they have), and the network recorded as its neutron_network_id.
 */
export function adoptNetwork(rt: OpenStackRuntime) {
  return async (network: ModelObject, ctx: StepContext): Promise<string | undefined> => {
    const id = handleOf(network, 'Network');
    if (!id) return undefined;
    const owner = { model: 'Network', id: network.id };
    for (const cluster of await openstackClusters(ctx.models)) {
      const neutron = new Neutron(rt.admin(cluster));
      const net = (await neutron.networks({ id }))[0];
      if (!net) continue;
      const did: string[] = [];
      const what = `Neutron network ${id}`;
      const tags = wantedTags(rt, what, net.tags, owner);
      const subnets = subnetsOf(rt, network, await neutron.subnets({ network_id: id }));
      const subnetTags = subnets.map((s) =>
        wantedTags(rt, `subnet ${s.id} of ${what}`, s.tags, owner),
      );
      if (!sameTags(tags, net.tags)) {
        await neutron.tag('networks', id, tags);
        did.push(`tagged ${what}`);
      }
      for (const [i, s] of subnets.entries()) {
        if (sameTags(subnetTags[i]!, s.tags)) continue;
        await neutron.tag('subnets', s.id, subnetTags[i]!);
        did.push(`tagged subnet ${s.cidr}`);
      }
      if (network.neutron_network_id !== id) {
        await ctx.models.setStatus('Network', network.id, { feedback: { neutron_network_id: id } });
        did.push('recorded');
      }
      return did.length
        ? `${did.join(', ')} on Cluster ${nameOf(cluster)}`
        : `${what} marked already`;
    }
    throw new Error(`Neutron network ${id} is not there on any OpenStack Cluster`);
  };
}

/**
 * The Port step's adopt(): Syncord's tags onto the Neutron port it was made from (added to the
 * tags it has), and its id, address and MAC recorded as the server step records them.
 */
export function adoptPort(rt: OpenStackRuntime) {
  return async (port: ModelObject, ctx: StepContext): Promise<string | undefined> => {
    const id = handleOf(port, 'Port');
    if (!id) return undefined;
    const owner = { model: 'Port', id: port.id };
    const si = await ctx.models
      .get('ServiceInstance', port.service_instance_id as number)
      .catch(() => undefined);
    const place = si ? await openstackPlaceOf(ctx.models, si) : undefined;
    const clusters = place ? [place.cluster] : await openstackClusters(ctx.models);
    for (const cluster of clusters) {
      const neutron = new Neutron(rt.admin(cluster));
      const np = (await neutron.ports({ id }))[0];
      if (!np) continue;
      const what = `Neutron port ${id}`;
      const tags = wantedTags(rt, what, np.tags, owner);
      const did: string[] = [];
      if (!sameTags(tags, np.tags)) {
        await neutron.tag('ports', id, tags);
        did.push(`tagged ${what}`);
      }
      const ip = np.fixed_ips[0]?.ip_address ?? null;
      if (
        port.port_id !== np.id ||
        !sameIp(port.observed_ip, ip) ||
        !sameMac(port.observed_mac, np.mac_address)
      ) {
        await ctx.models.setStatus('Port', port.id, {
          feedback: { port_id: np.id, observed_ip: ip, observed_mac: np.mac_address },
        });
        did.push('recorded');
      }
      return did.length
        ? `${did.join(', ')} on Cluster ${nameOf(cluster)}`
        : `${what} marked already`;
    }
    throw new Error(`Neutron port ${id} is not there on any OpenStack Cluster`);
  };
}
