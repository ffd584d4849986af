// The pod observer: a watch of Syncord's pods in every cluster it uses, writing what Kubernetes
// reports back into the models (pod phase, node, pod IP, why it is not running; each Port's
// address, MAC and interface from Multus' network-status), putting back what was changed or
// deleted out of band (by queueing the instance), and removing pods whose object does not exist.
// A periodic sweep removes NADs no pod uses any more and objects whose owner is gone.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import {
  ID,
  INSTANCE,
  MANAGED_BY,
  managedSelector,
  MODEL,
  ownerOf,
  ownerSelector,
  type KubeObject,
  type ObjectWatch,
  type Owner,
  type WatchEventType,
} from '../../backends/kubernetes/index.js';
import { NotFoundError } from '../../models/errors.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import type { StepContext } from '../../synchronizer/engine.js';
import { KeyedCoalescer } from '../../synchronizer/keyed.js';
import type { ClusterHandle } from './clusters.js';
import {
  interfaceNames,
  nadName,
  NAD_API,
  NAD_KIND,
  NETWORK_STATUS,
  NETWORKS,
  parseNetworkStatus,
  portsOf,
} from './networks.js';
import { podNameOf, SPEC_HASH, sweepNads } from './pod.js';
import { ADOPTED, errorText, POD_MODELS, SYSTEM_NAMESPACES, type Runtime } from './runtime.js';

export interface PodFeedback {
  pod_phase: string | null;
  node_name: string | null;
  pod_ip: string | null;
  pod_message: string | null;
}

interface PortFeedback {
  observed_ip: string | null;
  observed_mac: string | null;
  observed_interface: string | null;
}

interface PodJob {
  handle: ClusterHandle;
  type: WatchEventType;
  pod: V1Pod;
  /** Whether the instance must be synced again (an edit, a deletion, a failure seen). */
  requeue: boolean;
  /** Whether this event is the pod's deletion starting (or, without a grace period, done). */
  vanishing: boolean;
}

const NO_POD: PodFeedback = { pod_phase: null, node_name: null, pod_ip: null, pod_message: null };

/** Why a pod is not running yet, as Kubernetes says it; null when nothing is wrong. */
export function podMessage(pod: V1Pod): string | null {
  if (pod.metadata?.deletionTimestamp) return 'terminating';
  const say = (reason?: string, message?: string) =>
    [reason, message].filter(Boolean).join(': ') || null;
  for (const c of pod.status?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w) return say(w.reason, w.message);
    const t = c.state?.terminated;
    if (t && pod.status?.phase !== 'Succeeded') return say(t.reason, t.message);
  }
  const unscheduled = pod.status?.conditions?.find(
    (c) => c.type === 'PodScheduled' && c.status === 'False',
  );
  if (unscheduled) return say(unscheduled.reason, unscheduled.message);
  if (pod.status?.phase === 'Running' || pod.status?.phase === 'Succeeded') return null;
  return say(pod.status?.reason, pod.status?.message);
}

/** What the instance's feedback fields say of its pod (null fields: no pod). */
export function podFeedback(pod: V1Pod | undefined): PodFeedback {
  if (!pod) return NO_POD;
  return {
    pod_phase: pod.status?.phase ?? null,
    node_name: pod.spec?.nodeName ?? null,
    pod_ip: pod.status?.podIP ?? null,
    pod_message: podMessage(pod),
  };
}

/**
 * Whether someone changed, between two versions of a pod, what Syncord set: its owner labels, the
 * spec digest and networks request, the images, the service account. (Kubernetes' own changes,
 * a binding to a node, status, Multus' network-status, are not edits.)
 */
function edited(old: V1Pod, pod: V1Pod): boolean {
  const a = old.metadata ?? {};
  const b = pod.metadata ?? {};
  const images = (p: V1Pod) => (p.spec?.containers ?? []).map((c) => c.image).join(' ');
  return (
    [MANAGED_BY, INSTANCE, MODEL, ID].some((k) => a.labels?.[k] !== b.labels?.[k]) ||
    [SPEC_HASH, NETWORKS].some((k) => a.annotations?.[k] !== b.annotations?.[k]) ||
    images(old) !== images(pod) ||
    old.spec?.serviceAccountName !== pod.spec?.serviceAccountName
  );
}

const differs = (current: ModelObject, next: Record<string, unknown>) =>
  Object.entries(next).some(([k, v]) => (current[k] ?? null) !== v);

/** "10.1.0.5/24" → "10.1.0.5" (Multus reports plain addresses, the rig's double with prefix). */
const stripPrefix = (ip: string | undefined) => (ip ? (ip.split('/')[0] ?? null) : null);

export class PodObserver {
  private ctx: StepContext | undefined;
  private readonly watches = new Map<
    string,
    { handle: ClusterHandle; watch: ObjectWatch<V1Pod> }
  >();
  /** The previous version of each pod seen, to tell edits from status updates. */
  private readonly seen = new Map<string, V1Pod>();
  /** Orphaned pods already removed (their later events are not removals again). */
  private readonly orphans = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /**
   * Pod events' database work: per pod in order, coalesced, many pods at once (their reads and
   * writes are gathered into few statements by the cached service, so more at once is fewer
   * round trips, not more connections).
   */
  private readonly work = new KeyedCoalescer<PodJob>((_key, job) => this.handlePod(job), {
    concurrency: 64,
    onError: (err) => {
      this.rt.log(`kubernetes: pod observer: ${errorText(err)}`);
    },
  });
  private sweeping: Promise<void> | undefined;

  constructor(private readonly rt: Runtime) {
    rt.clusters.onNew = (handle) => {
      this.watchCluster(handle);
    };
  }

  get started(): boolean {
    return this.ctx !== undefined;
  }

  async start(ctx: StepContext): Promise<void> {
    if (this.ctx) return;
    this.ctx = ctx;
    for (const h of this.rt.clusters.known()) this.watchCluster(h);
    try {
      for (const h of await this.rt.clusters.all(ctx.models)) this.watchCluster(h);
    } catch (err) {
      this.rt.log(`kubernetes: cannot list the clusters to watch yet: ${errorText(err)}`);
    }
    const every = this.rt.options.sweepMs ?? 10 * 60_000;
    if (every > 0) {
      const tick = () => {
        this.sweeping = this.sweep()
          .then((lines) => {
            for (const line of lines) this.rt.log(`kubernetes sweep: ${line}`);
          })
          .catch((err: unknown) => {
            this.rt.log(`kubernetes sweep failed: ${errorText(err)}`);
          })
          .finally(() => {
            if (this.ctx) this.sweepTimer = setTimeout(tick, every).unref();
          });
      };
      this.sweepTimer = setTimeout(tick, every).unref();
    }
  }

  async stop(): Promise<void> {
    this.ctx = undefined;
    clearTimeout(this.sweepTimer);
    this.work.clear();
    const watches = [...this.watches.values()];
    this.watches.clear();
    await Promise.all(watches.map((w) => w.watch.stop()));
    await this.sweeping;
    await this.work.drained();
  }

  /** Watches a cluster's pods (again, if its handle changed); no-op before start(). */
  watchCluster(handle: ClusterHandle): void {
    if (!this.ctx) return;
    const known = this.watches.get(handle.key);
    if (known?.handle === handle) return;
    if (known) void known.watch.stop();
    const watch = handle.cluster.watch<V1Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      labelSelector: managedSelector(this.rt.instance),
      onEvent: (type, pod) => {
        this.onEvent(handle, type, pod);
      },
      onError: (err) => {
        this.rt.log(`kubernetes: pod watch of ${handle.label}: ${err.message} (resuming)`);
      },
    });
    this.watches.set(handle.key, { handle, watch });
    watch.start();
  }

  /** Resolves once every cluster watched so far has listed its pods. */
  async synced(): Promise<void> {
    await Promise.all([...this.watches.values()].map((w) => w.watch.synced()));
  }

  /** Whether the watch of this cluster has listed its pods (so its cache can be trusted). */
  isSynced(handle: ClusterHandle): boolean {
    const w = this.watches.get(handle.key)?.watch;
    return w !== undefined && w.listCount > 0;
  }

  /** Every pod of this deployment the cluster's watch knows. */
  cachedPods(handle: ClusterHandle): V1Pod[] {
    return this.watches.get(handle.key)?.watch.objects() ?? [];
  }

  /** The pod as last seen by the watch of its cluster. */
  cached(handle: ClusterHandle, namespace: string, name: string): V1Pod | undefined {
    return this.watches.get(handle.key)?.watch.get(namespace, name);
  }

  /**
   * Called by the watch, in order, once its cache holds the event: notes what the event means
   * at once (the previous version is needed to tell an edit from a status update) and leaves the
   * database work to `work`, so that the watch's cache, which the pod steps read, never waits
   * for the database.
   */
  private onEvent(handle: ClusterHandle, type: WatchEventType, pod: V1Pod): void {
    if (!this.ctx) return;
    const key = `${handle.key}/${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const old = this.seen.get(key);
    if (type === 'DELETED') this.seen.delete(key);
    else this.seen.set(key, pod);
    const failed = pod.status?.phase === 'Failed' && old?.status?.phase !== 'Failed';
    const vanishing =
      !old?.metadata?.deletionTimestamp &&
      (type === 'DELETED' || pod.metadata?.deletionTimestamp !== undefined);
    const requeue =
      type === 'DELETED' ||
      pod.metadata?.deletionTimestamp !== undefined ||
      failed ||
      (old !== undefined && edited(old, pod));
    this.work.push(key, (pending) => ({
      handle,
      type,
      pod,
      requeue: requeue || (pending?.requeue ?? false),
      vanishing: vanishing || (pending?.vanishing ?? false),
    }));
  }

  /** The database side of a pod's latest event (earlier ones not yet handled are merged in). */
  private async handlePod(job: PodJob): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    const { handle, type, pod } = job;
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const owner = ownerOf(this.rt.instance, pod.metadata?.labels);
    if (!owner) return;
    const si = await this.owner(ctx.models, owner);
    if (!si) {
      const uid = pod.metadata?.uid ?? '';
      if (type === 'DELETED') this.orphans.delete(uid);
      else if (!pod.metadata?.deletionTimestamp && !this.orphans.has(uid)) {
        this.orphans.add(uid);
        try {
          await handle.cluster.remove('v1', 'Pod', ns, name, { uid });
        } catch (err) {
          this.orphans.delete(uid); // tried again on its next event or relist
          throw err;
        }
        const selector = ownerSelector(this.rt.instance, owner);
        for (const cm of await handle.cluster.list('v1', 'ConfigMap', ns, selector)) {
          await handle.cluster.remove('v1', 'ConfigMap', ns, cm.metadata?.name ?? '');
        }
        this.rt.log(
          `kubernetes: removed pod ${ns}/${name} of ${handle.label}: its ${owner.model} ${String(owner.id)} does not exist`,
        );
      }
      return;
    }
    if (!(si.leaf_model in POD_MODELS) || si.deleted_at !== null) return;
    if (name !== podNameOf(si)) {
      // Not the pod it should have (renamed, moved): its sync removes the stray.
      ctx.enqueue(si.leaf_model, si.id);
      return;
    }
    if (job.vanishing && si.backend_code === 1 && si.synced_version === si.version) {
      // Its pod is going away while the instance reads as synchronized and unedited: not
      // Syncord's doing (a pod it replaces or removes belongs to an edited or deleted instance,
      // or one pending already). Say so before the sync waits for it and re-creates it.
      await ctx.models.setStatus(si.leaf_model, si.id, {
        backend_code: 0,
        backend_status: `pod ${ns}/${name} was deleted out of band: re-creating it`,
      });
    }
    if (job.requeue) ctx.enqueue(si.leaf_model, si.id);
    if (type === 'DELETED') {
      await this.writeFeedback(ctx, si, NO_POD);
      await this.writePorts(ctx, si, ns, undefined);
      return;
    }
    await Promise.all([
      this.writeFeedback(ctx, si, podFeedback(pod)),
      this.writePorts(ctx, si, ns, pod),
    ]);
  }

  /** The model object an owner label names; undefined when it does not exist. */
  private async owner(models: ModelService, owner: Owner): Promise<ModelObject | undefined> {
    if (!models.registry.has(owner.model)) return undefined;
    try {
      return await models.get(owner.model, owner.id, { includeDeleted: true });
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  private async writeFeedback(ctx: StepContext, si: ModelObject, fb: PodFeedback): Promise<void> {
    const next: Record<string, unknown> = { ...fb };
    // KubernetesServiceInstance and friends all have these fields; write only what changed.
    if (!differs(si, next)) return;
    await ctx.models.writeStatus(si.leaf_model, si.id, { feedback: next });
  }

  private async writePorts(
    ctx: StepContext,
    si: ModelObject,
    namespace: string,
    pod: V1Pod | undefined,
  ): Promise<void> {
    const ports = await portsOf(ctx.models, si);
    if (ports.length === 0) return;
    const names = interfaceNames(ports);
    const status = parseNetworkStatus(pod?.metadata?.annotations?.[NETWORK_STATUS]);
    const networks = new Map<number, string>();
    const writes: Promise<void>[] = [];
    for (const port of ports) {
      const networkId = port.network_id as number;
      let nad = networks.get(networkId);
      if (nad === undefined) {
        nad = nadName(await ctx.models.get('Network', networkId, { includeDeleted: true }));
        networks.set(networkId, nad);
      }
      const iface = names.get(port.id);
      const entry = status.find(
        (e) => e.default !== true && e.interface === iface && e.name === `${namespace}/${nad}`,
      );
      const next: PortFeedback = entry
        ? {
            observed_ip: stripPrefix(entry.ips?.[0]),
            observed_mac: entry.mac ?? null,
            observed_interface: entry.interface ?? null,
          }
        : { observed_ip: null, observed_mac: null, observed_interface: null };
      if (!differs(port, { ...next })) continue;
      writes.push(
        ctx.models.writeStatus('Port', port.id, { feedback: { ...next } }).then(() => {
          ctx.enqueue('Port', port.id);
        }),
      );
    }
    // Together, so that the cached service sends them (and other pods') in one statement.
    await Promise.all(writes);
  }

  /**
   * Removes, in every cluster: NADs no live pod of Syncord asks for, and ConfigMaps, service
   * accounts and namespaces whose owner does not exist. Returns one line per removal.
   */
  async sweep(): Promise<string[]> {
    const ctx = this.ctx;
    if (!ctx) return [];
    const lines: string[] = [];
    const selector = managedSelector(this.rt.instance);
    for (const h of await this.rt.clusters.all(ctx.models)) {
      const nads = await h.cluster.list(NAD_API, NAD_KIND, undefined, selector);
      for (const ns of new Set(nads.map((n) => n.metadata?.namespace ?? ''))) {
        for (const name of await sweepNads(this.rt, h, ns)) {
          lines.push(`removed NetworkAttachmentDefinition ${ns}/${name} (no pod uses it)`);
        }
      }
      for (const kind of ['ConfigMap', 'ServiceAccount', 'Namespace'] as const) {
        const objects = await h.cluster.list<KubeObject>('v1', kind, undefined, selector);
        for (const obj of objects) {
          const owner = ownerOf(this.rt.instance, obj.metadata?.labels);
          if (!owner || (await this.owner(ctx.models, owner))) continue;
          const ns = obj.metadata?.namespace;
          const name = obj.metadata?.name ?? '';
          if (kind === 'Namespace') {
            const nsObj = obj as V1Namespace;
            if (SYSTEM_NAMESPACES.has(name) || nsObj.metadata?.annotations?.[ADOPTED] === 'true') {
              continue;
            }
          }
          await h.cluster.remove('v1', kind, ns, name, { uid: obj.metadata?.uid });
          lines.push(
            `removed ${kind} ${ns ? `${ns}/` : ''}${name} of ${h.label}: its ${owner.model} ${String(owner.id)} does not exist`,
          );
        }
      }
    }
    return lines;
  }
}
