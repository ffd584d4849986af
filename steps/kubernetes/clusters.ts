// Which cluster an object lives in: the slice's Cluster when it names one, else the Cluster of
// kind kubernetes marked default_cluster, else the environment ($KUBECONFIG or in-cluster, or the
// kubeconfig the steps were given). A Cluster with a kubeconfig text uses it. Handles are cached
// per Cluster id and version: editing a Cluster's kubeconfig makes a new handle.
import { KubernetesCluster } from '../../backends/kubernetes/index.js';
import { listAll, type ModelObject, type ModelService } from '../../models/service.js';

export interface ClusterHandle {
  /** Stable per cluster: `env` or `cluster-<id>`. */
  key: string;
  /** For sentences: `Cluster edge-1` or `the default cluster`. */
  label: string;
  cluster: KubernetesCluster;
  /** The Cluster's version the handle was built from (undefined for the environment). */
  version: number | undefined;
}

export class Clusters {
  private readonly handles = new Map<string, ClusterHandle>();
  /** Told of every new handle (the pod observer watches it). */
  onNew: ((handle: ClusterHandle) => void) | undefined;

  constructor(private readonly kubeconfig: string | undefined) {}

  /**
   * The cluster of a slice (or the default one when the slice names none). A slice on an
   * OpenStack Cluster (a hybrid one: its VMs are Nova servers there) runs its containers on the
   * default cluster.
   */
  async forSlice(models: ModelService, slice: ModelObject): Promise<ClusterHandle> {
    const id = slice.cluster_id;
    if (typeof id === 'number') {
      const row = await models.get('Cluster', id, { includeDeleted: true });
      if (row.kind !== 'openstack') return this.fromRow(row);
    }
    return this.default(models);
  }

  /** The Cluster marked default_cluster, else the environment's. */
  async default(models: ModelService): Promise<ClusterHandle> {
    const page = await models.list('Cluster', {
      filter: [
        { field: 'kind', value: 'kubernetes' },
        { field: 'default_cluster', value: true },
      ],
      orderBy: [{ field: 'id' }],
      pageSize: 1,
    });
    const row = page.items[0];
    return row ? this.fromRow(row) : this.env();
  }

  /** Every cluster Syncord may have put something in: the default and each Cluster of kind kubernetes. */
  async all(models: ModelService): Promise<ClusterHandle[]> {
    const out = new Map<string, ClusterHandle>();
    const def = await this.default(models).catch(() => undefined);
    if (def) out.set(def.key, def);
    for (const row of await listAll(models, 'Cluster', {
      filter: [{ field: 'kind', value: 'kubernetes' }],
    })) {
      try {
        const h = this.fromRow(row);
        out.set(h.key, h);
      } catch {
        // A Cluster whose kubeconfig does not load is reported when something syncs to it.
      }
    }
    return [...out.values()];
  }

  /** The handles made so far. */
  known(): ClusterHandle[] {
    return [...this.handles.values()];
  }

  fromRow(row: ModelObject): ClusterHandle {
    const name = typeof row.name === 'string' ? row.name : String(row.id);
    if (row.kind !== 'kubernetes') {
      throw new Error(`Cluster ${name} is of kind ${String(row.kind)}, not kubernetes`);
    }
    const key = `cluster-${String(row.id)}`;
    const known = this.handles.get(key);
    if (known?.version === row.version) return known;
    const text = typeof row.kubeconfig === 'string' && row.kubeconfig.trim() ? row.kubeconfig : '';
    let cluster: KubernetesCluster;
    try {
      cluster = KubernetesCluster.fromKubeconfig(text || this.kubeconfig);
    } catch (err) {
      throw new Error(`Cluster ${name}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    return this.remember({ key, label: `Cluster ${name}`, cluster, version: row.version });
  }

  env(): ClusterHandle {
    const known = this.handles.get('env');
    if (known) return known;
    const cluster = KubernetesCluster.fromKubeconfig(this.kubeconfig);
    return this.remember({ key: 'env', label: 'the default cluster', cluster, version: undefined });
  }

  private remember(handle: ClusterHandle): ClusterHandle {
    this.handles.set(handle.key, handle);
    this.onNew?.(handle);
    return handle;
  }
}
