// VNFServiceInstance (workload container), VSGServiceInstance and KubernetesServiceInstance → one
// Pod in the namespace of the slice's trust domain, with the NADs of its Ports' networks, the
// networks request carrying IPAM's addresses and MACs, and (for a VNF's config) a ConfigMap.
// A change Kubernetes cannot make in place (image, interfaces, resources, service account)
// replaces the pod: the old one is deleted, and the new one made once it is gone.
// Observed (management_policy observe): the pod and ConfigMap are read, never written: phase,
// node, image, interfaces, and where they differ from the model; the pod's feedback fields are
// written as the observer would. Orphaned (deletion_policy orphan): the instance's pods and
// ConfigMaps keep everything but the owner labels and the spec hash.
import { createHash } from 'node:crypto';
import type { V1ConfigMap, V1Namespace, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import {
  dnsSafeName,
  FIELD_MANAGER,
  KubernetesError,
  managedSelector,
  ownedBy,
  ownerLabels,
  ownerSelector,
  type Owner,
} from '../../backends/kubernetes/index.js';
import { sameIp, sameMac } from '../../models/ipam/address.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import type { ClusterHandle } from './clusters.js';
import { foreignOwner } from './namespace.js';
import {
  attachmentsOf,
  nadObject,
  NAD_API,
  NAD_KIND,
  NETWORKS,
  networksAnnotation,
  parseNetworks,
  type Attachment,
  type NetworkSelection,
} from './networks.js';
import { differences, unmark, whereOf } from './marks.js';
import { podFeedback, type PodObserver } from './observer.js';
import { listVms, vmNetworks } from './vm.js';
import { serviceAccountName } from './service-account.js';
import {
  errorText,
  handleOf,
  nameOf,
  namespaceOf,
  ownerOfObject,
  POD_MODELS,
  referenced,
  type Runtime,
} from './runtime.js';

/** The digest of what a pod cannot change in place; a different one means a new pod. */
export const SPEC_HASH = 'syncord.io/spec-hash';
export const CONFIG_MOUNT = '/etc/syncord/config';
const CONTAINER = 'main';

/** Where an instance's pod lives. */
export interface PodPlace {
  owner: Owner;
  handle: ClusterHandle;
  td: ModelObject;
  namespace: string;
  name: string;
}

/** Everything the pod is made of. */
export interface PodPlan extends PodPlace {
  image: string;
  resources: { cpu: string; memory: string } | undefined;
  principal: ModelObject | undefined;
  serviceAccount: string | undefined;
  attachments: Attachment[];
  /** A VNF's config, for its ConfigMap (undefined: none). */
  config: unknown;
}

/** Why an instance has no pod (a VNF run as a VM), or undefined when it should have one. */
export function noPodReason(si: ModelObject): string | undefined {
  if (!(si.leaf_model in POD_MODELS)) return `${si.leaf_model} is not run as a pod`;
  if (si.leaf_model === 'VNFServiceInstance' && si.workload !== 'container') {
    return `its workload is ${String(si.workload)}, not container`;
  }
  return undefined;
}

/** An instance's pod: named after it, or for an adopted one the pod it was made from. */
export const podNameOf = (si: ModelObject): string =>
  handleOf(si, 'Pod') ?? dnsSafeName(si.name, POD_MODELS[si.leaf_model] ?? 'pod', si.id);

export const configMapName = (podName: string): string => `${podName}-config`;

/** The namespace, cluster and name of an instance's pod. */
export async function placeOf(
  rt: Runtime,
  models: ModelService,
  si: ModelObject,
): Promise<PodPlace> {
  if (typeof si.slice_id !== 'number') {
    throw new Error(
      `${si.leaf_model} ${nameOf(si)} has no slice: a pod needs one for its namespace and cluster`,
    );
  }
  const slice = await referenced(models, 'Slice', si.slice_id, 'its slice');
  const td = await referenced(
    models,
    'TrustDomain',
    slice.trust_domain_id,
    `slice ${nameOf(slice)}'s trust domain`,
  );
  return {
    owner: ownerOfObject(si),
    handle: await rt.clusters.forSlice(models, slice),
    td,
    namespace: namespaceOf(td),
    name: podNameOf(si),
  };
}

async function imageOf(models: ModelService, si: ModelObject): Promise<string> {
  if (typeof si.image_id === 'number') {
    const image = await referenced(models, 'Image', si.image_id, 'its image');
    if (image.kind === 'vm') {
      throw new Error(`Image ${nameOf(image)} is a VM image; a pod needs a container image`);
    }
    const tag = typeof image.tag === 'string' && image.tag ? image.tag : 'latest';
    return `${nameOf(image)}:${tag}`;
  }
  // A vSG without an image runs its service's docker_image_name.
  if (typeof si.owner_id === 'number') {
    const service = await referenced(models, 'Service', si.owner_id, 'its service');
    if (typeof service.docker_image_name === 'string' && service.docker_image_name) {
      return service.docker_image_name;
    }
  }
  throw new Error(`${si.leaf_model} ${nameOf(si)} has no image (nor does its service name one)`);
}

export async function planOf(rt: Runtime, models: ModelService, si: ModelObject): Promise<PodPlan> {
  const place = await placeOf(rt, models, si);
  const image = await imageOf(models, si);
  let resources: PodPlan['resources'];
  if (typeof si.flavor_id === 'number') {
    const flavor = await referenced(models, 'Flavor', si.flavor_id, 'its flavor');
    const cpu = typeof flavor.vcpus === 'number' ? String(flavor.vcpus) : undefined;
    const memory =
      typeof flavor.memory_mb === 'number' ? `${String(flavor.memory_mb)}Mi` : undefined;
    if (cpu || memory) resources = { cpu: cpu ?? '', memory: memory ?? '' };
  }
  const slice = await referenced(models, 'Slice', si.slice_id, 'its slice');
  let principal: ModelObject | undefined;
  if (typeof slice.principal_id === 'number') {
    principal = await referenced(
      models,
      'Principal',
      slice.principal_id,
      `slice ${nameOf(slice)}'s principal`,
    );
  }
  return {
    ...place,
    image,
    resources,
    principal,
    serviceAccount: principal ? serviceAccountName(principal) : undefined,
    attachments: await attachmentsOf(models, si),
    config: si.leaf_model === 'VNFServiceInstance' && si.config != null ? si.config : undefined,
  };
}

function quantities(r: NonNullable<PodPlan['resources']>): Record<string, string> {
  const out: Record<string, string> = {};
  if (r.cpu) out.cpu = r.cpu;
  if (r.memory) out.memory = r.memory;
  return out;
}

/** The pod as Syncord applies it. */
export function podObject(rt: Runtime, plan: PodPlan): V1Pod {
  const networks = networksAnnotation(plan.namespace, plan.attachments, rt.instance);
  const configMap = plan.config === undefined ? undefined : configMapName(plan.name);
  const immutable = {
    image: plan.image,
    resources: plan.resources ?? null,
    networks: networks ?? null,
    serviceAccount: plan.serviceAccount ?? null,
    configMap: configMap ?? null,
  };
  const hash = createHash('sha256').update(JSON.stringify(immutable)).digest('hex').slice(0, 16);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: plan.name,
      namespace: plan.namespace,
      labels: ownerLabels(rt.instance, plan.owner),
      annotations: { [SPEC_HASH]: hash, ...(networks ? { [NETWORKS]: networks } : {}) },
    },
    spec: {
      restartPolicy: 'Always',
      ...(plan.serviceAccount ? { serviceAccountName: plan.serviceAccount } : {}),
      containers: [
        {
          name: CONTAINER,
          image: plan.image,
          ...(plan.resources
            ? {
                resources: {
                  requests: quantities(plan.resources),
                  limits: quantities(plan.resources),
                },
              }
            : {}),
          ...(configMap
            ? {
                volumeMounts: [{ name: 'syncord-config', mountPath: CONFIG_MOUNT, readOnly: true }],
              }
            : {}),
        },
      ],
      ...(configMap
        ? { volumes: [{ name: 'syncord-config', configMap: { name: configMap } }] }
        : {}),
    },
  };
}

/** What differs between a live pod and the desired one that only a new pod can change. */
function replacementReason(live: V1Pod, desired: V1Pod): string | undefined {
  if (live.status?.phase === 'Failed') {
    const why = [live.status.reason, live.status.message].filter(Boolean).join(': ');
    return `it failed${why ? ` (${why})` : ''}`;
  }
  const la = live.metadata?.annotations ?? {};
  const da = desired.metadata?.annotations ?? {};
  const image = live.spec?.containers[0]?.image !== desired.spec?.containers[0]?.image;
  if (la[SPEC_HASH] === da[SPEC_HASH] && !image) return undefined;
  const why: string[] = [];
  if (image) why.push('image');
  if ((la[NETWORKS] ?? '') !== (da[NETWORKS] ?? '')) why.push('interfaces');
  if (why.length === 0) why.push('resources, service account or config volume');
  return `${why.join(' and ')} changed`;
}

/** Whether a live pod carries everything the desired one would apply (labels, annotations). */
function matches(live: V1Pod, desired: V1Pod): boolean {
  if (live.metadata?.deletionTimestamp) return false;
  if (replacementReason(live, desired) !== undefined) return false;
  const has = (a: Record<string, string> | undefined, b: Record<string, string> | undefined) =>
    Object.entries(b ?? {}).every(([k, v]) => a?.[k] === v);
  return (
    has(live.metadata?.labels, desired.metadata?.labels) &&
    has(live.metadata?.annotations, desired.metadata?.annotations)
  );
}

/**
 * Applies the NADs of the networks these attachments use in a namespace (each at most once a
 * minute while unchanged: the pods and VMs on one network share it). Call under the namespace's
 * shared lock.
 */
export async function applyNads(
  rt: Runtime,
  handle: ClusterHandle,
  namespace: string,
  attachments: readonly Attachment[],
): Promise<void> {
  for (const network of new Map(attachments.map((a) => [a.network.id, a.network])).values()) {
    const nad = nadObject(rt.options, rt.instance, namespace, network);
    const memo = `${handle.key}/${namespace}/${nad.metadata?.name ?? ''}`;
    const digest = JSON.stringify(nad);
    const last = rt.appliedNads.get(memo);
    if (last?.digest === digest && Date.now() - last.at < 60_000) {
      await last.applied; // another sync may be applying it right now
      continue;
    }
    const applied = handle.cluster.apply(nad).then(() => undefined);
    const entry = { digest, at: Date.now(), applied };
    rt.appliedNads.set(memo, entry);
    try {
      await applied;
    } catch (err) {
      if (rt.appliedNads.get(memo) === entry) rt.appliedNads.delete(memo);
      throw err;
    }
  }
}

/** Whether Syncord's field manager applied the object (its labels may have been edited away). */
const appliedBySyncord = (obj: V1Pod) =>
  (obj.metadata?.managedFields ?? []).some(
    (m) => m.manager === FIELD_MANAGER && m.operation === 'Apply',
  );

/**
 * The NADs Syncord made in a namespace that no live pod or VM there asks for any more. Every pod
 * and VM of the namespace counts, not only Syncord's: one released by a deletion_policy orphan
 * (or observed, or made by hand) on a Syncord network keeps its NAD.
 */
export async function sweepNads(
  rt: Runtime,
  handle: ClusterHandle,
  namespace: string,
  except?: Owner,
): Promise<string[]> {
  return rt.locks.exclusive(`${handle.key}/${namespace}`, async () => {
    const selector = managedSelector(rt.instance);
    const nads = await handle.cluster.list(NAD_API, NAD_KIND, namespace, selector);
    if (nads.length === 0) return [];
    const pods = await handle.cluster.list<V1Pod>('v1', 'Pod', namespace);
    const used = new Set<string>();
    for (const pod of pods) {
      if (pod.metadata?.deletionTimestamp) continue;
      if (except && ownedBy(rt.instance, pod.metadata?.labels, except)) continue;
      for (const sel of parseNetworks(pod.metadata?.annotations?.[NETWORKS], namespace)) {
        if (sel.namespace === namespace) used.add(sel.name);
      }
    }
    // KubeVirt VMs on the same networks use the same NADs.
    for (const vm of await listVms(handle, namespace)) {
      if (vm.metadata?.deletionTimestamp) continue;
      if (except && ownedBy(rt.instance, vm.metadata?.labels, except)) continue;
      for (const ref of vmNetworks(vm, namespace)) {
        const [ns, name] = ref.split('/');
        if (ns === namespace && name) used.add(name);
      }
    }
    const removed: string[] = [];
    for (const nad of nads) {
      const name = nad.metadata?.name ?? '';
      if (used.has(name)) continue;
      await handle.cluster.remove(NAD_API, NAD_KIND, namespace, name, { uid: nad.metadata?.uid });
      rt.appliedNads.delete(`${handle.key}/${namespace}/${name}`);
      removed.push(name);
    }
    return removed;
  });
}

/** The names of this deployment's ConfigMaps in a namespace, listed at most once a minute. */
async function ownedConfigMaps(
  rt: Runtime,
  handle: ClusterHandle,
  namespace: string,
): Promise<Set<string>> {
  const key = `${handle.key}/${namespace}`;
  const known = rt.ownedConfigMaps.get(key);
  if (known && Date.now() - known.at < 60_000) return known.names;
  const names = handle.cluster
    .list<V1ConfigMap>('v1', 'ConfigMap', namespace, managedSelector(rt.instance))
    .then((maps) => new Set(maps.map((m) => m.metadata?.name ?? '')));
  rt.ownedConfigMaps.set(key, { at: Date.now(), names });
  try {
    return await names;
  } catch (err) {
    if (rt.ownedConfigMaps.get(key)?.names === names) rt.ownedConfigMaps.delete(key);
    throw err;
  }
}

/**
 * Where a deleted instance's objects may be: its place, or, when its slice or trust domain is
 * gone already, every cluster (found there by their labels).
 */
export async function placesToClear(
  rt: Runtime,
  models: ModelService,
  si: ModelObject,
): Promise<{ handle: ClusterHandle; namespace?: string }[]> {
  try {
    const place = await placeOf(rt, models, si);
    return [{ handle: place.handle, namespace: place.namespace }];
  } catch {
    return (await rt.clusters.all(models)).map((handle) => ({ handle }));
  }
}

/** Removes an instance's pods and ConfigMaps wherever they are in a cluster, except at `keep`. */
async function removeStrays(
  rt: Runtime,
  handle: ClusterHandle,
  owner: Owner,
  keep?: { namespace: string; name: string },
): Promise<{ pods: string[]; namespaces: Set<string> }> {
  const selector = ownerSelector(rt.instance, owner);
  const pods = await handle.cluster.list<V1Pod>('v1', 'Pod', undefined, selector);
  const removed: string[] = [];
  const namespaces = new Set<string>();
  for (const pod of pods) {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    if (keep && ns === keep.namespace && name === keep.name) continue;
    namespaces.add(ns);
    if (pod.metadata?.deletionTimestamp) continue;
    await handle.cluster.remove('v1', 'Pod', ns, name, { uid: pod.metadata?.uid });
    removed.push(`${ns}/${name}`);
  }
  if (!keep || namespaces.size) {
    const maps = await handle.cluster.list<V1ConfigMap>('v1', 'ConfigMap', undefined, selector);
    for (const cm of maps) {
      const ns = cm.metadata?.namespace ?? '';
      if (keep && ns === keep.namespace) continue;
      await handle.cluster.remove('v1', 'ConfigMap', ns, cm.metadata?.name ?? '', {
        uid: cm.metadata?.uid,
      });
    }
  }
  return { pods: removed, namespaces };
}

/** JSON with its keys sorted, to compare two configs whatever their order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

const shorten = (text: string, max = 60) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

/** Where a live pod (and its ConfigMap) differs from what sync() would make of the plan. */
async function podDifferences(
  plan: PodPlan,
  live: V1Pod,
): Promise<{ diffs: string[]; config?: string }> {
  const diffs: string[] = [];
  const container = live.spec?.containers[0];
  if (container?.image !== plan.image) {
    diffs.push(`image ${container?.image ?? '(none)'} (model ${plan.image})`);
  }
  const account = live.spec?.serviceAccountName ?? 'default';
  if (plan.serviceAccount && account !== plan.serviceAccount) {
    diffs.push(`service account ${account} (model ${plan.serviceAccount})`);
  }
  if (plan.resources) {
    const limits = container?.resources?.limits ?? {};
    for (const [k, v] of Object.entries(quantities(plan.resources))) {
      if (limits[k] !== v) diffs.push(`${k} limit ${limits[k] ?? 'none'} (model ${v})`);
    }
  }
  const nets = parseNetworks(live.metadata?.annotations?.[NETWORKS], plan.namespace);
  const matched = new Set<NetworkSelection>();
  for (const a of plan.attachments) {
    const sel = nets.find(
      (n) => n.name === a.nad && n.namespace === plan.namespace && n.interface === a.interface,
    );
    if (!sel) {
      diffs.push(`no interface ${a.interface} on ${a.nad} (model ${a.ip} ${a.mac})`);
      continue;
    }
    matched.add(sel);
    if (!(sel.ips ?? []).some((ip) => sameIp(ip, a.ip)) || !sameMac(sel.mac, a.mac)) {
      diffs.push(
        `interface ${a.interface} ${(sel.ips ?? []).join(' ') || 'without address'} ${sel.mac ?? 'without MAC'} (model ${a.ip} ${a.mac})`,
      );
    }
  }
  for (const sel of nets) {
    if (!matched.has(sel))
      diffs.push(`interface ${sel.interface ?? '?'} on ${sel.name} (not in the model)`);
  }
  if (plan.config === undefined) return { diffs };
  const name = configMapName(plan.name);
  const cm = await plan.handle.cluster.get<V1ConfigMap>('v1', 'ConfigMap', plan.namespace, name);
  if (!cm) throw new Error(`ConfigMap ${plan.namespace}/${name} is not there`);
  const text = cm.data?.['config.json'];
  let same = false;
  try {
    same = text !== undefined && canonical(JSON.parse(text)) === canonical(plan.config);
  } catch {
    // not JSON: differs
  }
  if (!same) {
    diffs.push(
      `ConfigMap ${name} config.json ${text === undefined ? 'missing' : shorten(text.replace(/\s+/g, ''))} (model ${shorten(JSON.stringify(plan.config))})`,
    );
  }
  return { diffs, config: `config in ConfigMap ${name}` };
}

/** observe() of the pod step: the instance's pod as it is, written into its feedback fields. */
async function observePod(rt: Runtime, si: ModelObject, ctx: StepContext): Promise<string> {
  const place = await placeOf(rt, ctx.models, si);
  const where = `${place.namespace}/${place.name}`;
  const live = await place.handle.cluster.get<V1Pod>('v1', 'Pod', place.namespace, place.name);
  const fb: Record<string, unknown> = { ...podFeedback(live) };
  if (Object.entries(fb).some(([k, v]) => (si[k] ?? null) !== v)) {
    await ctx.models.writeStatus(si.leaf_model, si.id, { feedback: fb });
  }
  if (!live) throw new Error(`Pod ${where} is not there`);
  const phase = live.metadata?.deletionTimestamp
    ? 'Terminating'
    : (live.status?.phase ?? 'Pending');
  const facts = [phase];
  if (live.spec?.nodeName) facts.push(`on ${live.spec.nodeName}`);
  facts.push(live.spec?.containers[0]?.image ?? 'no image');
  const nets = parseNetworks(live.metadata?.annotations?.[NETWORKS], place.namespace).length;
  facts.push(nets ? `${String(nets)} network${nets > 1 ? 's' : ''}` : 'no extra networks');
  let plan: PodPlan;
  try {
    plan = await planOf(rt, ctx.models, si);
  } catch (err) {
    return `Pod ${where}: ${facts.join(', ')} (not compared with the model: ${errorText(err)})`;
  }
  const { diffs, config } = await podDifferences(plan, live);
  if (config) facts.push(config);
  return `Pod ${where}: ${facts.join(', ')}${differences(diffs)}`;
}

/** release() of the pod step: the owner marks off the instance's pods and ConfigMaps. */
async function releasePods(rt: Runtime, si: ModelObject, ctx: StepContext): Promise<string> {
  const owner = ownerOfObject(si);
  const selector = ownerSelector(rt.instance, owner);
  const pods: string[] = [];
  const maps: string[] = [];
  for (const { handle } of await placesToClear(rt, ctx.models, si)) {
    for (const pod of await handle.cluster.list<V1Pod>('v1', 'Pod', undefined, selector)) {
      await unmark(handle, pod, [SPEC_HASH]);
      pods.push(whereOf(pod));
    }
    for (const cm of await handle.cluster.list<V1ConfigMap>(
      'v1',
      'ConfigMap',
      undefined,
      selector,
    )) {
      await unmark(handle, cm);
      const ns = cm.metadata?.namespace ?? '';
      const name = cm.metadata?.name ?? '';
      rt.appliedConfigMaps.delete(`${handle.key}/${ns}/${name}`);
      const known = rt.ownedConfigMaps.get(`${handle.key}/${ns}`);
      if (known) (await known.names).delete(name);
      maps.push(whereOf(cm));
    }
  }
  const all = [
    ...(pods.length ? [`pod ${pods.join(', ')}`] : []),
    ...(maps.length ? [`ConfigMap ${maps.join(', ')}`] : []),
  ];
  return all.length
    ? `released ${all.join(' and ')}: owner labels removed`
    : `no pod of ${si.leaf_model} ${nameOf(si)} to release`;
}

export function podStep(rt: Runtime, model: string, observer: PodObserver): SyncStep {
  return {
    name: `kubernetes/pod:${model}`,
    observes: model,

    // The pod steps share one observer: the first start() starts it, the first stop() stops it.
    start: (ctx) => observer.start(ctx),
    stop: () => observer.stop(),

    // An edited Network changes the NADs of the pods with a port on it.
    // A pod takes from a network its NAD (name and CNI config) and nothing else.
    derivedFrom: {
      Network: (obj) => JSON.stringify(nadObject(rt.options, rt.instance, '', obj)),
    },
    async affectedBy(change, ctx): Promise<number[]> {
      if (change.model !== 'Network') return [];
      const ports = await ctx.models.list('Port', {
        filter: [{ field: 'network_id', value: change.id }],
        pageSize: 5000,
      });
      return [...new Set(ports.items.map((p) => p.service_instance_id as number))];
    },

    async sync(si: ModelObject, ctx: StepContext): Promise<string> {
      const skip = noPodReason(si);
      if (skip) {
        // A workload moved off Kubernetes leaves no pod behind.
        const h = await rt.clusters.default(ctx.models);
        const { pods } = await removeStrays(rt, h, ownerOfObject(si));
        return `no pod: ${skip}${pods.length ? ` (removed pod ${pods.join(', ')})` : ''}`;
      }
      const plan = await planOf(rt, ctx.models, si);
      const { cluster } = plan.handle;
      // A namespace seen active in the last minute is not read again for every pod in it.
      const nsMemo = `${plan.handle.key}/${plan.namespace}`;
      const seenAt = rt.activeNamespaces.get(nsMemo);
      const ns =
        seenAt !== undefined && Date.now() - seenAt < 60_000
          ? ({ metadata: { name: plan.namespace } } as V1Namespace)
          : await cluster.get<V1Namespace>('v1', 'Namespace', undefined, plan.namespace);
      if (ns && !ns.metadata?.deletionTimestamp) {
        if (seenAt === undefined || Date.now() - seenAt >= 60_000) {
          rt.activeNamespaces.set(nsMemo, Date.now());
        }
      } else {
        rt.activeNamespaces.delete(nsMemo);
      }
      if (!ns || ns.metadata?.deletionTimestamp) {
        if (!ns) ctx.enqueue('TrustDomain', plan.td.id);
        throw new WaitingError(
          `waiting for namespace ${plan.namespace}${ns ? ' to finish terminating' : ''} in ${plan.handle.label}`,
          ns ? 2000 : 500,
        );
      }
      if (plan.serviceAccount && plan.principal) {
        const sa = await cluster.get<V1ServiceAccount>(
          'v1',
          'ServiceAccount',
          plan.namespace,
          plan.serviceAccount,
        );
        if (!sa) {
          ctx.enqueue('Principal', plan.principal.id);
          throw new WaitingError(
            `waiting for service account ${plan.namespace}/${plan.serviceAccount} in ${plan.handle.label}`,
            500,
          );
        }
      }
      const where = `${plan.namespace}/${plan.name}`;
      const desired = podObject(rt, plan);
      return rt.locks.shared(`${plan.handle.key}/${plan.namespace}`, async () => {
        await applyNads(rt, plan.handle, plan.namespace, plan.attachments);
        const cmMemo = `${plan.handle.key}/${plan.namespace}/${configMapName(plan.name)}`;
        const cmDigest = JSON.stringify(plan.config ?? null);
        const cmLast = rt.appliedConfigMaps.get(cmMemo);
        if (cmLast?.digest === cmDigest && Date.now() - cmLast.at < 60_000) {
          // applied (or removed) the same within the last minute
        } else if (plan.config !== undefined) {
          await cluster.apply<V1ConfigMap>({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: configMapName(plan.name),
              namespace: plan.namespace,
              labels: ownerLabels(rt.instance, plan.owner),
            },
            data: { 'config.json': JSON.stringify(plan.config, null, 2) },
          });
          rt.appliedConfigMaps.set(cmMemo, { digest: cmDigest, at: Date.now() });
          const known = rt.ownedConfigMaps.get(`${plan.handle.key}/${plan.namespace}`);
          if (known) (await known.names).add(configMapName(plan.name));
        } else if (si.leaf_model === 'VNFServiceInstance') {
          const names = await ownedConfigMaps(rt, plan.handle, plan.namespace);
          if (names.has(configMapName(plan.name))) {
            await cluster.remove('v1', 'ConfigMap', plan.namespace, configMapName(plan.name));
            names.delete(configMapName(plan.name));
          }
          rt.appliedConfigMaps.set(cmMemo, { digest: cmDigest, at: Date.now() });
        }
        // The pod observer's watch cache answers once it has listed; a GET before that.
        const live = observer.isSynced(plan.handle)
          ? observer.cached(plan.handle, plan.namespace, plan.name)
          : await cluster.get<V1Pod>('v1', 'Pod', plan.namespace, plan.name);
        if (live) {
          const other = foreignOwner(rt, live.metadata?.labels, plan.owner);
          if (other) throw new Error(`a pod ${where} is already there and belongs to ${other}`);
          if (!ownedBy(rt.instance, live.metadata?.labels, plan.owner) && !appliedBySyncord(live)) {
            throw new Error(`a pod ${where} is already there and is not Syncord's`);
          }
          if (live.metadata?.deletionTimestamp) {
            throw new WaitingError(`waiting for the old pod ${where} to terminate`, 1000);
          }
          const why = replacementReason(live, desired);
          if (why) {
            await cluster.remove('v1', 'Pod', plan.namespace, plan.name, {
              uid: live.metadata?.uid,
            });
            throw new WaitingError(
              `replacing pod ${where} (${why}): waiting for the old pod to terminate`,
              1000,
            );
          }
        }
        // Nothing to write when the watched pod already is what this sync would apply: its
        // spec hash (image, resources, interfaces, ...) and Syncord's labels and annotations.
        if (live && observer.isSynced(plan.handle) && matches(live, desired)) {
          const nets = plan.attachments.length
            ? `${String(plan.attachments.length)} network${plan.attachments.length > 1 ? 's' : ''}`
            : 'no extra networks';
          return `pod ${where} is up to date (${plan.image}, ${nets})`;
        }
        let applied: V1Pod;
        try {
          applied = await cluster.apply(desired);
        } catch (err) {
          if (
            err instanceof KubernetesError &&
            err.code === 403 &&
            /error looking up service account/.test(err.message)
          ) {
            throw new WaitingError(
              `waiting for the service account of pod ${where}: ${errorText(err)}`,
              1000,
            );
          }
          throw err;
        }
        // Strays (the same instance's pods elsewhere) are looked for in the watch cache when it
        // is there: no cluster-wide list per sync.
        const strays =
          observer.isSynced(plan.handle) &&
          !observer
            .cachedPods(plan.handle)
            .some(
              (p) =>
                ownedBy(rt.instance, p.metadata?.labels, plan.owner) &&
                (p.metadata?.namespace !== plan.namespace || p.metadata.name !== plan.name),
            )
            ? { pods: [] as string[] }
            : await removeStrays(rt, plan.handle, plan.owner, {
                namespace: plan.namespace,
                name: plan.name,
              });
        const moved = strays.pods.length ? `; removed pod ${strays.pods.join(', ')}` : '';
        const nets = plan.attachments.length
          ? `${String(plan.attachments.length)} network${plan.attachments.length > 1 ? 's' : ''}`
          : 'no extra networks';
        if (!live) return `created pod ${where} (${plan.image}, ${nets})${moved}`;
        if (applied.metadata?.resourceVersion !== live.metadata?.resourceVersion) {
          return `updated pod ${where} in place (labels or annotations; ${plan.image}, ${nets})${moved}`;
        }
        return `pod ${where} is up to date (${plan.image}, ${nets})${moved}`;
      });
    },

    async delete(si: ModelObject, ctx: StepContext): Promise<string> {
      const owner = ownerOfObject(si);
      const places = await placesToClear(rt, ctx.models, si);
      const removed: string[] = [];
      const swept: string[] = [];
      for (const { handle, namespace } of places) {
        const { pods, namespaces } = await removeStrays(rt, handle, owner);
        removed.push(...pods);
        if (namespace) namespaces.add(namespace);
        for (const ns of namespaces) {
          swept.push(...(await sweepNads(rt, handle, ns, owner)).map((n) => `${ns}/${n}`));
        }
      }
      const nads = swept.length
        ? `; removed unused NetworkAttachmentDefinition ${swept.join(', ')}`
        : '';
      return removed.length
        ? `removed pod ${removed.join(', ')}${nads}`
        : `no pod to remove${nads}`;
    },

    async observe(si: ModelObject, ctx: StepContext): Promise<string> {
      const skip = noPodReason(si);
      return skip ? `no pod: ${skip}` : observePod(rt, si, ctx);
    },

    release: (si: ModelObject, ctx: StepContext) => releasePods(rt, si, ctx),
  };
}
