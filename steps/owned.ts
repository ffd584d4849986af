// The backend objects the steps own for a model object, named by the steps' own naming functions
// (so that what the GUI shows never drifts from what the steps make), without asking any
// backend: only the models are read (an instance's ports, a slice's cluster, ...). What a step
// makes depends on the object (a VNF run as a VM has no pod, a network without a segment id is
// not in VTN), and only the backends whose steps run are listed.
import { macToOnos } from '../models/ipam/address.js';
import { NotFoundError } from '../models/errors.js';
import type { ModelObject, ModelService } from '../models/service.js';
import { nadName, portsOf } from './kubernetes/networks.js';
import { configMapName, noPodReason, podNameOf } from './kubernetes/pod.js';
import { noVmReason } from './kubernetes/vm.js';
import { nameOf, namespaceOf } from './kubernetes/runtime.js';
import { serviceAccountName } from './kubernetes/service-account.js';
import {
  defaultRouterName,
  neutronSwitchName,
  lspName,
  resolveInstance,
  routerPortName,
  switchName,
  switchRouterPortName,
} from './ovn/names.js';
import { isOvn, ROUTED_TYPES } from './ovn/network.js';
import { openstackPlaceOf, type OpenStackPlace } from './openstack/placement.js';
import { handleOf as openstackHandleOf, openstackName } from './openstack/runtime.js';
import { vtnNetworkName, vtnPortName } from './vtn/names.js';

export type Backend = 'kubernetes' | 'ovn' | 'vtn' | 'openstack';

export interface OwnedObject {
  backend: Backend;
  /** Pod, NetworkAttachmentDefinition, ConfigMap, Namespace, ServiceAccount, Logical_Switch, ... */
  kind: string;
  name: string;
  /** Kubernetes objects: their namespace (absent for a Namespace). */
  namespace?: string;
  /** Kubernetes and OpenStack objects: the cluster, as the steps' status sentences name it. */
  cluster?: string;
  /** One line: what it is for, or why it is not there. */
  detail?: string;
}

export interface OwnedOptions {
  /** The backends whose steps run: the part of the steps' names before "/". */
  backends: ReadonlySet<string>;
  /** The deployment's name in the backends (default $SYNCORD_INSTANCE, else `syncord`). */
  instance?: string;
}

/** At most this many related objects are read for one answer (e.g. a network's ports). */
const READ_LIMIT = 5000;

async function maybe(
  models: ModelService,
  model: string,
  id: unknown,
): Promise<ModelObject | undefined> {
  if (typeof id !== 'number') return undefined;
  try {
    return await models.get(model, id, { includeDeleted: true });
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The cluster a slice's objects go to, as the Kubernetes steps choose it (steps/kubernetes/
 * clusters.ts): the slice's Cluster, else the Cluster marked default_cluster, else the
 * environment's.
 */
async function clusterLabel(models: ModelService, slice: ModelObject | undefined): Promise<string> {
  const own = await maybe(models, 'Cluster', slice?.cluster_id);
  if (own) return `Cluster ${nameOf(own)}`;
  const def = await models.list('Cluster', {
    filter: [
      { field: 'kind', value: 'kubernetes' },
      { field: 'default_cluster', value: true },
    ],
    orderBy: [{ field: 'id' }],
    pageSize: 1,
  });
  return def.items[0] ? `Cluster ${nameOf(def.items[0])}` : 'the default cluster';
}

/** The clusters a trust domain's namespace is in: the default one and its slices'. */
async function clustersOfTrustDomain(models: ModelService, td: ModelObject): Promise<string[]> {
  const out = new Set([await clusterLabel(models, undefined)]);
  const slices = await models.list('Slice', {
    filter: [
      { field: 'trust_domain', value: td.id },
      { field: 'cluster', op: 'notnull' },
    ],
    pageSize: READ_LIMIT,
  });
  for (const slice of slices.items) out.add(await clusterLabel(models, slice));
  return [...out];
}

/** Where an instance's pod goes: its slice's trust domain's namespace, and the cluster. */
async function placeOf(
  models: ModelService,
  si: ModelObject,
): Promise<{ namespace: string; cluster: string } | string> {
  const slice = await maybe(models, 'Slice', si.slice_id);
  if (!slice) return 'it has no slice';
  const td = await maybe(models, 'TrustDomain', slice.trust_domain_id);
  if (!td) return `slice ${nameOf(slice)} has no trust domain`;
  try {
    return { namespace: namespaceOf(td), cluster: await clusterLabel(models, slice) };
  } catch (err) {
    return errorText(err);
  }
}

async function kubernetesObjects(models: ModelService, obj: ModelObject): Promise<OwnedObject[]> {
  const registry = models.registry;
  const k = (o: Omit<OwnedObject, 'backend'>): OwnedObject => ({ backend: 'kubernetes', ...o });
  const isA = (model: string) => registry.get(model).family.includes(obj.leaf_model);
  if (isA('TrustDomain')) {
    let ns: string;
    try {
      ns = namespaceOf(obj);
    } catch (err) {
      return [k({ kind: 'Namespace', name: nameOf(obj), detail: `not made: ${errorText(err)}` })];
    }
    return (await clustersOfTrustDomain(models, obj)).map((cluster) =>
      k({ kind: 'Namespace', name: ns, cluster }),
    );
  }
  if (isA('Principal')) {
    const td = await maybe(models, 'TrustDomain', obj.trust_domain_id);
    try {
      const name = serviceAccountName(obj);
      if (!td) return [k({ kind: 'ServiceAccount', name, detail: 'not made: no trust domain' })];
      const namespace = namespaceOf(td);
      return (await clustersOfTrustDomain(models, td)).map((cluster) =>
        k({ kind: 'ServiceAccount', name, namespace, cluster }),
      );
    } catch (err) {
      return [
        k({ kind: 'ServiceAccount', name: nameOf(obj), detail: `not made: ${errorText(err)}` }),
      ];
    }
  }
  if (isA('ServiceInstance')) {
    // A VM VNF on a Kubernetes cluster is a KubeVirt VirtualMachine of the pod's name.
    const vm = (await noVmReason(models, obj)) === undefined;
    if (!vm && noPodReason(obj)) return [];
    const kind = vm ? 'VirtualMachine' : 'Pod';
    const pod = podNameOf(obj);
    const place = await placeOf(models, obj);
    if (typeof place === 'string') {
      return [k({ kind, name: pod, detail: `not made: ${place}` })];
    }
    const state = vm ? obj.vm_status : obj.pod_phase;
    const phase = typeof state === 'string' && state ? state : '';
    const node = typeof obj.node_name === 'string' && obj.node_name ? ` on ${obj.node_name}` : '';
    const out = [k({ kind, name: pod, ...place, ...(phase ? { detail: `${phase}${node}` } : {}) })];
    const networks = new Map<number, ModelObject>();
    for (const port of await portsOf(models, obj)) {
      const network = await maybe(models, 'Network', port.network_id);
      if (network) networks.set(network.id, network);
    }
    for (const network of networks.values()) {
      out.push(
        k({
          kind: 'NetworkAttachmentDefinition',
          name: nadName(network),
          ...place,
          detail: `Network ${nameOf(network)} (${typeof network.provider === 'string' ? network.provider : 'ovn'}); owned by the Network`,
        }),
      );
    }
    if (!vm && obj.leaf_model === 'VNFServiceInstance' && obj.config != null) {
      out.push(k({ kind: 'ConfigMap', name: configMapName(pod), ...place, detail: 'its config' }));
    }
    return out;
  }
  if (isA('Network')) {
    // A NAD of the network in each namespace with an instance that has a port on it.
    const ports = await models.list('Port', {
      filter: [{ field: 'network', value: obj.id }],
      pageSize: READ_LIMIT,
    });
    const instances = await models.getMany('ServiceInstance', [
      ...new Set(ports.items.map((p) => p.service_instance_id as number)),
    ]);
    const places = new Map<string, { namespace: string; cluster: string }>();
    for (const si of instances) {
      if (noPodReason(si) && (await noVmReason(models, si)) !== undefined) continue;
      const place = await placeOf(models, si);
      if (typeof place !== 'string') places.set(`${place.cluster}/${place.namespace}`, place);
    }
    return [...places.values()].map((place) =>
      k({ kind: 'NetworkAttachmentDefinition', name: nadName(obj), ...place }),
    );
  }
  return [];
}

function ovnObjects(
  instance: string,
  obj: ModelObject,
  network: ModelObject | undefined,
  onOpenStack: boolean,
): OwnedObject[] {
  const o = (x: Omit<OwnedObject, 'backend'>): OwnedObject => ({ backend: 'ovn', ...x });
  if (obj.leaf_model === 'Network') {
    if (!isOvn(obj)) return [];
    const neutron = typeof obj.neutron_network_id === 'string' ? obj.neutron_network_id : '';
    const out = [
      neutron
        ? o({
            kind: 'Logical_Switch',
            name: neutronSwitchName(neutron),
            detail: `${String(obj.subnet)}: Neutron's switch, Syncord's pods' ports on it`,
          })
        : o({ kind: 'Logical_Switch', name: switchName(obj), detail: String(obj.subnet) }),
    ];
    if (obj.dhcp !== false) {
      out.push(o({ kind: 'DHCP_Options', name: String(obj.subnet), detail: 'its DHCP' }));
    }
    const type = typeof obj.type === 'string' ? obj.type : 'PRIVATE';
    if (ROUTED_TYPES.has(type)) {
      const router = defaultRouterName(instance);
      out.push(
        o({
          kind: 'Logical_Router_Port',
          name: routerPortName(instance, obj.id),
          detail: `on ${router}, holding the gateway${type === 'PUBLIC' ? ' (the gateway port)' : ''}`,
        }),
        o({
          kind: 'Logical_Switch_Port',
          name: switchRouterPortName(instance, obj.id),
          detail: `the switch side of ${routerPortName(instance, obj.id)}`,
        }),
      );
    }
    return out;
  }
  if (obj.leaf_model === 'Port' && network && isOvn(network)) {
    const address =
      typeof obj.mac === 'string' && typeof obj.ip === 'string' ? `${obj.mac} ${obj.ip}` : '';
    if (onOpenStack) {
      return [
        o({
          kind: 'Logical_Switch_Port',
          name: typeof obj.port_id === 'string' ? obj.port_id : '(its Neutron port)',
          detail: `Neutron's, for its VM on OpenStack${address ? ` (${address})` : ''}`,
        }),
      ];
    }
    const neutron =
      typeof network.neutron_network_id === 'string' ? network.neutron_network_id : '';
    return [
      o({
        kind: 'Logical_Switch_Port',
        name: lspName(instance, obj),
        detail: `on ${neutron ? neutronSwitchName(neutron) : switchName(network)}${address ? ` (${address})` : ''}`,
      }),
    ];
  }
  return [];
}

async function vtnObjects(
  models: ModelService,
  instance: string,
  obj: ModelObject,
  network?: ModelObject,
): Promise<OwnedObject[]> {
  const v = (x: Omit<OwnedObject, 'backend'>): OwnedObject => ({ backend: 'vtn', ...x });
  if (obj.leaf_model === 'Network') {
    if (typeof obj.segment_id !== 'number') return [];
    return [
      v({
        kind: 'VtnNetwork',
        name: vtnNetworkName(instance, obj),
        detail: `${String(obj.type)}, VNI ${String(obj.segment_id)}`,
      }),
    ];
  }
  if (obj.leaf_model !== 'Port' || !network || typeof network.segment_id !== 'number') return [];
  if (typeof obj.mac !== 'string' || typeof obj.ip !== 'string') return [];
  const out = [
    v({
      kind: 'VtnPort',
      name: vtnPortName(instance, obj),
      detail: `on ${vtnNetworkName(instance, network)}`,
    }),
  ];
  const si = await maybe(models, 'ServiceInstance', obj.service_instance_id);
  const vmRunning = si?.vm_status === 'ACTIVE' || si?.vm_status === 'Running';
  if (si && si.deleted_at === null && (si.pod_phase === 'Running' || vmRunning)) {
    out.push(v({ kind: 'VtnHost', name: macToOnos(obj.mac), detail: `${obj.ip} (running)` }));
  }
  return out;
}

/** A VM instance's server, a VM Port's Neutron port, a Network's Neutron network. */
function openstackObjects(
  models: ModelService,
  instance: string,
  obj: ModelObject,
  place: OpenStackPlace | undefined,
): OwnedObject[] {
  const os = (x: Omit<OwnedObject, 'backend'>): OwnedObject => ({ backend: 'openstack', ...x });
  const registry = models.registry;
  if (registry.get('ServiceInstance').family.includes(obj.leaf_model)) {
    if (!place) return [];
    const status = typeof obj.vm_status === 'string' ? obj.vm_status : 'not booted yet';
    const host = typeof obj.node_name === 'string' && obj.node_name ? ` on ${obj.node_name}` : '';
    const id = typeof obj.server_id === 'string' ? `, ${obj.server_id}` : '';
    return [
      os({
        kind: 'Server',
        // An adopted server keeps its own name: its id (the handle) names it.
        name:
          openstackHandleOf(obj, 'Server') ??
          openstackName(instance, { model: obj.leaf_model, id: obj.id }),
        cluster: `Cluster ${nameOf(place.cluster)}`,
        detail: `${status}${host}${id}`,
      }),
    ];
  }
  if (obj.leaf_model === 'Port') {
    if (!place) return [];
    const address =
      typeof obj.mac === 'string' && typeof obj.ip === 'string' ? `${obj.mac} ${obj.ip}` : '';
    return [
      os({
        kind: 'Port',
        name:
          openstackHandleOf(obj, 'Port') ?? openstackName(instance, { model: 'Port', id: obj.id }),
        cluster: `Cluster ${nameOf(place.cluster)}`,
        detail: `${typeof obj.port_id === 'string' ? obj.port_id : 'not made yet'}${address ? ` (${address})` : ''}`,
      }),
    ];
  }
  if (obj.leaf_model === 'Network' && typeof obj.neutron_network_id === 'string') {
    return [
      os({
        kind: 'Network',
        name:
          openstackHandleOf(obj, 'Network') ??
          openstackName(instance, { model: 'Network', id: obj.id }),
        detail: `${obj.neutron_network_id}, subnet ${String(obj.subnet)}, shared`,
      }),
    ];
  }
  return [];
}

/** The backend objects the steps make for `obj`, in the order the steps run (OVN, Kubernetes, OpenStack, VTN). */
export async function ownedObjects(
  models: ModelService,
  obj: ModelObject,
  options: OwnedOptions,
): Promise<OwnedObject[]> {
  const instance = resolveInstance(options.instance);
  const network =
    obj.leaf_model === 'Port' ? await maybe(models, 'Network', obj.network_id) : undefined;
  // Where a VM instance (or a Port's instance) runs on OpenStack.
  const si =
    obj.leaf_model === 'Port'
      ? await maybe(models, 'ServiceInstance', obj.service_instance_id)
      : models.registry.get('ServiceInstance').family.includes(obj.leaf_model)
        ? obj
        : undefined;
  const place = si ? await openstackPlaceOf(models, si) : undefined;
  const out: OwnedObject[] = [];
  if (options.backends.has('ovn')) {
    out.push(...ovnObjects(instance, obj, network, place !== undefined));
  }
  if (options.backends.has('kubernetes')) out.push(...(await kubernetesObjects(models, obj)));
  if (options.backends.has('openstack')) {
    out.push(...openstackObjects(models, instance, obj, place));
  }
  if (options.backends.has('vtn')) out.push(...(await vtnObjects(models, instance, obj, network)));
  return out;
}
