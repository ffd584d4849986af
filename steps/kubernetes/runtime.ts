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
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const mine = before.then(job, job);
    const tail = mine.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export class Runtime {
  readonly instance: string;
  readonly clusters: Clusters;
  readonly locks = new KeyedMutex();
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

/** The namespace of a trust domain: its name, which must be a DNS label. */
export function namespaceOf(td: ModelObject): string {
  const name = nameOf(td);
  if (!isDnsLabel(name)) {
    throw new Error(
      `TrustDomain ${name} cannot name a namespace: a namespace name must be a DNS label (at most 63 lower-case letters, digits and "-", starting and ending alphanumeric)`,
    );
  }
  return name;
}

/** Whether a model object exists (deleted-but-not-reaped counts: its teardown is under way). */
export async function exists(models: ModelService, owner: Owner): Promise<boolean> {
  if (!models.registry.has(owner.model)) return false;
  try {
    await models.get(owner.model, owner.id, { includeDeleted: true });
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

export const errorText = (err: unknown): string =>
  err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error';
