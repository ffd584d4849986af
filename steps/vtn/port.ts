// Port → VTN ServicePort (on its network's service network, named after the OVN logical switch
// port, the interface id the node's CNI binds), and, while its instance runs, a VTN host for the
// interface: HostDetected with VTN's annotations (networkId, networkType, portId, createTime) and
// VTN's provider id; HostVanished once the instance no longer runs or the port goes.
import { macToOnos } from '../../models/ipam/address.js';
import { NotFoundError } from '../../models/errors.js';
import type { ModelObject } from '../../models/service.js';
import type { StepContext, SyncStep } from '../../synchronizer/engine.js';
import { VLAN_NONE } from '../../backends/vtn/store.js';
import type { HostDetectedRequest } from '../../backends/vtn/generated/cordvtn/HostDetectedRequest.js';
import { portName } from '../ovn/names.js';
import { connectPointOf, marks, vtnNetworkId, vtnPortId } from './names.js';
import type { VtnObserver } from './observer.js';
import { vtnCall, type VtnRuntime } from './runtime.js';

/** The VM states in which its interfaces are up: Nova's ACTIVE, KubeVirt's Running. */
const VM_RUNNING = new Set(['ACTIVE', 'Running']);

/**
 * Whether the port's instance is running (its pod Running, or its VM ACTIVE on Nova or Running
 * on KubeVirt), and on which node (the pod's node, or Nova's compute host).
 */
function runningOn(instance: ModelObject | undefined): string | undefined {
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

/** The host a running port's interface is, as VTN's InstanceManager would describe it. */
export function hostOf(
  rt: VtnRuntime,
  port: ModelObject,
  network: ModelObject,
  node: string,
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
          : portName(rt.instance, port.id);
  // createTime: when the port was made, so that a resync does not change the host (VTN bumps it
  // to force an update; Syncord only updates when something real changed).
  const created = millis(port.created_at);
  return {
    host_id: { mac, vlan_id: VLAN_NONE },
    description: {
      hw_address: mac,
      vlan: VLAN_NONE,
      location: { connect_point: connectPointOf(node, iface), time: created },
      ip_addresses: [String(port.ip)],
      configured: false,
      annotations: {
        networkId: vtnNetworkId(rt.instance, network.id),
        networkType: String(network.type),
        portId: vtnPortId(rt.instance, port.id),
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

export function portStep(rt: VtnRuntime, seen: VtnObserver): SyncStep {
  return {
    name: 'vtn/port',
    observes: 'Port',
    // Ports of a batch are concurrent calls on one HTTP/2 connection.
    batch: 500,

    async sync(port: ModelObject, ctx: StepContext): Promise<string> {
      const network = await ctx.models.get('Network', port.network_id as number, {
        includeDeleted: true,
      });
      const id = vtnPortId(rt.instance, port.id);
      const hostId =
        typeof port.mac === 'string' ? { mac: macToOnos(port.mac), vlan_id: VLAN_NONE } : undefined;
      const vanish = async () =>
        hostId && !seen.lacksHost(hostId.mac) ? rt.client.hostVanished(hostId) : false;
      if (typeof network.segment_id !== 'number') {
        // Its network is not in VTN: nor is it (any earlier record goes).
        await vanish();
        if (!seen.synced || seen.ports.has(id)) await rt.client.deletePort(id);
        return 'not in VTN: its network has no segment_id';
      }
      if (typeof port.mac !== 'string' || typeof port.ip !== 'string') {
        return 'not in VTN yet: no address or MAC';
      }
      const netId = vtnNetworkId(rt.instance, network.id);
      const want = {
        id,
        network_id: netId,
        name: portName(rt.instance, port.id),
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
      const host = hostOf(rt, port, network, node);
      // VTN has the host as wanted already (by the watch's replica): no call.
      const changed =
        !seen.hasHost(host) &&
        (await vtnCall(`host of port ${id}`, () => rt.client.hostDetected(host))).changed;
      return `service port ${id} on ${netId}; host ${String(host.host_id?.mac)} on ${node}${changed ? ' detected' : ''}`;
    },

    async delete(port: ModelObject): Promise<string> {
      const id = vtnPortId(rt.instance, port.id);
      const done: string[] = [];
      if (typeof port.mac === 'string') {
        if (await rt.client.hostVanished({ mac: macToOnos(port.mac), vlan_id: VLAN_NONE })) {
          done.push('host vanished');
        }
      }
      if (await rt.client.deletePort(id)) done.push(`removed service port ${id}`);
      return done.length ? done.join('; ') : `no service port ${id} to remove`;
    },

    // A pod that starts or stops running (feedback on its instance) detects or removes its
    // ports' hosts; a network edit (type, segment id) changes its ports' records.
    affectedByStatus: true,
    derivedFrom: {
      Network: (obj) =>
        JSON.stringify([vtnNetworkId(rt.instance, obj.id), obj.type, obj.segment_id]),
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
