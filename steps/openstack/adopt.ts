// Adoption from OpenStack (synchronizer/adopt.ts): Neutron networks, Neutron ports and Nova servers
// that carry no Syncord tag become Networks, Ports and OpenStackServiceInstances, and the steps'
// adopt() puts the owner marks on them. Their handle is the OpenStack id (`{"openstack/Network":
// id}`, `{"openstack/Port": id}`, `{"openstack/Server": id}`): the steps find them by it
// (runtime.ts lookup) and they keep their names, even when released.
//
// A network is offered only as what Syncord's network step would leave as it is: one IPv4 subnet
// with a gateway (its CIDR, gateway, DHCP, DNS servers and the network's MTU are the Network's
// values; the addresses of Neutron's own ports on it, DHCP and metadata, become its exclude_ips so
// that IPAM never hands them out), adopted as a FLAT ovn network (a routed type would get a port
// on Syncord's router). Adopting records the network as the Network's `neutron_network_id`, as
// the server step does for the networks it makes.
//
// A port (not Neutron's own) on such a network, or on a Network of Syncord's, is offered with its
// one address and its MAC as the Port's static ip and mac. An unattached one must belong to a
// ServiceInstance that runs as a VM on the same Cluster, named by the filter's `instance` (a
// Neutron port does not say whose interface it is); one attached to a Nova server is offered with
// its server only (alone, it says so); one attached to anything else is not adoptable.
//
// A Nova server is offered only as what the server step (server.ts) would make of the model, so
// that its first sync changes nothing but the marks: an OpenStackServiceInstance (the model whose
// user_data is the server's user data as it is; a VNF's config would be rewritten as cloud-config)
// of the Service the filter's `service` names, else the first OpenStackService, named as the
// server, with
// - its flavor: an existing Flavor that names that Nova flavor, else a new one adopted with it;
// - its image: an existing vm Image that names that Glance image (by path, else name), else a new
//   one (tag latest) adopted with it;
// - its project: the TrustDomain of the project's name (the server step finds a trust domain's
//   project by that name, and never removes one it did not make), else a new one adopted with it,
//   and that trust domain's first Slice on the Cluster, else a new one (`<project>-<cluster>`, at
//   the Cluster's Site, else the first) adopted with it; the new Flavor, Image, TrustDomain and
//   Slice have no backend object of their own (an empty handle);
// - each attached Neutron port: a Port of it (as above), on the Network of Syncord's that stands
//   for its Neutron network, or on that network's candidate, adopted with it.
// The server must be ACTIVE (the step waits for ACTIVE and replaces one in ERROR), booted from a
// Glance image that is active and the first of its name (the step looks images up by name), with
// a flavor Nova still lists, in a project of the Cluster's project domain (with an application
// credential: the credential's project), with no key pair, config drive or volume (the step boots
// with none of them), user data that is text, and ports that can be adopted (one IPv4 address
// each, on networks that can be). Anything else is listed with the reason, and refused. Its host,
// availability zone, security groups and the operator's own tags and metadata stay as they are
// (no model field tells them; the sync never changes them).
import { OpenStackError } from '../../backends/openstack/client.js';
import {
  Glance,
  Keystone,
  Neutron,
  Nova,
  type NeutronPort,
  type NovaFlavor,
  type NovaServer,
} from '../../backends/openstack/resources.js';
import { formatAddress, normalizeMac, parseAddress, parseCidr } from '../../models/ipam/address.js';
import { listAll, type ModelObject, type ModelService } from '../../models/service.js';
import {
  modelNamed,
  networkIdentity,
  portIdentity,
  type AdoptCandidate,
  type AdoptFilter,
  type AdoptSource,
} from '../../synchronizer/adopt.js';
import type { StepContext } from '../../synchronizer/engine.js';
import { portsOf } from '../kubernetes/networks.js';
import { openstackClusters, subnetsOf } from './network.js';
import { openstackPlaceOf } from './placement.js';
import { handleOf, nameOf, type OpenStackRuntime, type Owner } from './runtime.js';
import {
  feedbackOf,
  flavorIn,
  recordNeutronPort,
  wantedFlavor,
  wantedImage,
  writeFeedback,
} from './server.js';

/** Whether an object carries any of Syncord's tags (of any deployment). */
const marked = (tags: readonly string[] | undefined): boolean =>
  Boolean(tags?.some((t) => t.startsWith('syncord-')));

/** Neutron's own ports (DHCP, OVN metadata, router interfaces): not anyone's interface. */
const neutronOwn = (p: NeutronPort): boolean => p.device_owner.startsWith('network:');

/** A port a Nova server has as its interface. */
const onServer = (p: NeutronPort): boolean =>
  Boolean(p.device_id) && p.device_owner.startsWith('compute:');

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

/** The server fields adoption reads (as an admin lists them), beyond the typed ones. */
interface ServerDetail extends NovaServer {
  tenant_id?: string;
  key_name?: string | null;
  config_drive?: string | boolean;
  'OS-EXT-SRV-ATTR:user_data'?: string | null;
  'os-extended-volumes:volumes_attached'?: { id: string }[];
}

/** The Glance image fields adoption reads. */
interface ImageDetail {
  id: string;
  name: string | null;
  status: string;
  disk_format?: string | null;
  container_format?: string | null;
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

/**
 * What a Neutron port would be as a Port, or why it cannot be adopted as it is (whatever it is
 * attached to: the caller says whether that is a problem).
 */
function portView(p: NeutronPort): View {
  const values: Record<string, unknown> = p.name ? { name: p.name } : {};
  const ips = p.fixed_ips.map((f) => f.ip_address);
  const detail = `${ips.join(' ') || 'no address'}, ${p.mac_address}${p.device_id ? `, on ${p.device_owner || 'device'} ${p.device_id}` : ', unattached'}`;
  if (ips.length !== 1) {
    return {
      values,
      detail,
      problem: `it has ${String(ips.length)} addresses (a Port has exactly one)`,
    };
  }
  try {
    values.ip = formatAddress(4, parseAddress(ips[0]!).value);
    values.mac = normalizeMac(p.mac_address);
  } catch (err) {
    return { values, detail, problem: `address: ${(err as Error).message}` };
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

/** Text that Nova's base64 user data is, or undefined when it is not text (binary, gzip). */
function userDataText(base64: string): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      Buffer.from(base64, 'base64'),
    );
    return text.includes('\0') ? undefined : text;
  } catch {
    return undefined;
  }
}

const first = async (models: ModelService, model: string): Promise<ModelObject | undefined> =>
  (await models.list(model, { orderBy: [{ field: 'id' }], pageSize: 1 })).items[0];

/** Memoizes an async lookup by key (one request per project, image, ... per discovery). */
function memo<T>(fn: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => {
    let hit = cache.get(key);
    if (!hit) cache.set(key, (hit = fn(key)));
    return hit;
  };
}

/** A GET whose 404 is undefined. */
async function found<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof OpenStackError && err.notFound) return undefined;
    throw err;
  }
}

/** What discovery knows of the models, read once. */
interface Known {
  service?: ModelObject;
  noService: string;
  site?: ModelObject;
  flavors: ModelObject[];
  images: ModelObject[];
  trustDomains: ModelObject[];
  slices: ModelObject[];
}

async function knownModels(models: ModelService, filter: AdoptFilter): Promise<Known> {
  const named = filter.service
    ? await modelNamed(models, 'Service', filter.service)
    : await first(models, 'OpenStackService');
  const service = typeof named === 'string' ? undefined : named;
  return {
    ...(service ? { service } : {}),
    noService:
      typeof named === 'string'
        ? named
        : 'an OpenStackService must exist first (it owns the instance and its trust domain; or name a Service with syncord adopt --service)',
    ...(await first(models, 'Site').then((site) => (site ? { site } : {}))),
    flavors: await listAll(models, 'Flavor', { orderBy: [{ field: 'id' }] }),
    images: await listAll(models, 'Image', { orderBy: [{ field: 'id' }] }),
    trustDomains: await listAll(models, 'TrustDomain', { orderBy: [{ field: 'id' }] }),
    slices: await listAll(models, 'Slice', { orderBy: [{ field: 'id' }] }),
  };
}

/** Neutron networks and ports, and Nova servers, without Syncord tags. */
export function openstackAdoptSource(rt: OpenStackRuntime): AdoptSource {
  return {
    backend: 'openstack',
    async discover(models, filter) {
      const kinds = filter.kinds?.length ? new Set(filter.kinds) : undefined;
      const wants = (kind: string) => !kinds || kinds.has(kind);
      const foundInstance = await instanceOf(models, filter);
      const known = wants('Server') ? await knownModels(models, filter) : undefined;
      const out = new Map<string, AdoptCandidate>();
      const add = (c: AdoptCandidate) => {
        if (!out.has(c.key)) out.set(c.key, c);
      };
      // Service instance names (unique among them) the servers listed so far take.
      const names = new Map<string, string>();
      for (const cluster of await openstackClusters(models)) {
        const admin = rt.admin(cluster);
        const neutron = new Neutron(admin);
        const nova = new Nova(admin);
        const where = `Cluster ${nameOf(cluster)}`;
        // Whether the named instance runs as a VM on this Cluster (its ports' owner).
        let instance: ModelObject | string = foundInstance;
        if (typeof foundInstance !== 'string') {
          const place = await openstackPlaceOf(models, foundInstance, { fresh: true });
          if (place?.cluster.id !== cluster.id) {
            instance = `ServiceInstance ${nameOf(foundInstance)} does not run as a VM on ${where}`;
          }
        }
        const networkKey = (id: string) => `openstack/Network/${nameOf(cluster)}/${id}`;
        const portKey = (id: string) => `openstack/Port/${nameOf(cluster)}/${id}`;
        const serverKey = (id: string) => `openstack/Server/${nameOf(cluster)}/${id}`;
        const nets =
          wants('Network') || wants('Port') || wants('Server') ? await neutron.networks() : [];
        const allSubnets = nets.length
          ? await admin.request<{ subnets: SubnetDetail[] }>('network', 'GET', '/v2.0/subnets')
          : { subnets: [] };
        const allPorts = nets.length ? await neutron.ports({}) : [];
        const servers = (
          wants('Server') || wants('Port')
            ? ((await nova.servers({ all_tenants: true })) as ServerDetail[])
            : []
        ).filter((s) => s.status !== 'DELETED');
        // The servers that can be candidates: no Syncord mark, not one of Syncord's names.
        const unmarked = new Set(
          servers
            .filter(
              (s) =>
                !marked(s.tags) &&
                !s.metadata['syncord-owner'] &&
                !s.name.startsWith(`syncord-${rt.instance}-`),
            )
            .map((s) => s.id),
        );
        // Networks Syncord has (its own, tagged; adopted ones once marked), by Neutron id.
        const ours = new Map<string, number>();
        // The candidates of the networks without Syncord's tags, by Neutron id.
        const netCandidates = new Map<string, AdoptCandidate>();
        for (const net of nets) {
          const owner = rt.ownerOf(net.tags);
          if (owner?.model === 'Network') ours.set(net.id, owner.id);
          if (marked(net.tags)) continue;
          // Syncord's name without its tags: a create of Syncord's cut short, found by name.
          if (net.name.startsWith(`syncord-${rt.instance}-`)) continue;
          const subnets = allSubnets.subnets.filter((s) => s.network_id === net.id);
          const ports = allPorts.filter((p) => p.network_id === net.id);
          const view = networkView(net, subnets, ports);
          const c: AdoptCandidate = {
            key: networkKey(net.id),
            backend: 'openstack',
            kind: 'Network',
            name: net.id,
            cluster: nameOf(cluster),
            detail: `Neutron network ${net.name || '(no name)'} on ${where}: ${view.detail}`,
            model: 'Network',
            values: view.values,
            handle: { 'openstack/Network': net.id },
            // Neutron keeps its name: the handle is its id.
            guessed: ['name'],
            ...(typeof view.values.subnet === 'string'
              ? { identity: networkIdentity(view.values.subnet) }
              : {}),
            ...(view.problem ? { problem: view.problem } : {}),
          };
          netCandidates.set(net.id, c);
          if (wants('Network')) add(c);
        }
        if (wants('Port')) {
          for (const p of allPorts) {
            if (marked(p.tags) || neutronOwn(p)) continue;
            if (p.name.startsWith(`syncord-${rt.instance}-`)) continue;
            const network = ours.get(p.network_id);
            if (network === undefined && !netCandidates.has(p.network_id)) continue;
            // A server's port is listed with its server.
            if (onServer(p) && wants('Server') && unmarked.has(p.device_id)) continue;
            const view = portView(p);
            const attached = !p.device_id
              ? undefined
              : onServer(p)
                ? `it is attached to Nova server ${p.device_id}: a server's ports are adopted with it${unmarked.has(p.device_id) ? ' (syncord adopt --kind Server)' : ', which cannot be (Syncord has it, or it is gone)'}`
                : `it is attached to ${p.device_owner || 'device'} ${p.device_id} (only a Nova server's ports are adopted, with it)`;
            const real = view.problem ?? attached;
            const problem = real ?? (typeof instance === 'string' ? instance : undefined);
            add({
              key: portKey(p.id),
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
              identity: portIdentity(p.mac_address),
              // It does not say whose port it is; Neutron keeps its name.
              guessed: ['service_instance_id', 'name'],
              ...(problem ? { problem } : {}),
              ...(problem && !real ? { guessOnly: true } : {}),
            });
          }
        }
        if (!wants('Server') || !known) continue;

        // What the servers refer to, looked up once per discovery.
        const novaFlavors = await nova.flavors();
        const glance = new Glance(admin);
        const keystone = new Keystone(admin);
        const imageById = memo((id) =>
          found(admin.request<ImageDetail>('image', 'GET', `/v2/images/${id}`)),
        );
        const imagesNamed = memo((name) => glance.images({ name }));
        const projectById = memo((id) =>
          found(
            admin
              .request<{
                project: { id: string; name: string; domain_id: string };
              }>('identity', 'GET', `/projects/${id}`)
              .then((r) => r.project),
          ),
        );
        const appCredential = rt.usesApplicationCredential(cluster);
        const domainName = rt.credentials(cluster).projectDomainName ?? 'Default';
        const domainId = appCredential ? undefined : await keystone.domainId(domainName);
        const ownProject = appCredential ? await admin.projectId() : undefined;
        const site =
          typeof cluster.site_id === 'number'
            ? await models.get('Site', cluster.site_id).catch(() => known.site)
            : known.site;

        for (const s of servers) {
          if (!unmarked.has(s.id)) continue;
          const key = serverKey(s.id);
          const values: Record<string, unknown> = {
            name: s.name,
            ...(known.service ? { owner_id: known.service.id } : {}),
          };
          const refs: Record<string, string> = {};
          const problems: string[] = [];
          /** New models it refers to, adopted with it (only if it can be). */
          const needs: AdoptCandidate[] = [];

          if (s.status === 'ERROR')
            problems.push('it is in ERROR (the server step would replace it)');
          else if (s.status !== 'ACTIVE') {
            problems.push(
              `it is ${s.status}, not ACTIVE (the server step would wait for ACTIVE, never done)`,
            );
          }
          if (!known.service) problems.push(known.noService);

          // Its name, as a ServiceInstance's (names are unique among them).
          const holder = (
            await models.list('ServiceInstance', {
              filter: [{ field: 'name', value: s.name }],
              pageSize: 1,
            })
          ).items[0];
          // One adopted from this server is said so by discoverAll.
          if (holder && handleOf(holder, 'Server') !== s.id) {
            problems.push(
              `${holder.leaf_model} ${String(holder.id)} is named ${s.name} already (service instance names are unique)`,
            );
          }
          const claimed = names.get(s.name);
          if (claimed) problems.push(`the server ${claimed} is listed under that name already`);
          else names.set(s.name, s.id);

          // What the server step boots without.
          const volumes = s['os-extended-volumes:volumes_attached'] ?? [];
          const imageId = typeof s.image === 'object' ? s.image.id : undefined;
          if (!imageId) {
            problems.push('it boots from a volume (Syncord boots servers from a Glance image)');
          } else if (volumes.length) {
            problems.push(
              `it has volume ${volumes.map((v) => v.id).join(', ')} attached (Syncord's servers have none)`,
            );
          }
          if (s.key_name) {
            problems.push(
              `it has the key pair ${s.key_name} (Syncord boots servers with none: a key goes in the user data)`,
            );
          }
          if (s.config_drive === true || s.config_drive === 'True') {
            problems.push('it has a config drive (Syncord boots servers without one)');
          }
          const userData = s['OS-EXT-SRV-ATTR:user_data'];
          if (userData) {
            const text = userDataText(userData);
            if (text === undefined) {
              problems.push(
                'its user data is not text (an OpenStackServiceInstance’s user_data is)',
              );
            } else values.user_data = text;
          }

          // Its flavor: a Flavor that names it, else a new one.
          const flavorName = s.flavor?.original_name;
          const nf: NovaFlavor | undefined = flavorName
            ? flavorIn(novaFlavors, flavorName)
            : undefined;
          if (!flavorName) problems.push('its flavor is not told by Nova');
          else if (nf?.name !== flavorName) {
            problems.push(
              `its flavor ${flavorName} is no longer in Nova (the server step would find none)`,
            );
          } else {
            const fit = known.flavors.find(
              (f) => flavorIn(novaFlavors, wantedFlavor(f))?.name === flavorName,
            );
            const taken = known.flavors.find((f) => f.name === flavorName);
            if (fit) values.flavor_id = fit.id;
            else if (taken) {
              problems.push(
                `no Flavor names its flavor ${flavorName}, and the Flavor ${flavorName} it would get exists (it names ${wantedFlavor(taken)})`,
              );
            } else {
              refs.flavor_id = `openstack/Flavor/${flavorName}`;
              needs.push({
                key: refs.flavor_id,
                backend: 'openstack',
                kind: 'Flavor',
                name: flavorName,
                detail: `no backend object: Nova flavor ${flavorName} (${String(nf.vcpus)} vCPU, ${String(nf.ram)} MB, ${String(nf.disk)} GB) of server ${s.name}`,
                model: 'Flavor',
                values: {
                  name: flavorName,
                  flavor: flavorName,
                  ...(nf.vcpus >= 1 ? { vcpus: nf.vcpus } : {}),
                  ...(nf.ram >= 1 ? { memory_mb: nf.ram } : {}),
                  ...(nf.disk >= 0 ? { disk_gb: nf.disk } : {}),
                },
                handle: {},
              });
            }
          }

          // Its image: a vm Image that names it (path, else name), else a new one.
          let imageName = imageId ?? 'no image';
          if (imageId) {
            const gi = await imageById(imageId);
            if (!gi) problems.push(`its image ${imageId} is no longer in Glance`);
            else if (!gi.name) {
              problems.push(`its image ${imageId} has no name (Syncord finds images by name)`);
            } else {
              imageName = gi.name;
              const firstOfName = (await imagesNamed(gi.name))[0];
              const fit = known.images.find((i) => i.kind === 'vm' && wantedImage(i) === gi.name);
              const taken = known.images.find(
                (i) => i.name === gi.name && (i.tag ?? 'latest') === 'latest',
              );
              if (firstOfName?.id !== gi.id) {
                problems.push(
                  `Glance lists another image named ${gi.name} first (the server step takes the first of the name, and would replace it)`,
                );
              } else if (gi.status !== 'active') {
                problems.push(
                  `its image ${gi.name} is ${gi.status} in Glance (the server step waits for active)`,
                );
              } else if (fit) values.image_id = fit.id;
              else if (taken) {
                problems.push(
                  `no vm Image names its image ${gi.name}, and the Image ${gi.name}:latest it would get exists`,
                );
              } else {
                refs.image_id = `openstack/Image/${gi.name}`;
                needs.push({
                  key: refs.image_id,
                  backend: 'openstack',
                  kind: 'Image',
                  name: gi.name,
                  detail: `no backend object: Glance image ${gi.name} (${gi.id}) of server ${s.name}`,
                  model: 'Image',
                  values: {
                    name: gi.name,
                    kind: 'vm',
                    path: gi.name,
                    ...(gi.disk_format ? { disk_format: gi.disk_format } : {}),
                    ...(gi.container_format ? { container_format: gi.container_format } : {}),
                  },
                  handle: {},
                });
              }
            }
          }

          // Its project: the trust domain of its name, else a new one; and its slice on the Cluster.
          const project = s.tenant_id ? await projectById(s.tenant_id) : undefined;
          let projectName = s.tenant_id ?? 'no project';
          if (!project) problems.push(`its project ${s.tenant_id ?? ''} is not in Keystone`);
          else if (appCredential && project.id !== ownProject) {
            problems.push(
              `it is in project ${project.name}, not the application credential's (where Syncord runs servers)`,
            );
          } else if (!appCredential && project.domain_id !== domainId) {
            problems.push(
              `its project ${project.name} is not in the Cluster's project domain ${domainName} (where Syncord finds trust domains' projects)`,
            );
          } else {
            projectName = project.name;
            const td = known.trustDomains.find((t) => t.name === project.name);
            const tdKey = `openstack/Project/${nameOf(cluster)}/${project.id}`;
            if (!td) {
              needs.push({
                key: tdKey,
                backend: 'openstack',
                kind: 'Project',
                name: project.name,
                cluster: nameOf(cluster),
                detail: `no backend object adopted: Keystone project ${project.name} (${project.id}) on ${where}, found by the trust domain's name (and never removed: Syncord did not make it)`,
                model: 'TrustDomain',
                values: {
                  name: project.name,
                  ...(known.service ? { owner_id: known.service.id } : {}),
                },
                handle: {},
              });
            }
            const slice = td
              ? known.slices.find((x) => x.trust_domain_id === td.id && x.cluster_id === cluster.id)
              : undefined;
            const sliceName = `${project.name}-${nameOf(cluster)}`;
            if (slice) values.slice_id = slice.id;
            else if (
              td &&
              known.slices.some((x) => x.trust_domain_id === td.id && x.name === sliceName)
            ) {
              problems.push(
                `no slice of trust domain ${project.name} is on ${where}, and the slice ${sliceName} it would get exists`,
              );
            } else {
              if (!site) problems.push('a Site must exist first (a slice needs one)');
              refs.slice_id = `openstack/Slice/${nameOf(cluster)}/${project.id}`;
              needs.push({
                key: refs.slice_id,
                backend: 'openstack',
                kind: 'Slice',
                name: sliceName,
                cluster: nameOf(cluster),
                detail: `no backend object: the slice of the servers adopted in project ${project.name} on ${where}`,
                model: 'Slice',
                values: {
                  name: sliceName,
                  cluster_id: cluster.id,
                  ...(site ? { site_id: site.id } : {}),
                  ...(known.service ? { service_id: known.service.id } : {}),
                  ...(td ? { trust_domain_id: td.id } : {}),
                },
                ...(td ? {} : { refs: { trust_domain_id: tdKey } }),
                handle: {},
              });
            }
          }

          // Its ports: each a Port of it, on a Network of Syncord's or its network's candidate.
          const ports: AdoptCandidate[] = [];
          for (const p of allPorts.filter((x) => x.device_id === s.id)) {
            const view = portView(p);
            const network = ours.get(p.network_id);
            const netCandidate = netCandidates.get(p.network_id);
            let problem = view.problem;
            if (marked(p.tags)) problem = "it carries Syncord's tags (it is some model's already)";
            else if (network === undefined && !netCandidate) {
              problem = `its network ${p.network_id} is neither a Network of Syncord's nor adoptable`;
            } else if (network === undefined && netCandidate?.problem) {
              problem = `its network ${netCandidate.values.name as string}: ${netCandidate.problem}`;
            }
            if (problem) problems.push(`its port ${p.id}: ${problem}`);
            if (network === undefined && netCandidate && !netCandidate.problem) {
              needs.push(netCandidate);
            }
            ports.push({
              key: portKey(p.id),
              backend: 'openstack',
              kind: 'Port',
              name: p.id,
              cluster: nameOf(cluster),
              detail: `Neutron port ${p.name || '(no name)'} on network ${p.network_id} on ${where}: ${view.detail}`,
              model: 'Port',
              values: { ...view.values, ...(network !== undefined ? { network_id: network } : {}) },
              refs: {
                service_instance_id: key,
                ...(network === undefined ? { network_id: networkKey(p.network_id) } : {}),
              },
              handle: { 'openstack/Port': p.id },
              identity: portIdentity(p.mac_address),
              guessed: ['name'],
            });
          }

          const problem = problems[0];
          // A server that cannot be adopted brings no new model; its ports say why they cannot.
          if (!problem) for (const c of needs) add(c);
          const host = s['OS-EXT-SRV-ATTR:host'] ?? 'no host';
          add({
            key,
            backend: 'openstack',
            kind: 'Server',
            name: s.id,
            cluster: nameOf(cluster),
            detail: `Nova server ${s.name} on ${where}: ${s.status} on ${host}, ${flavorName ?? 'no flavor'}, ${imageName}, project ${projectName}, ${String(ports.length)} port${ports.length === 1 ? '' : 's'}`,
            model: 'OpenStackServiceInstance',
            values,
            ...(Object.keys(refs).length ? { refs } : {}),
            handle: { 'openstack/Server': s.id },
            ...(problem ? { problem } : {}),
          });
          for (const c of ports) {
            add(
              problem ? { ...c, problem: `its server ${s.name} cannot be adopted: ${problem}` } : c,
            );
          }
        }
      }
      return [...out.values()];
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
      if (await recordNeutronPort(ctx, port, np)) did.push('recorded');
      return did.length
        ? `${did.join(', ')} on Cluster ${nameOf(cluster)}`
        : `${what} marked already`;
    }
    throw new Error(`Neutron port ${id} is not there on any OpenStack Cluster`);
  };
}

/**
 * The server step's adopt(): Syncord's tags and `syncord-owner` metadata onto the Nova server the
 * instance was made from (added to the tags and metadata it has), and Syncord's tags onto the
 * Neutron ports of its adopted Ports (the instance syncs before its Ports, which wait for it, and
 * its sync finds their ports by their owner tag); the server's id, status and host recorded as
 * the sync records them. Nothing else about them changes.
 */
export function adoptServer(rt: OpenStackRuntime) {
  return async (si: ModelObject, ctx: StepContext): Promise<string | undefined> => {
    const id = handleOf(si, 'Server');
    if (!id) return undefined;
    const owner = { model: si.leaf_model, id: si.id };
    const place = await openstackPlaceOf(ctx.models, si, { fresh: true });
    const clusters = place ? [place.cluster] : await openstackClusters(ctx.models);
    for (const cluster of clusters) {
      const admin = rt.admin(cluster);
      const nova = new Nova(admin);
      const server = await nova.server(id);
      if (!server || server.status === 'DELETED') continue;
      const what = `Nova server ${server.name} (${id})`;
      const tags = wantedTags(rt, what, server.tags ?? [], owner);
      const mark = `${owner.model}:${String(owner.id)}`;
      const meta = server.metadata['syncord-owner'];
      if (meta && meta !== mark) throw new Error(`${what} has the metadata syncord-owner=${meta}`);
      const did: string[] = [];
      // The ports first: a crash after them leaves the server unmarked, and this runs again.
      const neutron = new Neutron(admin);
      for (const port of await portsOf(ctx.models, si)) {
        const portId = handleOf(port, 'Port');
        if (!portId) continue;
        const np = await neutron.port(portId);
        if (!np) throw new Error(`Neutron port ${portId} of Port ${String(port.id)} is not there`);
        const portTags = wantedTags(rt, `Neutron port ${portId}`, np.tags, {
          model: 'Port',
          id: port.id,
        });
        if (sameTags(portTags, np.tags)) continue;
        await neutron.tag('ports', portId, portTags);
        did.push(`tagged Neutron port ${portId}`);
      }
      const missing = tags.filter((t) => !server.tags?.includes(t));
      for (const tag of missing) await nova.addTag(id, tag);
      if (missing.length) did.push(`tagged ${what}`);
      if (meta !== mark) {
        await nova.setMetadata(id, 'syncord-owner', mark);
        did.push('set its syncord-owner metadata');
      }
      await writeFeedback(ctx, si, feedbackOf(server));
      return did.length
        ? `${did.join(', ')} on Cluster ${nameOf(cluster)}`
        : `${what} marked already`;
    }
    throw new Error(`Nova server ${id} is not there on any OpenStack Cluster`);
  };
}
