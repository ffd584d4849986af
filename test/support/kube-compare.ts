// Kubernetes objects compared before and after a change that should touch only Syncord's marks:
// everything but the bookkeeping that always moves (status, managedFields, resourceVersion), and
// with the marks named taken off.
import type * as k8s from '@kubernetes/client-node';

/** Syncord's owner labels (backends/kubernetes ownerLabels). */
export const OWNER_LABELS = [
  'app.kubernetes.io/managed-by',
  'syncord.io/instance',
  'syncord.io/model',
  'syncord.io/id',
];

export type KubeObj = { metadata?: k8s.V1ObjectMeta } & Record<string, unknown>;

/** The map without these keys (an absent map is empty). */
export const without = (map: Record<string, string> | undefined, keys: readonly string[]) =>
  Object.fromEntries(Object.entries(map ?? {}).filter(([k]) => !keys.includes(k)));

/** The object as compared before and after: everything but the bookkeeping that always moves. */
export const comparable = (
  o: KubeObj,
  drop: { labels?: string[]; annotations?: string[] } = {},
) => {
  const rest: Record<string, unknown> = { ...o };
  delete rest.status;
  const meta = JSON.parse(JSON.stringify(o.metadata ?? {})) as Record<string, unknown>;
  delete meta.managedFields;
  delete meta.resourceVersion;
  return {
    ...rest,
    metadata: {
      ...meta,
      labels: without(o.metadata?.labels, drop.labels ?? []),
      annotations: without(o.metadata?.annotations, drop.annotations ?? []),
    } as Record<string, unknown>,
  };
};
