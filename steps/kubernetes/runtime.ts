// What the Kubernetes steps share: the options, the cluster handles, a lock per namespace (NADs
// are applied and swept under it, so a sweep never removes a NAD a pod is about to use), and the
// small model look-ups every step needs.
import { isDnsLabel, type Owner } from '../../backends/kubernetes/index.js';
import { NotFoundError } from '../../models/errors.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { Clusters } from './clusters.js';

export interface KubernetesStepOptions {
  /**
   * This Syncord deployment's name, in the `syncord.io/instance` label of everything it makes:
   * deployments (or test runs) with their own databases can share a cluster without taking each
   * other's objects for orphans. Default: $SYNCORD_INSTANCE, else `syncord`.
   */
  instance?: string;
  /** The kubeconfig text used where no Cluster gives one (default: $KUBECONFIG / in-cluster). */
  kubeconfig?: string;
  /** Period of the sweep of unused NADs and orphaned objects (default 10 minutes; 0: never). */
  sweepMs?: number;
  /**
   * Include the Port step (default true), which reports a Port synced once its pod shows the
   * interface. The engine runs one step per model: leave it out where another backend's step
   * owns Port.
   */
  ports?: boolean;
  /** Whether VM VNFs become KubeVirt VirtualMachines (default true). */
  vms?: boolean;
  /** The CNI plugin `type` of NADs for OVN networks (default `ovn4nfvk8s-cni`). */
  ovnCniType?: string;
  /** The master interface of the macvlan NADs made for flannel networks (default eth0). */
  macvlanMaster?: string;
  /** The device plugin resource of SR-IOV NADs (`k8s.v1.cni.cncf.io/resourceName`), if any. */
  sriovResourceName?: string;
  log?: (line: string) => void;
}

/** The models run as one pod each, with the short kind used in generated pod names. */
export const POD_MODELS: Readonly<Record<string, string>> = {
  VNFServiceInstance: 'vnf',
  VSGServiceInstance: 'vsg',
  KubernetesServiceInstance: 'pod',
};

/** Namespaces Syncord labels when a trust domain names them but never deletes. */
export const SYSTEM_NAMESPACES = new Set([
  'default',
  'kube-system',
  'kube-public',
  'kube-node-lease',
]);

/** Set on a namespace that existed before Syncord labelled it: deleting releases, not removes. */
export const ADOPTED = 'syncord.io/adopted';

/** Runs one async job at a time per key. */
/**
 * A reader/writer lock per key: pod syncs in a namespace take it shared (they run at once), the
 * NAD sweep takes it exclusive (it must not remove a NAD a pod sync is about to use). A waiting
 * writer holds back new readers, so a sweep is not starved.
 */
export class KeyedRwLock {
  private readonly state = new Map<
    string,
    { readers: number; writer: boolean; queue: { write: boolean; go: () => void }[] }
  >();

  private entry(key: string) {
    let e = this.state.get(key);
    if (!e) this.state.set(key, (e = { readers: 0, writer: false, queue: [] }));
    return e;
  }

  private pump(key: string): void {
    const e = this.state.get(key);
    if (!e) return;
    while (e.queue.length && !e.writer) {
      const next = e.queue[0]!;
      if (next.write) {
        if (e.readers > 0) break;
        e.queue.shift();
        e.writer = true;
        next.go();
        break;
      }
      e.queue.shift();
      e.readers++;
      next.go();
    }
    if (!e.writer && e.readers === 0 && e.queue.length === 0) this.state.delete(key);
  }

  private async run<T>(key: string, write: boolean, job: () => Promise<T>): Promise<T> {
    const e = this.entry(key);
    await new Promise<void>((go) => {
      e.queue.push({ write, go });
      this.pump(key);
    });
    try {
      return await job();
    } finally {
      if (write) e.writer = false;
      else e.readers--;
      this.pump(key);
    }
  }

  shared<T>(key: string, job: () => Promise<T>): Promise<T> {
    return this.run(key, false, job);
  }

  exclusive<T>(key: string, job: () => Promise<T>): Promise<T> {
    return this.run(key, true, job);
  }
}

export class Runtime {
  readonly instance: string;
  readonly clusters: Clusters;
  readonly locks = new KeyedRwLock();
  /**
   * NADs this process applied, by cluster/namespace/name, with the digest of what it applied and
   * when: a pod sync re-applies a NAD only when it changed or was applied over a minute ago (so
   * one deleted out of band comes back within a minute), not once per pod.
   */
  readonly appliedNads = new Map<string, { digest: string; at: number; applied?: Promise<void> }>();
  /** Namespaces last seen active, by cluster/namespace: when (ms). */
  readonly activeNamespaces = new Map<string, number>();
  /** The same for each pod's ConfigMap (applied, or removed when the instance has no config). */
  readonly appliedConfigMaps = new Map<string, { digest: string; at: number }>();
  /**
   * The ConfigMaps of this deployment in a namespace, by cluster/namespace: one list, shared by
   * the pod syncs of the next minute, so that an instance without config costs no DELETE of a
   * ConfigMap that is not there. Kept current with this process's own applies and removals.
   */
  readonly ownedConfigMaps = new Map<string, { at: number; names: Promise<Set<string>> }>();
  readonly log: (line: string) => void;

  constructor(readonly options: KubernetesStepOptions) {
    this.instance = options.instance ?? process.env.SYNCORD_INSTANCE ?? 'syncord';
    this.clusters = new Clusters(options.kubeconfig);
    this.log = options.log ?? (() => undefined);
  }
}

export const nameOf = (o: ModelObject): string =>
  typeof o.name === 'string' && o.name ? o.name : String(o.id);

export const ownerOfObject = (o: ModelObject): Owner => ({ model: o.leaf_model, id: o.id });

/** A referenced object, deleted ones included (a teardown still needs to know where things are). */
export async function referenced(
  models: ModelService,
  model: string,
  id: unknown,
  what: string,
): Promise<ModelObject> {
  if (typeof id !== 'number') throw new Error(`${what} is not set`);
  try {
    return await models.get(model, id, { includeDeleted: true });
  } catch (err) {
    if (err instanceof NotFoundError) {
      throw new Error(`${what} (${model} ${String(id)}) does not exist`, { cause: err });
    }
    throw err;
  }
}

/**
 * An adopted object's Kubernetes name for a kind, from its backend_handle
 * (`{"kubernetes/<Kind>": name}`, written by `syncord adopt`): the objects it was made from keep
 * their names. A namespaced object's handle is `namespace/name`; this gives the name.
 */
export function handleOf(obj: ModelObject, kind: string): string | undefined {
  const handle = obj.backend_handle;
  if (!handle || typeof handle !== 'object' || Array.isArray(handle)) return undefined;
  const value = (handle as Record<string, unknown>)[`kubernetes/${kind}`];
  if (typeof value !== 'string' || !value) return undefined;
  return value.slice(value.lastIndexOf('/') + 1) || undefined;
}

/**
 * The namespace of a trust domain: its name, which must be a DNS label; for an adopted one, the
 * namespace it was made from.
 */
export function namespaceOf(td: ModelObject): string {
  const adopted = handleOf(td, 'Namespace');
  if (adopted) return adopted;
  const name = nameOf(td);
  if (!isDnsLabel(name)) {
    throw new Error(
      `TrustDomain ${name} cannot name a namespace: a namespace name must be a DNS label (at most 63 lower-case letters, digits and "-", starting and ending alphanumeric)`,
    );
  }
  return name;
}

export const errorText = (err: unknown): string =>
  err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error';
