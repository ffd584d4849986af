// Port → VTN ServicePort (on its network's service network, named after the OVN logical switch
// port, the interface id the node's CNI binds), and, while its instance runs, a VTN host for the
// interface: HostDetected with VTN's annotations (networkId, networkType, portId, createTime) and
// VTN's provider id; HostVanished once the instance no longer runs or the port goes. Only a host
// that carries this port's marks is removed: one with the port's MAC that is not Syncord's (an
// orphaned port's, released) is left alone.
//
// Observed (management_policy observe), the service port of that id and the host on it are read
// and compared with the model, and nothing is written. Released (deletion_policy orphan), both
// stay as they are but for Syncord's three owner annotations: the host keeps VTN's own
// (networkId, networkType, portId, createTime), its place, addresses and provider, and stays
// detected in ONOS; the sweep then leaves them alone (they have no marks).
import { macToOnos } from '../../models/ipam/address.js';
import { NotFoundError } from '../../models/errors.js';
import type { ModelObject } from '../../models/service.js';
import type { StepContext, SyncStep } from '../../synchronizer/engine.js';
import { VLAN_NONE } from '../../backends/vtn/store.js';
import type { HostDetectedRequest } from '../../backends/vtn/generated/cordvtn/HostDetectedRequest.js';
import type { HostProto__Output } from '../../backends/vtn/generated/net/HostProto.js';
import { lspName } from '../ovn/names.js';
import {
  connectPointOf,
  marks,
  ownerOf,
  PORT_HANDLE,
  vtnHandleOf,
  vtnNetworkName,
  vtnPortName,
  withoutMarks,
} from './names.js';
import { differences } from './observe.js';
import type { VtnObserver } from './observer.js';
import { vtnCall, type VtnRuntime } from './runtime.js';

/** The VM states in which its interfaces are up: Nova's ACTIVE, KubeVirt's Running. */
const VM_RUNNING = new Set(['ACTIVE', 'Running']);

/**
 * Whether the port's instance is running (its pod Running, or its VM ACTIVE on Nova or Running
 * on KubeVirt), and on which node (the pod's node, or Nova's compute host).
 */
export function runningOn(instance: ModelObject | undefined): string | undefined {
  if (!instance || instance.deleted_at !== null) return undefined;
  const vm = typeof instance.vm_status === 'string' && VM_RUNNING.has(instance.vm_status);
  if (instance.pod_phase !== 'Running' && !vm) return undefined;
  return typeof instance.node_name === 'string' && instance.node_name
    ? instance.node_name
    : 'unknown';
}

const millis = (t: unknown): string => {
  const ms = typeof t === 'string' ? Date.parse(t) : t instanceof Date ? t.getTime() : NaN;
  return Number.isFinite(ms) ? String(ms) : '0';
};

/**
 * The host a running port's interface is, as VTN's InstanceManager would describe it. `created`:
 * the createTime of an adopted port's host (its interface was made then, not with the model).
 */
export function hostOf(
  rt: VtnRuntime,
  port: ModelObject,
  network: ModelObject,
  node: string,
  created = millis(port.created_at),
): HostDetectedRequest {
  const mac = macToOnos(String(port.mac));
  // A Nova server's interface is the tap device Nova names after its Neutron port.
  const iface =
    typeof port.observed_interface === 'string' && port.observed_interface
      ? port.observed_interface
      : typeof port.port_id === 'string' && port.port_id
        ? `tap${port.port_id.slice(0, 11)}`
        : typeof port.interface_name === 'string' && port.interface_name
          ? port.interface_name
          : lspName(rt.instance, port);
  // createTime: when the port was made, so that a resync does not change the host (VTN bumps it
  // to force an update; Syncord only updates when something real changed).
  return {
    host_id: { mac, vlan_id: VLAN_NONE },
    description: {
      hw_address: mac,
      vlan: VLAN_NONE,
      location: { connect_point: connectPointOf(node, iface), time: created },
      ip_addresses: [String(port.ip)],
      configured: false,
      annotations: {
        networkId: vtnNetworkName(rt.instance, network),
        networkType: String(network.type),
        portId: vtnPortName(rt.instance, port),
        createTime: created,
        ...marks(rt.instance, { model: 'Port', id: port.id }),
      },
    },
    replace_ips: true,
  };
}

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

/** Where a host is, as `of:…/net1`. */
const placeOf = (h: { location?: HostProto__Output['location'] } | undefined): string =>
  h?.location?.connect_point
    ? `${String(h.location.connect_point.device_id)}/${h.location.connect_point.port_number}`
    : '';

export function portStep(rt: VtnRuntime, seen: VtnObserver): SyncStep {
  const isMine = (port: ModelObject, annotations: Record<string, string> | undefined) => {
    const owner = ownerOf(rt.instance, annotations);
    return owner?.model === 'Port' && owner.id === port.id;
  };
  /** Whether VTN has an untagged host of this MAC that carries this port's marks (exactly). */
  const ownHostOf = async (port: ModelObject, mac: string): Promise<boolean> => {
    const hosts = await rt.client.listHosts(marks(rt.instance, { model: 'Port', id: port.id }));
    return hosts.some((h) => h.host_id?.mac === mac && h.host_id.vlan_id === VLAN_NONE);
  };
  /**
   * Whether the port's host is Syncord's to remove: by the watch's replica when it is synced (a
   * resync costs no call), else by asking VTN.
   */
  const hostIsMine = async (port: ModelObject, mac: string): Promise<boolean> => {
    if (!seen.synced) return ownHostOf(port, mac);
    const h = seen.hosts.get(`${mac}/${String(VLAN_NONE)}`);
    return h !== undefined && isMine(port, h.annotations);
  };

  /**
   * An adopted port's host keeps the createTime it was adopted with (the interface was made then):
   * that of the untagged host of its MAC that carries its marks, if any.
   */
  const adoptedTime = async (port: ModelObject): Promise<string | undefined> => {
    if (!vtnHandleOf(port, PORT_HANDLE) || typeof port.mac !== 'string') return undefined;
    const mac = macToOnos(port.mac);
    // By the replica when it has the host marked; else VTN's (adopt() may have just marked it).
    const replica = seen.synced ? seen.hosts.get(`${mac}/${String(VLAN_NONE)}`) : undefined;
    const h =
      replica && isMine(port, replica.annotations)
        ? replica
        : (await rt.client.listHosts(marks(rt.instance, { model: 'Port', id: port.id }))).find(
            (x) => x.host_id?.mac === mac && x.host_id.vlan_id === VLAN_NONE,
          );
    return h && isMine(port, h.annotations) ? h.annotations.createTime : undefined;
  };

  return {
    name: 'vtn/port',
    observes: 'Port',
    // Ports of a batch are concurrent calls on one HTTP/2 connection.
    batch: 500,

    async sync(port: ModelObject, ctx: StepContext): Promise<string> {
      const network = await ctx.models.get('Network', port.network_id as number, {
        includeDeleted: true,
      });
      const id = vtnPortName(rt.instance, port);
      const hostId =
        typeof port.mac === 'string' ? { mac: macToOnos(port.mac), vlan_id: VLAN_NONE } : undefined;
      const vanish = async () =>
        hostId && !seen.lacksHost(hostId.mac) && (await hostIsMine(port, hostId.mac))
          ? rt.client.hostVanished(hostId)
          : false;
      if (typeof network.segment_id !== 'number') {
        // Its network is not in VTN: nor is it (any earlier record goes).
        await vanish();
        if (!seen.synced || seen.ports.has(id)) await rt.client.deletePort(id);
        return 'not in VTN: its network has no segment_id';
      }
      if (typeof port.mac !== 'string' || typeof port.ip !== 'string') {
        return 'not in VTN yet: no address or MAC';
      }
      const netId = vtnNetworkName(rt.instance, network);
      const want = {
        id,
        network_id: netId,
        name: lspName(rt.instance, port),
        mac_address: port.mac,
        ip_address: port.ip,
        floating_address_pairs: [],
        annotations: marks(rt.instance, { model: 'Port', id: port.id }),
      };
      // VTN has it as wanted already (by the watch's replica): no call.
      if (!seen.hasPort(want)) await vtnCall(`port ${id}`, () => rt.client.putPort(want));
      const node = runningOn(await instanceOf(ctx, port));
      if (node === undefined) {
        const removed = await vanish();
        return `service port ${id} on ${netId}${removed ? '; host vanished (its instance is not running)' : ''}`;
      }
      const host = hostOf(rt, port, network, node, await adoptedTime(port));
      // VTN has the host as wanted already (by the watch's replica): no call.
      const changed =
        !seen.hasHost(host) &&
        (await vtnCall(`host of port ${id}`, () => rt.client.hostDetected(host))).changed;
      return `service port ${id} on ${netId}; host ${String(host.host_id?.mac)} on ${node}${changed ? ' detected' : ''}`;
    },

    async delete(port: ModelObject): Promise<string> {
      const id = vtnPortName(rt.instance, port);
      const done: string[] = [];
      if (typeof port.mac === 'string') {
        const mac = macToOnos(port.mac);
        if (
          (await ownHostOf(port, mac)) &&
          (await rt.client.hostVanished({ mac, vlan_id: VLAN_NONE }))
        ) {
          done.push('host vanished');
        }
      }
      if (await rt.client.deletePort(id)) done.push(`removed service port ${id}`);
      return done.length ? done.join('; ') : `no service port ${id} to remove`;
    },

    async observe(port: ModelObject, ctx: StepContext): Promise<string> {
      const id = vtnPortName(rt.instance, port);
      const network = await ctx.models.get('Network', port.network_id as number, {
        includeDeleted: true,
      });
      const have = await rt.client.getPort(id);
      if (!have) {
        // What sync would leave: no service port.
        if (typeof network.segment_id !== 'number') {
          return 'not in VTN: its network has no segment_id';
        }
        throw new Error(`ServicePort ${id} is not there`);
      }
      const mac = typeof port.mac === 'string' ? macToOnos(port.mac) : '';
      const ip = typeof port.ip === 'string' ? port.ip : '';
      // The host sync would detect: the port's MAC, untagged (by the watch's replica when it
      // is synced; else VTN's list).
      const hostMac = mac || have.mac_address;
      const host = !hostMac
        ? undefined
        : seen.synced
          ? seen.hosts.get(`${hostMac}/${String(VLAN_NONE)}`)
          : (await rt.client.listHosts({})).find(
              (h) => h.host_id?.mac === hostMac && h.host_id.vlan_id === VLAN_NONE,
            );
      const node = runningOn(await instanceOf(ctx, port));
      const want = node !== undefined && mac && ip ? hostOf(rt, port, network, node) : undefined;
      const hostText = (h: typeof host) =>
        h
          ? `${String(h.host_id?.mac)} at ${placeOf(h)} (${h.ip_addresses.join(' ') || 'no address'})`
          : '';
      const wantText = want
        ? `${mac} at ${placeOf({ location: want.description!.location as HostProto__Output['location'] })} (${ip})`
        : '';
      return (
        `ServicePort ${id} on ${have.network_id}: ${have.ip_address || 'no address'}, ` +
        `${have.mac_address || 'no MAC'}, interface ${have.name || 'none'}; ` +
        (host ? `host ${hostText(host)}` : 'no host') +
        differences([
          ['network', have.network_id, vtnNetworkName(rt.instance, network)],
          ['interface', have.name, lspName(rt.instance, port)],
          ['MAC', have.mac_address, mac],
          ['IP', have.ip_address, ip],
          ['host', hostText(host), wantText],
        ])
      );
    },

    async release(port: ModelObject): Promise<string> {
      const id = vtnPortName(rt.instance, port);
      const owner = { model: 'Port', id: port.id };
      const released: string[] = [];
      // The host first (as delete() removes it first): as it is, but for the marks.
      if (typeof port.mac === 'string') {
        const mac = macToOnos(port.mac);
        for (const h of await rt.client.listHosts(marks(rt.instance, owner))) {
          if (h.host_id?.mac !== mac) continue;
          const annotations = withoutMarks(rt.instance, owner, h.annotations);
          if (!annotations) continue;
          const cp = h.location?.connect_point;
          await rt.client.hostDetected({
            host_id: { mac, vlan_id: h.host_id.vlan_id },
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
              annotations,
            },
            replace_ips: true,
            ...(h.provider_id ? { provider_id: h.provider_id } : {}),
          });
          released.push(`host ${mac}`);
        }
      }
      const have = await rt.client.getPort(id);
      const annotations = have && withoutMarks(rt.instance, owner, have.annotations);
      if (have && annotations) {
        await rt.reannotatePort(have, annotations);
        released.push(`service port ${id}`);
      }
      return released.length
        ? `released ${released.join(' and ')}: owner annotations removed`
        : `nothing of service port ${id} carries its owner annotations`;
    },

    // A pod that starts or stops running (feedback on its instance) detects or removes its
    // ports' hosts; a network edit (type, segment id) changes its ports' records.
    affectedByStatus: true,
    derivedFrom: {
      Network: (obj) =>
        JSON.stringify([vtnNetworkName(rt.instance, obj), obj.type, obj.segment_id]),
    },
    async affectedBy(change, ctx): Promise<number[]> {
      const field =
        change.model === 'Network' && !change.status
          ? 'network'
          : ctx.models.registry.has(change.model) &&
              ctx.models.registry.get('ServiceInstance').family.includes(change.model)
            ? 'service_instance'
            : undefined;
      if (!field) return [];
      const page = await ctx.models.list('Port', {
        filter: [{ field, value: change.id }],
        pageSize: 5000,
      });
      return page.items.map((p) => p.id);
    },
  };
}
