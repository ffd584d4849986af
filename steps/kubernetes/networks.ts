// Multus: a NetworkAttachmentDefinition per Network in each namespace that uses it (named after
// the network, its CNI config naming the network's provider), the pod's
// `k8s.v1.cni.cncf.io/networks` request with the addresses and MACs IPAM gave the Ports, and the
// `k8s.v1.cni.cncf.io/network-status` Multus writes back.
import { dnsSafeName, ownerLabels, type KubeObject } from '../../backends/kubernetes/index.js';
import { defaultGateway, formatAddress, parseCidr } from '../../models/ipam/address.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError } from '../../synchronizer/engine.js';
import { lspName, ovnPortFor, resolveInstance, switchName } from '../ovn/names.js';
import type { KubernetesStepOptions } from './runtime.js';

export const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
export const NAD_API = 'k8s.cni.cncf.io/v1';
export const NAD_KIND = 'NetworkAttachmentDefinition';

/** One Port as an attachment of the pod. */
export interface Attachment {
  port: ModelObject;
  network: ModelObject;
  /** The NetworkAttachmentDefinition's name. */
  nad: string;
  interface: string;
  /** The address with the network's prefix length, e.g. "10.1.0.5/24". */
  ip: string;
  mac: string;
}

/** One element of the JSON form of the networks annotation (multi-net spec). */
export interface NetworkSelection {
  name: string;
  namespace?: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  /** For an OVN network: `{ovnPort}`, the logical switch port the CNI binds (its iface-id). */
  'cni-args'?: Record<string, string>;
}

export interface NetworkStatusEntry {
  name: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  default?: boolean;
}

/** A network's NAD name: its own when it is a DNS label, else `network-<id>`. */
export const nadName = (network: ModelObject): string =>
  dnsSafeName(network.name, 'network', network.id);

/** The live Ports of an instance, in id order. */
export async function portsOf(models: ModelService, si: ModelObject): Promise<ModelObject[]> {
  // Concurrent reconciles' asks go in one query (the synchronizer's cached service).
  return models.listReferring('Port', 'service_instance', si.id);
}

/**
 * Each port's interface in the pod: its interface_name, else net<N> for the N-th port (as Multus
 * names them), moved on to the next free net<K> when another port asked for that name.
 */
export function interfaceNames(ports: readonly ModelObject[]): Map<number, string> {
  const taken = new Set(
    ports.map((p) => p.interface_name).filter((n): n is string => typeof n === 'string' && !!n),
  );
  const out = new Map<number, string>();
  ports.forEach((p, i) => {
    if (typeof p.interface_name === 'string' && p.interface_name) {
      out.set(p.id, p.interface_name);
      return;
    }
    let n = i + 1;
    while (taken.has(`net${String(n)}`)) n++;
    const name = `net${String(n)}`;
    taken.add(name);
    out.set(p.id, name);
  });
  return out;
}

/** The instance's Ports as attachments, with their networks. */
export async function attachmentsOf(models: ModelService, si: ModelObject): Promise<Attachment[]> {
  const ports = await portsOf(models, si);
  const names = interfaceNames(ports);
  const networks = new Map<number, ModelObject>();
  const out: Attachment[] = [];
  for (const port of ports) {
    const networkId = port.network_id as number;
    let network = networks.get(networkId);
    if (!network) {
      network = await models.get('Network', networkId, { includeDeleted: true });
      networks.set(networkId, network);
    }
    if (typeof port.ip !== 'string' || typeof port.mac !== 'string') {
      throw new WaitingError(`waiting for Port ${String(port.id)} to get its address and MAC`);
    }
    const prefix = parseCidr(network.subnet as string).prefix;
    out.push({
      port,
      network,
      nad: nadName(network),
      interface: names.get(port.id)!,
      ip: `${port.ip}/${String(prefix)}`,
      mac: port.mac,
    });
  }
  return out;
}

/**
 * The pod's networks annotation (JSON form), or undefined for a pod on no extra network. An
 * interface on an OVN network names, in `cni-args`, the logical switch port Syncord's OVN steps
 * made for its Port, so the node's CNI binds that port (when those steps run for the deployment:
 * `instance`, by default $SYNCORD_INSTANCE).
 */
export function networksAnnotation(
  namespace: string,
  attachments: readonly Attachment[],
  instance: string = resolveInstance(),
  /** Whether the deployment's OVN steps run (default: whether they run in this process). */
  ovn?: boolean,
): string | undefined {
  if (attachments.length === 0) return undefined;
  const list: NetworkSelection[] = attachments.map((a) => {
    const onOvn = (a.network.provider ?? 'ovn') === 'ovn';
    const ovnPort = !onOvn
      ? undefined
      : ovn === undefined
        ? ovnPortFor(instance, a.port)
        : ovn
          ? lspName(instance, a.port)
          : undefined;
    return {
      name: a.nad,
      namespace,
      interface: a.interface,
      ips: [a.ip],
      mac: a.mac,
      ...(ovnPort ? { 'cni-args': { ovnPort } } : {}),
    };
  });
  return JSON.stringify(list);
}

/** Parses the networks annotation in either form (JSON list, or `a, ns/b@eth1`). */
export function parseNetworks(raw: string | undefined, namespace: string): NetworkSelection[] {
  const text = raw?.trim();
  if (!text) return [];
  if (text.startsWith('[')) {
    try {
      const list = JSON.parse(text) as unknown;
      if (!Array.isArray(list)) return [];
      return list
        .filter((e): e is NetworkSelection => typeof (e as NetworkSelection).name === 'string')
        .map((e) => ({ ...e, namespace: e.namespace ?? namespace }));
    } catch {
      return [];
    }
  }
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const [ref = '', iface] = item.split('@');
      const [a = '', b] = ref.split('/');
      return b === undefined
        ? { name: a, namespace, interface: iface }
        : { name: b, namespace: a, interface: iface };
    });
}

export function parseNetworkStatus(raw: string | undefined): NetworkStatusEntry[] {
  if (!raw) return [];
  try {
    const list = JSON.parse(raw) as unknown;
    return Array.isArray(list)
      ? list.filter(
          (e): e is NetworkStatusEntry => typeof (e as NetworkStatusEntry).name === 'string',
        )
      : [];
  } catch {
    return [];
  }
}

/**
 * The CNI config of a network's NAD. Addresses and MACs are not the CNI's to choose: IPAM gave
 * them, the pod asks for them (`ips`, `mac`), so every config takes them as runtime capabilities
 * with static IPAM.
 */
export function cniConfig(
  options: KubernetesStepOptions,
  network: ModelObject,
  name: string,
): Record<string, unknown> {
  const subnet = parseCidr(network.subnet as string);
  const gateway =
    typeof network.gateway === 'string' && network.gateway
      ? network.gateway
      : formatAddress(subnet.family, defaultGateway(subnet));
  const mtu = typeof network.mtu === 'number' ? { mtu: network.mtu } : {};
  const dns =
    typeof network.dns_servers === 'string' && network.dns_servers.trim()
      ? { dns: { nameservers: network.dns_servers.trim().split(/\s+/) } }
      : {};
  const common = {
    cniVersion: '0.4.0',
    name,
  };
  const tail = {
    capabilities: { ips: true, mac: true },
    ipam: { type: 'static' },
    ...dns,
  };
  switch (network.provider) {
    case 'sriov':
      return {
        ...common,
        type: 'sriov',
        ...(typeof network.segment_id === 'number' ? { vlan: network.segment_id } : {}),
        ...tail,
      };
    case 'flannel':
      return {
        ...common,
        type: 'macvlan',
        master: options.macvlanMaster ?? 'eth0',
        mode: 'bridge',
        ...mtu,
        ...tail,
      };
    default:
      // OVN, in the manner of ovn4nfv-k8s-plugin and kube-ovn: the logical switch Syncord's OVN
      // backend made for the network, with its plan; the node's OVN CNI plugs the interface into it.
      return {
        ...common,
        type: options.ovnCniType ?? 'ovn4nfvk8s-cni',
        logical_switch: switchName(network),
        subnet: subnet.cidr,
        gateway,
        ...(typeof network.segment_id === 'number' ? { segment_id: network.segment_id } : {}),
        ...mtu,
        ...tail,
      };
  }
}

/** The NAD of a network in a namespace, labelled as the network's. */
export function nadObject(
  options: KubernetesStepOptions,
  instance: string,
  namespace: string,
  network: ModelObject,
): KubeObject & { spec: { config: string } } {
  const name = nadName(network);
  const annotations: Record<string, string> =
    network.provider === 'sriov' && options.sriovResourceName
      ? { 'k8s.v1.cni.cncf.io/resourceName': options.sriovResourceName }
      : {};
  return {
    apiVersion: NAD_API,
    kind: NAD_KIND,
    metadata: {
      name,
      namespace,
      labels: ownerLabels(instance, { model: 'Network', id: network.id }),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: { config: JSON.stringify(cniConfig(options, network, name)) },
  };
}
