// A VNFServiceInstance with workload `vm` on a Kubernetes cluster → a KubeVirt VirtualMachine in
// the namespace of its slice's trust domain: one Multus network per Port (the same
// NetworkAttachmentDefinitions as the pods on those networks), each interface bridged with the
// Port's MAC from IPAM, the address given to the guest by cloud-init's network data (KubeVirt has
// no per-interface address in its spec), the disk a containerDisk of the Image, the size from the
// Flavor, and the instance's config as cloud-init user data. A slice on a Cluster of kind
// `openstack` runs its VMs there instead (steps/openstack); this step then leaves nothing here.
//
// KubeVirt's controllers start the VM; its `status.printableStatus` (Stopped, Starting, Running,
// ErrorUnschedulable, ...) is read back into the instance's vm_status after each apply and by
// the sweep. A VM whose instance is gone, or whose workload changed to container, is removed.
// Observed: the VM is read (status, disk, size, interfaces against the model) into vm_status.
// Orphaned: the owner labels come off the VM, its template (which KubeVirt copies onto the
// VirtualMachineInstance and its virt-launcher pod, which the pod observer would otherwise take
// for a pod of a vanished instance and remove) and its running VirtualMachineInstance.
import { createHash } from 'node:crypto';
import type { V1Namespace } from '@kubernetes/client-node';
import { ID as ID_LABEL, MODEL as MODEL_LABEL } from '../../backends/kubernetes/labels.js';
import {
  KubernetesError,
  managedSelector,
  ownerLabels,
  ownerSelector,
  type KubeObject,
  type Owner,
} from '../../backends/kubernetes/index.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import type { ClusterHandle } from './clusters.js';
import { differences, OWNER_LABELS, removal, unmark, whereOf } from './marks.js';
import { foreignOwner } from './namespace.js';
import { attachmentsOf, type Attachment } from './networks.js';
import { applyNads, placeOf, placesToClear, SPEC_HASH, sweepNads, type PodPlace } from './pod.js';
import { nameOf, ownerOfObject, referenced, type Runtime } from './runtime.js';

export const VM_API = 'kubevirt.io/v1';
export const VM_KIND = 'VirtualMachine';
export const VMI_KIND = 'VirtualMachineInstance';

export interface VirtualMachine extends KubeObject {
  spec?: Record<string, unknown>;
  status?: {
    printableStatus?: string;
    ready?: boolean;
    conditions?: { type?: string; status?: string; message?: string; reason?: string }[];
  };
}

export interface VmPlan extends PodPlace {
  /** The containerDisk image. */
  image: string;
  cores: number | undefined;
  memory: string;
  attachments: Attachment[];
  userData: string | undefined;
}

/** Why an instance has no KubeVirt VM, or undefined when it should have one. */
export async function noVmReason(
  models: ModelService,
  si: ModelObject,
): Promise<string | undefined> {
  if (si.leaf_model !== 'VNFServiceInstance') return `${si.leaf_model} is not run as a VM`;
  if (si.workload !== 'vm') return `its workload is ${String(si.workload)}, not vm`;
  const cluster = await openstackClusterOf(models, si);
  if (cluster) return `its slice runs on OpenStack (Cluster ${nameOf(cluster)})`;
  return undefined;
}

/** The OpenStack Cluster the instance's slice runs on, if it does (its VM is Nova's then). */
async function openstackClusterOf(
  models: ModelService,
  si: ModelObject,
): Promise<ModelObject | undefined> {
  if (typeof si.slice_id !== 'number') return undefined;
  const slice = await models.get('Slice', si.slice_id, { includeDeleted: true });
  if (typeof slice.cluster_id !== 'number') return undefined;
  const cluster = await models.get('Cluster', slice.cluster_id, { includeDeleted: true });
  return cluster.kind === 'openstack' ? cluster : undefined;
}

/** The memory a VM gets when its flavor does not say. */
const DEFAULT_MEMORY = '128Mi';

export async function vmPlanOf(
  rt: Runtime,
  models: ModelService,
  si: ModelObject,
): Promise<VmPlan> {
  const place = await placeOf(rt, models, si);
  const image = await referenced(models, 'Image', si.image_id, 'its image');
  if (image.kind !== 'vm') {
    throw new Error(
      `Image ${nameOf(image)} is a container image; a VM needs an image of kind vm (a KubeVirt containerDisk)`,
    );
  }
  const ref =
    typeof image.path === 'string' && image.path
      ? image.path
      : `${nameOf(image)}:${typeof image.tag === 'string' && image.tag ? image.tag : 'latest'}`;
  let cores: number | undefined;
  let memory = DEFAULT_MEMORY;
  if (typeof si.flavor_id === 'number') {
    const flavor = await referenced(models, 'Flavor', si.flavor_id, 'its flavor');
    if (typeof flavor.vcpus === 'number') cores = flavor.vcpus;
    if (typeof flavor.memory_mb === 'number') memory = `${String(flavor.memory_mb)}Mi`;
  }
  const config = si.config;
  const userData =
    config == null
      ? undefined
      : typeof config === 'string'
        ? config
        : // JSON is YAML: cloud-init reads an object given as JSON after its header line.
          `#cloud-config\n${JSON.stringify(config)}\n`;
  return {
    ...place,
    image: ref,
    cores,
    memory,
    attachments: await attachmentsOf(models, si),
    userData,
  };
}

/** cloud-init network data (version 2): each interface, found by its MAC, with its address. */
export function networkData(attachments: readonly Attachment[]): string {
  const ethernets: Record<string, unknown> = {};
  for (const a of attachments) {
    ethernets[a.interface] = {
      match: { macaddress: a.mac },
      'set-name': a.interface,
      addresses: [a.ip],
    };
  }
  return JSON.stringify({ version: 2, ethernets });
}

/** The VirtualMachine as Syncord applies it. */
export function vmObject(rt: Runtime, plan: VmPlan): VirtualMachine {
  const labels = ownerLabels(rt.instance, plan.owner);
  const interfaces = plan.attachments.map((a) => ({
    name: a.interface,
    bridge: {},
    macAddress: a.mac,
  }));
  const networks = plan.attachments.map((a) => ({
    name: a.interface,
    multus: { networkName: `${plan.namespace}/${a.nad}` },
  }));
  const cloudInit: Record<string, string> = {};
  if (plan.userData) cloudInit.userData = plan.userData;
  if (plan.attachments.length) cloudInit.networkData = networkData(plan.attachments);
  const hasCloudInit = Object.keys(cloudInit).length > 0;
  const spec = {
    runStrategy: 'Always',
    template: {
      metadata: { labels },
      spec: {
        domain: {
          ...(plan.cores ? { cpu: { cores: plan.cores } } : {}),
          memory: { guest: plan.memory },
          devices: {
            disks: [
              { name: 'rootdisk', disk: { bus: 'virtio' } },
              ...(hasCloudInit ? [{ name: 'cloudinit', disk: { bus: 'virtio' } }] : []),
            ],
            interfaces,
          },
        },
        networks,
        volumes: [
          { name: 'rootdisk', containerDisk: { image: plan.image } },
          ...(hasCloudInit ? [{ name: 'cloudinit', cloudInitNoCloud: cloudInit }] : []),
        ],
      },
    },
  };
  const hash = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  return {
    apiVersion: VM_API,
    kind: VM_KIND,
    metadata: {
      name: plan.name,
      namespace: plan.namespace,
      labels,
      annotations: { [SPEC_HASH]: hash },
    },
    spec,
  };
}

/** The NADs (namespace/name) a VirtualMachine's networks name. */
export function vmNetworks(vm: VirtualMachine, namespace: string): string[] {
  const template = (vm.spec?.template ?? {}) as {
    spec?: { networks?: { multus?: { networkName?: string } }[] };
  };
  return (template.spec?.networks ?? [])
    .map((n) => n.multus?.networkName ?? '')
    .filter(Boolean)
    .map((n) => (n.includes('/') ? n : `${namespace}/${n}`));
}

/** The VMs in a namespace (or every namespace) matching a selector; none where KubeVirt is not installed. */
export async function listVms(
  handle: ClusterHandle,
  namespace: string | undefined,
  selector?: string,
): Promise<VirtualMachine[]> {
  try {
    return await handle.cluster.list<VirtualMachine>(VM_API, VM_KIND, namespace, selector);
  } catch (err) {
    if (err instanceof KubernetesError && err.code === 404) return [];
    throw err;
  }
}

/** The running VirtualMachineInstances matching a selector; none where KubeVirt is not installed. */
async function listVmis(handle: ClusterHandle, selector: string): Promise<KubeObject[]> {
  try {
    return await handle.cluster.list(VM_API, VMI_KIND, undefined, selector);
  } catch (err) {
    if (err instanceof KubernetesError && err.code === 404) return [];
    throw err;
  }
}

/**
 * This deployment's VMs per cluster, listed at most once a minute: an instance whose workload is
 * not vm checks here that it left no VM behind, without a cluster-wide list per sync. A VM this
 * process makes is added at once; after a restart the first list finds every earlier one.
 */
const known = new WeakMap<Runtime, Map<string, { at: number; owners: Promise<Set<string>> }>>();

function ownersWithVms(rt: Runtime, handle: ClusterHandle): Promise<Set<string>> {
  let byCluster = known.get(rt);
  if (!byCluster) {
    byCluster = new Map<string, { at: number; owners: Promise<Set<string>> }>();
    known.set(rt, byCluster);
  }
  const entry = byCluster.get(handle.key);
  if (entry && Date.now() - entry.at < 60_000) return entry.owners;
  const owners = listVms(handle, undefined, managedSelector(rt.instance)).then(
    (vms) => new Set(vms.map((vm) => ownerKey(vm.metadata?.labels))),
  );
  byCluster.set(handle.key, { at: Date.now(), owners });
  owners.catch(() => byCluster.delete(handle.key));
  return owners;
}

const ownerKey = (labels: Record<string, string> | undefined): string =>
  `${labels?.[MODEL_LABEL] ?? ''}/${labels?.[ID_LABEL] ?? ''}`;

/** Removes an instance's VMs in a cluster, except the one at `keep`. */
async function removeVms(
  rt: Runtime,
  handle: ClusterHandle,
  owner: Owner,
  keep?: { namespace: string; name: string },
): Promise<{ vms: string[]; namespaces: Set<string> }> {
  const vms = await listVms(handle, undefined, ownerSelector(rt.instance, owner));
  const removed: string[] = [];
  const namespaces = new Set<string>();
  for (const vm of vms) {
    const ns = vm.metadata?.namespace ?? '';
    const name = vm.metadata?.name ?? '';
    if (keep && ns === keep.namespace && name === keep.name) continue;
    namespaces.add(ns);
    if (vm.metadata?.deletionTimestamp) continue;
    await handle.cluster.remove(VM_API, VM_KIND, ns, name, { uid: vm.metadata?.uid });
    removed.push(`${ns}/${name}`);
  }
  return { vms: removed, namespaces };
}

/** What KubeVirt says of a VM, for vm_status and vm_message. */
export function vmFeedback(vm: VirtualMachine | undefined): {
  vm_status: string | null;
  vm_message: string | null;
} {
  if (!vm) return { vm_status: null, vm_message: null };
  const failing = (vm.status?.conditions ?? []).find(
    (c) => c.status === 'False' && c.message && (c.type === 'Ready' || c.type === 'Failure'),
  );
  return {
    vm_status: vm.status?.printableStatus ?? null,
    vm_message: failing?.message ?? null,
  };
}

/**
 * The VNF step: the pod step, or the VM step when the instance's workload is vm (each clears
 * the other's leftovers away: the pod step removes stray pods of a VM instance, the VM step
 * the VM of a container one). Its name and status are the pod step's.
 */
export function workloadStep(pods: SyncStep, vms: SyncStep): SyncStep {
  return {
    ...pods,
    async sync(si, ctx) {
      if ((await noVmReason(ctx.models, si)) === undefined) {
        const cleared = await pods.sync(si, ctx); // "no pod: ..., removed pod x" when one was left
        const made = await vms.sync(si, ctx);
        return /removed pod/.test(cleared) ? `${made}; ${cleared}` : made;
      }
      const made = await pods.sync(si, ctx);
      const cleared = await vms.sync(si, ctx);
      return /\(removed /.test(cleared) ? `${made}; ${cleared}` : made;
    },
    async delete(si, ctx) {
      const removedPods = await pods.delete(si, ctx);
      const removedVms = await vms.delete(si, ctx);
      return [removedPods, removedVms].filter(Boolean).join('; ');
    },
    async observe(si, ctx) {
      const step = (await noVmReason(ctx.models, si)) === undefined ? vms : pods;
      if (!step.observe) throw new Error(`${step.name} cannot observe`);
      return step.observe(si, ctx);
    },
    async release(si, ctx) {
      // The VM first: its template stops marking new virt-launcher pods before pods are done.
      const vm = await vms.release?.(si, ctx);
      const pod = await pods.release?.(si, ctx);
      return [vm, pod].filter((t) => t && !t.startsWith('no ')).join('; ') || pod || vm;
    },
  };
}

/** The template's labels, the interfaces and the rest of a VM's spec, as the plan reads them. */
interface VmTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: {
    domain?: {
      cpu?: { cores?: number };
      memory?: { guest?: string };
      devices?: { interfaces?: { name?: string; macAddress?: string }[] };
    };
    networks?: { name?: string; multus?: { networkName?: string } }[];
    volumes?: { name?: string; containerDisk?: { image?: string } }[];
  };
}

const templateOf = (vm: VirtualMachine): VmTemplate =>
  (vm.spec?.template as VmTemplate | undefined) ?? {};

/** Where a live VM differs from what sync() would make of the plan. */
function vmDifferences(plan: VmPlan, live: VirtualMachine): string[] {
  const t = templateOf(live).spec ?? {};
  const diffs: string[] = [];
  const disk = t.volumes?.find((v) => v.containerDisk)?.containerDisk?.image;
  if (disk !== plan.image) diffs.push(`disk ${disk ?? '(none)'} (model ${plan.image})`);
  const cores = t.domain?.cpu?.cores;
  if (plan.cores !== undefined && cores !== plan.cores) {
    diffs.push(`${String(cores ?? 'default')} cores (model ${String(plan.cores)})`);
  }
  const memory = t.domain?.memory?.guest;
  if (memory !== plan.memory) diffs.push(`memory ${memory ?? 'none'} (model ${plan.memory})`);
  const interfaces = t.domain?.devices?.interfaces ?? [];
  const networks = new Map((t.networks ?? []).map((n) => [n.name, n.multus?.networkName]));
  for (const a of plan.attachments) {
    const i = interfaces.find((x) => x.name === a.interface);
    const net = `${plan.namespace}/${a.nad}`;
    if (!i) diffs.push(`no interface ${a.interface} on ${a.nad} (model ${a.mac})`);
    else if (i.macAddress?.toLowerCase() !== a.mac.toLowerCase() || networks.get(i.name) !== net) {
      diffs.push(
        `interface ${a.interface} ${i.macAddress ?? 'without MAC'} on ${networks.get(i.name) ?? '?'} (model ${a.mac} on ${net})`,
      );
    }
  }
  for (const i of interfaces) {
    if (!plan.attachments.some((a) => a.interface === i.name)) {
      diffs.push(`interface ${i.name ?? '?'} (not in the model)`);
    }
  }
  return diffs;
}

export function vmStep(rt: Runtime): SyncStep {
  const writeFeedback = async (
    ctx: StepContext,
    si: ModelObject,
    vm: VirtualMachine | undefined,
  ) => {
    const fb = vmFeedback(vm);
    if (si.vm_status === fb.vm_status && si.vm_message === fb.vm_message) return;
    await ctx.models.setStatus(si.leaf_model, si.id, { feedback: fb });
  };

  return {
    // Run through workloadStep with the VNF's pod step (the engine runs one step per backend
    // and model).
    name: 'kubernetes/vm:VNFServiceInstance',
    observes: 'VNFServiceInstance',

    // A Network's edit reaches it through the pod step's affectedBy (workloadStep).

    async sync(si: ModelObject, ctx: StepContext): Promise<string> {
      const skip = await noVmReason(ctx.models, si);
      if (skip) {
        // A workload moved off KubeVirt leaves no VM behind.
        const h = await rt.clusters.default(ctx.models);
        const owner = ownerOfObject(si);
        const labels = ownerLabels(rt.instance, owner);
        const had = (await ownersWithVms(rt, h)).has(ownerKey(labels));
        const { vms } = had ? await removeVms(rt, h, owner) : { vms: [] };
        // vm_status is the OpenStack steps' to write for a VM on OpenStack.
        if (si.vm_status != null && !(await openstackClusterOf(ctx.models, si))) {
          await writeFeedback(ctx, si, undefined);
        }
        return `no KubeVirt VM: ${skip}${vms.length ? ` (removed ${vms.join(', ')})` : ''}`;
      }
      const plan = await vmPlanOf(rt, ctx.models, si);
      const { cluster } = plan.handle;
      const ns = await cluster.get<V1Namespace>('v1', 'Namespace', undefined, plan.namespace);
      if (!ns || ns.metadata?.deletionTimestamp) {
        if (!ns) ctx.enqueue('TrustDomain', plan.td.id);
        throw new WaitingError(
          `waiting for namespace ${plan.namespace}${ns ? ' to finish terminating' : ''} in ${plan.handle.label}`,
          ns ? 2000 : 500,
        );
      }
      const where = `${plan.namespace}/${plan.name}`;
      const desired = vmObject(rt, plan);
      return rt.locks.shared(`${plan.handle.key}/${plan.namespace}`, async () => {
        await applyNads(rt, plan.handle, plan.namespace, plan.attachments);
        let live: VirtualMachine | undefined;
        try {
          live = await cluster.get<VirtualMachine>(VM_API, VM_KIND, plan.namespace, plan.name);
        } catch (err) {
          if (err instanceof KubernetesError && err.code === 404) {
            throw new Error(
              `${plan.handle.label} does not serve ${VM_API} ${VM_KIND}: KubeVirt is not installed there`,
              { cause: err },
            );
          }
          throw err;
        }
        if (live) {
          const other = foreignOwner(rt, live.metadata?.labels, plan.owner);
          if (other)
            throw new Error(`a VirtualMachine ${where} is already there and belongs to ${other}`);
        }
        const applied = await cluster.apply(desired);
        (await ownersWithVms(rt, plan.handle)).add(ownerKey(desired.metadata?.labels));
        await writeFeedback(ctx, si, applied);
        const { vms } = await removeVms(rt, plan.handle, plan.owner, {
          namespace: plan.namespace,
          name: plan.name,
        });
        const moved = vms.length ? `; removed ${vms.join(', ')}` : '';
        const nets = `${String(plan.attachments.length)} network${plan.attachments.length === 1 ? '' : 's'}`;
        const verb = !live
          ? 'created'
          : applied.metadata?.resourceVersion !== live.metadata?.resourceVersion
            ? 'updated'
            : 'up to date:';
        return `${verb} VirtualMachine ${where} (${plan.image}, ${nets})${moved}`;
      });
    },

    async delete(si: ModelObject, ctx: StepContext): Promise<string> {
      const owner = ownerOfObject(si);
      const places = await placesToClear(rt, ctx.models, si);
      const removed: string[] = [];
      for (const { handle, namespace } of places) {
        const { vms, namespaces } = await removeVms(rt, handle, owner);
        removed.push(...vms);
        if (namespace) namespaces.add(namespace);
        for (const ns of namespaces) await sweepNads(rt, handle, ns, owner);
      }
      return removed.length
        ? `removed VirtualMachine ${removed.join(', ')}`
        : 'no VirtualMachine to remove';
    },

    async observe(si: ModelObject, ctx: StepContext): Promise<string> {
      const skip = await noVmReason(ctx.models, si);
      if (skip) return `no KubeVirt VM: ${skip}`;
      const place = await placeOf(rt, ctx.models, si);
      const where = `${place.namespace}/${place.name}`;
      let live: VirtualMachine | undefined;
      try {
        live = await place.handle.cluster.get<VirtualMachine>(
          VM_API,
          VM_KIND,
          place.namespace,
          place.name,
        );
      } catch (err) {
        if (err instanceof KubernetesError && err.code === 404) {
          throw new Error(`${place.handle.label} does not serve ${VM_API} ${VM_KIND}`, {
            cause: err,
          });
        }
        throw err;
      }
      await writeFeedback(ctx, si, live);
      if (!live) throw new Error(`VirtualMachine ${where} is not there`);
      const t = templateOf(live).spec ?? {};
      const facts = [
        live.status?.printableStatus ?? 'no status yet',
        t.volumes?.find((v) => v.containerDisk)?.containerDisk?.image ?? 'no containerDisk',
      ];
      if (t.domain?.cpu?.cores) facts.push(`${String(t.domain.cpu.cores)} cores`);
      if (t.domain?.memory?.guest) facts.push(t.domain.memory.guest);
      const n = t.domain?.devices?.interfaces?.length ?? 0;
      facts.push(`${String(n)} interface${n === 1 ? '' : 's'}`);
      let diffs: string[];
      try {
        diffs = vmDifferences(await vmPlanOf(rt, ctx.models, si), live);
      } catch (err) {
        return `VirtualMachine ${where}: ${facts.join(', ')} (not compared with the model: ${err instanceof Error ? err.message : String(err)})`;
      }
      return `VirtualMachine ${where}: ${facts.join(', ')}${differences(diffs)}`;
    },

    // The VMs delete() would remove, found the same way, and each one's running instance.
    async release(si: ModelObject, ctx: StepContext): Promise<string> {
      const owner = ownerOfObject(si);
      const selector = ownerSelector(rt.instance, owner);
      const released: string[] = [];
      let vmisLeft = '';
      for (const { handle } of await placesToClear(rt, ctx.models, si)) {
        for (const vm of await listVms(handle, undefined, selector)) {
          const template = removal(templateOf(vm).metadata?.labels, OWNER_LABELS);
          await unmark(
            handle,
            vm,
            [SPEC_HASH],
            template ? { spec: { template: { metadata: { labels: template } } } } : {},
          );
          released.push(whereOf(vm));
        }
        try {
          for (const vmi of await listVmis(handle, selector)) await unmark(handle, vmi);
        } catch (err) {
          // A role without get/list/patch on VirtualMachineInstances (deploy/rbac grants them;
          // an older role did not): the VM is released all the same, and the sentence says
          // what stayed.
          if (!(err instanceof KubernetesError && err.code === 403)) throw err;
          vmisLeft = `; its VirtualMachineInstances keep their labels: ${err.message}`;
        }
      }
      return released.length
        ? `released VirtualMachine ${released.join(', ')}: owner labels removed${vmisLeft}`
        : 'no VirtualMachine to release';
    },
  };
}
