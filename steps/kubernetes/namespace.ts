// TrustDomain → Namespace, named after the trust domain, in the default cluster and in every
// cluster one of its slices names. A namespace that existed before (e.g. `default`) is adopted:
// labelled, and on deletion released (Syncord's labels taken off) rather than removed.
// Observed (management_policy observe): read, phase and labels. Orphaned (deletion_policy
// orphan): every namespace carrying the trust domain's labels keeps everything but them.
import type { V1Namespace } from '@kubernetes/client-node';
import {
  INSTANCE,
  MANAGED_BY,
  MANAGER,
  ownedBy,
  ownerLabels,
  ownerSelector,
} from '../../backends/kubernetes/index.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import type { ClusterHandle } from './clusters.js';
import { labelsText, unmark } from './marks.js';
import {
  ADOPTED,
  nameOf,
  namespaceOf,
  ownerOfObject,
  SYSTEM_NAMESPACES,
  type Runtime,
} from './runtime.js';

/** The clusters a trust domain's namespace belongs in: the default one and its slices'. */
export async function clustersOfTrustDomain(
  rt: Runtime,
  models: ModelService,
  td: ModelObject,
): Promise<ClusterHandle[]> {
  const out = new Map<string, ClusterHandle>();
  const def = await rt.clusters.default(models);
  out.set(def.key, def);
  const slices = await models.list('Slice', {
    filter: [
      { field: 'trust_domain', value: td.id },
      { field: 'cluster', op: 'notnull' },
    ],
    pageSize: 5000,
  });
  for (const slice of slices.items) {
    const h = await rt.clusters.forSlice(models, slice);
    out.set(h.key, h);
  }
  return [...out.values()];
}

/** Says who else owns an object carrying Syncord's labels, or undefined if nobody does. */
export function foreignOwner(
  rt: Runtime,
  labels: Record<string, string> | undefined,
  owner: { model: string; id: number },
): string | undefined {
  if (!labels || labels[MANAGED_BY] !== MANAGER) return undefined;
  if (labels[INSTANCE] !== rt.instance) {
    return `Syncord deployment ${labels[INSTANCE] ?? '(unnamed)'}`;
  }
  if (ownedBy(rt.instance, labels, owner)) return undefined;
  return `${labels['syncord.io/model'] ?? '?'} ${labels['syncord.io/id'] ?? '?'}`;
}

const wasAdopted = (ns: V1Namespace) => ns.metadata?.annotations?.[ADOPTED] === 'true';

/**
 * Takes a namespace of Syncord's away: removed, or, when it was there before Syncord (or is one
 * of Kubernetes' own), released: applying nothing takes off every field Syncord's manager set.
 */
async function retire(h: ClusterHandle, live: V1Namespace, many: boolean): Promise<string> {
  const name = live.metadata?.name ?? '';
  const where = many ? ` in ${h.label}` : '';
  if (SYSTEM_NAMESPACES.has(name) || wasAdopted(live)) {
    await h.cluster.apply<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return `released namespace ${name}${where} (it was there before Syncord)`;
  }
  if (live.metadata?.deletionTimestamp) return `namespace ${name}${where} is terminating`;
  await h.cluster.remove('v1', 'Namespace', undefined, name, { uid: live.metadata?.uid });
  return `removed namespace ${name}${where}`;
}

export function namespaceStep(rt: Runtime): SyncStep {
  return {
    name: 'kubernetes/namespace',
    observes: 'TrustDomain',

    async sync(td: ModelObject, ctx: StepContext): Promise<string> {
      const ns = namespaceOf(td);
      const owner = ownerOfObject(td);
      const handles = await clustersOfTrustDomain(rt, ctx.models, td);
      const many = handles.length > 1;
      const done: string[] = [];
      for (const h of handles) {
        const live = await h.cluster.get<V1Namespace>('v1', 'Namespace', undefined, ns);
        if (live?.metadata?.deletionTimestamp) {
          throw new WaitingError(
            `waiting for the old namespace ${ns} to finish terminating in ${h.label}`,
            2000,
          );
        }
        const other = foreignOwner(rt, live?.metadata?.labels, owner);
        if (other) throw new Error(`namespace ${ns} in ${h.label} belongs to ${other}`);
        const adopted =
          live !== undefined &&
          (wasAdopted(live) || !ownedBy(rt.instance, live.metadata?.labels, owner));
        await h.cluster.apply<V1Namespace>({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: {
            name: ns,
            labels: ownerLabels(rt.instance, owner),
            ...(adopted ? { annotations: { [ADOPTED]: 'true' } } : {}),
          },
        });
        if (!live) done.push(`created namespace ${ns}${many ? ` in ${h.label}` : ''}`);
        else if (adopted && !wasAdopted(live)) {
          done.push(`adopted namespace ${ns}${many ? ` in ${h.label}` : ''}`);
        }
        // The trust domain's namespace under an older name (it was renamed) goes.
        const mine = await h.cluster.list<V1Namespace>(
          'v1',
          'Namespace',
          undefined,
          ownerSelector(rt.instance, owner),
        );
        for (const old of mine) {
          if (old.metadata?.name !== ns) done.push(await retire(h, old, many));
        }
      }
      return done.length ? done.join(', ') : `namespace ${ns} is in place`;
    },

    async delete(td: ModelObject, ctx: StepContext): Promise<string> {
      const owner = ownerOfObject(td);
      const handles = await rt.clusters.all(ctx.models);
      const done: string[] = [];
      for (const h of handles) {
        const mine = await h.cluster.list<V1Namespace>(
          'v1',
          'Namespace',
          undefined,
          ownerSelector(rt.instance, owner),
        );
        for (const live of mine) done.push(await retire(h, live, handles.length > 1));
      }
      return done.length ? done.join('; ') : `no namespace of ${nameOf(td)} to remove`;
    },

    async observe(td: ModelObject, ctx: StepContext): Promise<string> {
      const ns = namespaceOf(td);
      const handles = await clustersOfTrustDomain(rt, ctx.models, td);
      const seen: string[] = [];
      for (const h of handles) {
        const where = handles.length > 1 ? ` in ${h.label}` : '';
        const live = await h.cluster.get<V1Namespace>('v1', 'Namespace', undefined, ns);
        if (!live) throw new Error(`Namespace ${ns}${where} is not there`);
        const phase = live.metadata?.deletionTimestamp
          ? 'Terminating'
          : (live.status?.phase ?? 'no phase');
        seen.push(`Namespace ${ns}${where}: ${phase}${labelsText(live.metadata?.labels)}`);
      }
      return seen.join('; ');
    },

    // The namespaces delete() would remove or release, found the same way, keep all but the
    // owner labels and the adopted mark.
    async release(td: ModelObject, ctx: StepContext): Promise<string> {
      const owner = ownerOfObject(td);
      const handles = await rt.clusters.all(ctx.models);
      const done: string[] = [];
      for (const h of handles) {
        const mine = await h.cluster.list<V1Namespace>(
          'v1',
          'Namespace',
          undefined,
          ownerSelector(rt.instance, owner),
        );
        for (const live of mine) {
          await unmark(h, live, [ADOPTED]);
          done.push(`${live.metadata?.name ?? ''}${handles.length > 1 ? ` in ${h.label}` : ''}`);
        }
      }
      return done.length
        ? `released namespace ${done.join(', ')}: owner labels removed`
        : `no namespace of ${nameOf(td)} to release`;
    },
  };
}
