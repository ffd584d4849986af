// Syncord's owner marks on the Kubernetes objects it makes, and taking them off (deletion_policy
// orphan): the labels `app.kubernetes.io/managed-by`, `syncord.io/instance`, `syncord.io/model`
// and `syncord.io/id`, and the annotations Syncord keeps for itself (`syncord.io/spec-hash`,
// `syncord.io/adopted`). Without them an object is nobody's to Syncord: the pod observer's watch,
// the sweep and the steps' own look-ups all select by those labels, so none of them sees it again.
// Also the words the observe calls share.
import {
  ID,
  INSTANCE,
  MANAGED_BY,
  MODEL,
  type KubeObject,
} from '../../backends/kubernetes/index.js';
import type { ClusterHandle } from './clusters.js';

export const OWNER_LABELS: readonly string[] = [MANAGED_BY, INSTANCE, MODEL, ID];

/** `{key: null}` for each key the map has: a merge patch that removes them. */
export function removal(
  present: Record<string, string> | undefined,
  keys: readonly string[],
): Record<string, null> | undefined {
  const out: Record<string, null> = {};
  for (const k of keys) if (present && k in present) out[k] = null;
  return Object.keys(out).length ? out : undefined;
}

/**
 * Takes the owner labels and the given annotations off an object, and nothing else (one merge
 * patch; `extra` adds more of the same object's paths to it, e.g. a VM's template labels).
 * Returns whether there was anything to take off; gone already is not an error.
 */
export async function unmark(
  handle: ClusterHandle,
  obj: KubeObject,
  annotations: readonly string[] = [],
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const labels = removal(obj.metadata?.labels, OWNER_LABELS);
  const notes = removal(obj.metadata?.annotations, annotations);
  if (!labels && !notes && Object.keys(extra).length === 0) return false;
  const patched = await handle.cluster.mergePatch(
    obj.apiVersion ?? 'v1',
    obj.kind ?? '',
    obj.metadata?.namespace,
    obj.metadata?.name ?? '',
    {
      ...extra,
      metadata: { ...(labels ? { labels } : {}), ...(notes ? { annotations: notes } : {}) },
    },
  );
  return patched !== undefined;
}

/** `, labels a=b, c=d` for the labels that are not Syncord's nor Kubernetes' own; else ''. */
export function labelsText(labels: Record<string, string> | undefined): string {
  const shown = Object.entries(labels ?? {})
    .filter(([k]) => !OWNER_LABELS.includes(k) && k !== 'kubernetes.io/metadata.name')
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  return shown.length ? `, labels ${shown.join(', ')}` : '';
}

/** `; differs from the model: a, b` when there are differences; else ''. */
export const differences = (diffs: readonly string[]): string =>
  diffs.length ? `; differs from the model: ${diffs.join(', ')}` : '';

/** `ns/name` or `name`. */
export const whereOf = (obj: KubeObject): string =>
  `${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name ?? ''}`;
