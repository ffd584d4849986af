// Adoption from ONOS-VTN (synchronizer/adopt.ts): service networks and service ports that carry
// no Syncord annotations become Networks and Ports, and the steps' adopt() puts the owner
// annotations on them (and on a running port's host).
//
// A candidate is offered only as what Syncord's sync would leave exactly as it is, so that
// adopting changes nothing but the annotations:
// - a ServiceNetwork with a name, a service IP (the Network's gateway), no providers (Syncord
//   derives them from ServiceDependency: an adopted Network has none) and no annotations of its
//   own (the step writes its marks as the annotations);
// - a ServicePort, on such a network or on a Network of this deployment's, with a name (the
//   interface VTN matches: the adopted Port keeps it, as its handle's `ovn/Logical_Switch_Port`,
//   the name Syncord gives that interface on every backend), a MAC and an address, untagged, with
//   no floating address pairs and no annotations of its own. A Port belongs to a ServiceInstance:
//   the filter's `instance` names the one the adopted ports are given (a VTN port does not say
//   whose interface it is). When that instance runs, the port's host (the untagged host of its
//   MAC), if VTN has one, must be where Syncord would detect it (the node's connect point, the
//   port's name as the port number), with the port's address, VTN's provider and VTN's own
//   annotations only; its createTime is kept (hostOf). When it does not run, VTN must have no
//   host for it (Syncord detects hosts of running instances only).
// Anything else is listed with the reason it cannot be adopted yet. The handles:
// `{"vtn/ServiceNetwork": id}` and `{"vtn/ServicePort": id, "ovn/Logical_Switch_Port": name}`.
import type { HostProto__Output } from '../../backends/vtn/generated/net/HostProto.js';
import type { ServiceNetwork__Output } from '../../backends/vtn/generated/cordvtn/ServiceNetwork.js';
import type { ServicePort__Output } from '../../backends/vtn/generated/cordvtn/ServicePort.js';
import { VLAN_NONE, VTN_PROVIDER } from '../../backends/vtn/store.js';
import { VTN_NETWORK_TYPES } from '../../models/core.js';
import { macToOnos, normalizeMac } from '../../models/ipam/address.js';
import type { ModelObject } from '../../models/service.js';
import {
  instanceOf,
  networkIdentity,
  portIdentity,
  type AdoptCandidate,
  type AdoptSource,
} from '../../synchronizer/adopt.js';
import type { StepContext } from '../../synchronizer/engine.js';
import {
  connectPointOf,
  INSTANCE_KEY,
  marks,
  NETWORK_HANDLE,
  HOST_AT,
  hostAt,
  ownerOf,
  PORT_HANDLE,
  vtnHandleOf,
  vtnNetworkName,
  vtnPortName,
} from './names.js';
import { runningOn } from './port.js';
import type { VtnRuntime } from './runtime.js';

const NETWORK = 'ServiceNetwork';
const PORT = 'ServicePort';
/** The OVN handle key an adopted Port's interface name is kept under (ovn/names.ts lspName). */
const INTERFACE_HANDLE = 'ovn/Logical_Switch_Port';

/** Whether annotations carry any of Syncord's marks (of any deployment). */
const marked = (annotations: Record<string, string> | undefined) =>
  Object.keys(annotations ?? {}).some((k) => k.startsWith('syncord-'));

const plural = (n: number, word: string) => `${String(n)} ${word}${n === 1 ? '' : 's'}`;

interface View {
  values: Record<string, unknown>;
  detail: string;
  problem?: string;
}

/** What a service network would be as a Network, and why it cannot be adopted as it is, if so. */
function networkView(n: ServiceNetwork__Output, ports: number): View {
  const values: Record<string, unknown> = {
    name: n.name,
    type: n.type,
    segment_id: Number(n.segment_id),
    subnet: n.subnet,
  };
  if (n.service_ip) values.gateway = n.service_ip;
  const detail = `${n.type}, VNI ${n.segment_id}, ${n.subnet}, service IP ${n.service_ip || 'none'}, ${plural(ports, 'port')}`;
  const problem = (why: string): View => ({ values, detail, problem: why });
  if (!n.name) return problem('it has no name (a Network needs one)');
  if (!(VTN_NETWORK_TYPES as readonly string[]).includes(n.type)) {
    return problem(`its type ${n.type} is not one a Network has`);
  }
  if (!n.service_ip) {
    return problem(
      "it has no service IP (a Network's gateway is its service IP: Syncord would set one)",
    );
  }
  if (n.providers.length) {
    return problem(
      `it has providers (${n.providers.map((p) => p.id).join(', ')}): Syncord derives them from ServiceDependency and would remove them`,
    );
  }
  const own = Object.keys(n.annotations);
  if (own.length) {
    return problem(
      `it has annotations of its own (${own.join(', ')}): Syncord's annotations would replace them`,
    );
  }
  return { values, detail };
}

/** What a service port would be as a Port, and why it cannot be adopted as it is, if so. */
function portView(p: ServicePort__Output): View {
  const values: Record<string, unknown> = {};
  const detail = `${p.ip_address || 'no address'}, ${p.mac_address || 'no MAC'}, interface ${p.name || 'none'} on ${p.network_id}`;
  const problem = (why: string): View => ({ values, detail, problem: why });
  if (p.name) values.name = p.name;
  if (p.mac_address) values.mac = normalizeMac(p.mac_address);
  if (p.ip_address) values.ip = p.ip_address;
  if (!p.name) {
    return problem(
      'it has no name (the interface VTN matches: Syncord would name it after the Port)',
    );
  }
  if (!p.mac_address || !p.ip_address) {
    return problem('it needs a MAC and an address (IPAM would give the Port others)');
  }
  if (p.vlan_id !== undefined) {
    return problem(`it is tagged (VLAN ${String(p.vlan_id)}): Syncord's ports are untagged`);
  }
  if (p.floating_address_pairs.length) {
    return problem('it has floating address pairs (Syncord would remove them)');
  }
  const own = Object.keys(p.annotations);
  if (own.length) {
    return problem(
      `it has annotations of its own (${own.join(', ')}): Syncord's annotations would replace them`,
    );
  }
  return { values, detail };
}

/**
 * Why a port's host is not as Syncord would leave it, if so: `node` is where the port's instance
 * runs (undefined: it does not run; null: its instance is unknown, and where the host is is left
 * to HOST_AT), `networkType` its network's.
 */
function hostProblem(
  p: ServicePort__Output,
  host: HostProto__Output | undefined,
  node: string | null | undefined,
  networkType: string,
  instanceName: string,
): string | undefined {
  if (!host) return undefined; // a running instance's host is detected by the first sync
  const mac = host.host_id?.mac ?? '';
  if (marked(host.annotations)) {
    const owner = ownerOf(host.annotations[INSTANCE_KEY] ?? '', host.annotations);
    return `its host ${mac} carries Syncord's annotations${owner ? ` (${owner.model} ${String(owner.id)})` : ''}`;
  }
  if (node === undefined) {
    return `VTN has a host ${mac} for it, but ServiceInstance ${instanceName} is not running (Syncord detects hosts of running instances only)`;
  }
  const have = host.location?.connect_point;
  if (node !== null) {
    const cp = connectPointOf(node, p.name);
    if (have?.device_id !== cp.device_id || have.port_number !== cp.port_number) {
      return `its host ${mac} is at ${String(have?.device_id)}/${String(have?.port_number)}, not where Syncord detects it for ${instanceName} on ${node} (${cp.device_id}/${cp.port_number})`;
    }
  }
  const a = host.annotations;
  const wanted = { networkId: p.network_id, networkType, portId: p.id };
  const keys = Object.keys(a).sort().join(',');
  if (
    keys !== 'createTime,networkId,networkType,portId' ||
    Object.entries(wanted).some(([k, v]) => a[k] !== v)
  ) {
    return `its host ${mac} has annotations ${JSON.stringify(a)} (Syncord's host has networkId, networkType, portId and createTime of this port only)`;
  }
  if ((host.location?.time ?? '0') !== a.createTime) {
    return `its host ${mac} was located at ${host.location?.time ?? '0'}, not at its createTime ${String(a.createTime)}`;
  }
  if (host.ip_addresses.length !== 1 || host.ip_addresses[0] !== p.ip_address) {
    return `its host ${mac} has addresses ${host.ip_addresses.join(' ') || 'none'} (Syncord's has the port's only)`;
  }
  const provider = host.provider_id;
  if (
    host.configured ||
    provider?.scheme !== VTN_PROVIDER.scheme ||
    provider.id !== VTN_PROVIDER.id ||
    provider.ancillary !== VTN_PROVIDER.ancillary
  ) {
    return `its host ${mac} is configured or not VTN's provider's (Syncord's hosts are VTN's)`;
  }
  return undefined;
}

/** Service networks and service ports without Syncord annotations, as candidates. */
export function vtnAdoptSource(rt: VtnRuntime): AdoptSource {
  return {
    backend: 'vtn',
    async discover(models, filter) {
      const kinds = filter.kinds?.length ? new Set(filter.kinds) : undefined;
      const networks = await rt.client.listNetworks({});
      const ports = await rt.client.listPorts({});
      const out: AdoptCandidate[] = [];
      const networkKey = (id: string) => `vtn/${NETWORK}/${id}`;
      const portsOn = new Map<string, number>();
      for (const p of ports) portsOn.set(p.network_id, (portsOn.get(p.network_id) ?? 0) + 1);
      // Networks that may have adoptable ports: Syncord's Networks (their own service networks
      // and adopted ones), and the unmarked service networks, by VTN id.
      const ours = new Map<string, ModelObject>();
      const views = new Map<string, View>();
      for (const n of networks) {
        const owner = ownerOf(rt.instance, n.annotations);
        if (owner?.model === 'Network') {
          const network = await models.get('Network', owner.id).catch(() => undefined);
          if (network) ours.set(n.id, network);
          continue;
        }
        if (marked(n.annotations)) continue; // another deployment's, or not a Network's
        const view = networkView(n, portsOn.get(n.id) ?? 0);
        views.set(n.id, view);
        if (kinds && !kinds.has(NETWORK)) continue;
        out.push({
          key: networkKey(n.id),
          backend: 'vtn',
          kind: NETWORK,
          name: n.id,
          detail: view.detail,
          model: 'Network',
          values: view.values,
          handle: { [NETWORK_HANDLE]: n.id },
          ...(n.subnet ? { identity: networkIdentity(n.subnet) } : {}),
          ...(view.problem ? { problem: view.problem } : {}),
        });
      }
      if (kinds && !kinds.has(PORT)) return out;
      const instance = await instanceOf(models, filter);
      const node = typeof instance === 'string' ? undefined : runningOn(instance);
      const hosts = new Map<string, HostProto__Output>();
      for (const h of await rt.client.listHosts({})) {
        if (h.host_id?.vlan_id === VLAN_NONE) hosts.set(h.host_id.mac, h);
      }
      const typeOf = new Map(networks.map((n) => [n.id, n.type]));
      for (const p of ports) {
        if (marked(p.annotations)) continue;
        const network = ours.get(p.network_id);
        const netView = views.get(p.network_id);
        if (!network && !netView) continue; // on a network that is not Syncord's to adopt
        const view = portView(p);
        const host = p.mac_address ? hosts.get(macToOnos(p.mac_address)) : undefined;
        const networkType = network ? String(network.type) : (typeOf.get(p.network_id) ?? '');
        const real =
          view.problem ??
          (netView?.problem
            ? `its network ${p.network_id} cannot be adopted: ${netView.problem}`
            : undefined) ??
          (typeof instance === 'string' ? hostProblem(p, host, null, networkType, '') : undefined);
        const problem =
          real ??
          (typeof instance === 'string'
            ? instance
            : hostProblem(
                p,
                host,
                node,
                networkType,
                typeof instance.name === 'string' ? instance.name : String(instance.id),
              ));
        const running =
          typeof instance === 'string'
            ? ''
            : node === undefined
              ? ''
              : host
                ? `; host on ${node}`
                : `; its instance runs on ${node}: the first sync detects its host`;
        out.push({
          key: `vtn/${PORT}/${p.id}`,
          backend: 'vtn',
          kind: PORT,
          name: p.id,
          detail: `${view.detail}${running}`,
          model: 'Port',
          values: {
            ...view.values,
            ...(network ? { network_id: network.id } : {}),
            ...(typeof instance === 'string' ? {} : { service_instance_id: instance.id }),
          },
          ...(network ? {} : { refs: { network_id: networkKey(p.network_id) } }),
          handle: { [PORT_HANDLE]: p.id, ...(p.name ? { [INTERFACE_HANDLE]: p.name } : {}) },
          ...(p.mac_address ? { identity: portIdentity(p.mac_address) } : {}),
          // Whose port it is decides where its host should be: a candidate that tells (a pod's
          // interface) must say the same place.
          ...(typeof instance === 'string' && host
            ? { facts: { [HOST_AT]: hostAt(host.location?.connect_point) } }
            : {}),
          // A VTN port does not say whose interface it is; its name is the interface's (the
          // handle), whatever the Port's.
          guessed: ['service_instance_id', 'name'],
          ...(problem ? { problem } : {}),
          ...(problem && !real && typeof instance === 'string' ? { guessOnly: true } : {}),
        });
      }
      return out;
    },
  };
}

/**
 * The annotations with this owner's marks added, or undefined when they carry them already;
 * refused when another owner (or another deployment) marked the object.
 */
function marking(
  rt: VtnRuntime,
  what: string,
  annotations: Record<string, string>,
  owner: { model: string; id: number },
): Record<string, string> | undefined {
  const other = ownerOf(rt.instance, annotations);
  if (other && (other.model !== owner.model || other.id !== owner.id)) {
    throw new Error(`${what} belongs to ${other.model} ${String(other.id)}`);
  }
  const deployment = annotations[INSTANCE_KEY];
  if (deployment !== undefined && deployment !== rt.instance) {
    throw new Error(`${what} belongs to Syncord deployment ${deployment}`);
  }
  const want = marks(rt.instance, owner);
  if (Object.entries(want).every(([k, v]) => annotations[k] === v)) return undefined;
  return { ...annotations, ...want };
}

/** The Network step's adopt(): Syncord's annotations onto the service network it was made from. */
export function adoptNetwork(rt: VtnRuntime) {
  return async (network: ModelObject): Promise<string | undefined> => {
    // Adopted from another backend: VTN has nothing of it (the sync makes its network).
    if (!vtnHandleOf(network, NETWORK_HANDLE)) return undefined;
    const id = vtnNetworkName(rt.instance, network);
    const have = await rt.client.getNetwork(id);
    if (!have) throw new Error(`ServiceNetwork ${id} is not there`);
    const annotations = marking(rt, `ServiceNetwork ${id}`, have.annotations, {
      model: 'Network',
      id: network.id,
    });
    if (!annotations) return `ServiceNetwork ${id} marked already`;
    await rt.reannotateNetwork(have, annotations);
    return `marked ServiceNetwork ${id}`;
  };
}

/**
 * The Port step's adopt(): Syncord's annotations onto the service port it was made from and, when
 * its instance runs, onto the host of its MAC (untagged) on that port.
 */
export function adoptPort(rt: VtnRuntime) {
  return async (port: ModelObject, ctx: StepContext): Promise<string | undefined> => {
    if (!vtnHandleOf(port, PORT_HANDLE)) return undefined;
    const id = vtnPortName(rt.instance, port);
    const owner = { model: 'Port', id: port.id };
    const have = await rt.client.getPort(id);
    if (!have) throw new Error(`ServicePort ${id} is not there`);
    const done: string[] = [];
    const annotations = marking(rt, `ServicePort ${id}`, have.annotations, owner);
    if (annotations) {
      await rt.reannotatePort(have, annotations);
      done.push(`marked ServicePort ${id}`);
    } else {
      done.push(`ServicePort ${id} marked already`);
    }
    const instance = await ctx.models
      .get('ServiceInstance', port.service_instance_id as number, { includeDeleted: true })
      .catch(() => undefined);
    if (runningOn(instance) !== undefined && typeof port.mac === 'string') {
      const mac = macToOnos(port.mac);
      const h = (await rt.client.listHosts({})).find(
        (x) => x.host_id?.mac === mac && x.host_id.vlan_id === VLAN_NONE,
      );
      if (h && h.annotations.portId === id) {
        const hostMarks = marking(rt, `host ${mac}`, h.annotations, owner);
        if (hostMarks) {
          const cp = h.location?.connect_point;
          await rt.client.hostDetected({
            host_id: { mac, vlan_id: VLAN_NONE },
            description: {
              hw_address: mac,
              vlan: h.vlan,
              location: {
                connect_point: {
                  device_id: cp?.device_id ?? '',
                  port_number: cp?.port_number ?? '',
                },
                time: h.location?.time ?? '0',
              },
              ip_addresses: h.ip_addresses,
              configured: h.configured,
              annotations: hostMarks,
            },
            replace_ips: true,
            ...(h.provider_id ? { provider_id: h.provider_id } : {}),
          });
          done.push(`marked host ${mac}`);
        } else {
          done.push(`host ${mac} marked already`);
        }
      }
    }
    return done.join('; ');
  };
}
