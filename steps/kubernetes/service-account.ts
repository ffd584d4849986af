// Principal → ServiceAccount named after the principal, in its trust domain's namespace, in every
// cluster that namespace is in. Observed: its image pull secrets, token mounting and labels.
// Orphaned: every service account carrying the principal's labels keeps everything but them.
import type { V1ServiceAccount } from '@kubernetes/client-node';
import {
  isDnsSubdomain,
  KubernetesError,
  ownerLabels,
  ownerSelector,
} from '../../backends/kubernetes/index.js';
import type { ModelObject } from '../../models/service.js';
import { WaitingError, type StepContext, type SyncStep } from '../../synchronizer/engine.js';
import { labelsText, unmark, whereOf } from './marks.js';
import { clustersOfTrustDomain, foreignOwner } from './namespace.js';
import { nameOf, namespaceOf, ownerOfObject, referenced, type Runtime } from './runtime.js';

export function serviceAccountName(principal: ModelObject): string {
  const name = nameOf(principal);
  if (!isDnsSubdomain(name)) {
    throw new Error(
      `Principal ${name} cannot name a service account: the name must be a DNS subdomain (lower-case letters, digits, "-" and ".", starting and ending alphanumeric)`,
    );
  }
  return name;
}

export function serviceAccountStep(rt: Runtime): SyncStep {
  return {
    name: 'kubernetes/service-account',
    observes: 'Principal',

    async sync(principal: ModelObject, ctx: StepContext): Promise<string> {
      const name = serviceAccountName(principal);
      const td = await referenced(
        ctx.models,
        'TrustDomain',
        principal.trust_domain_id,
        'its trust domain',
      );
      const ns = namespaceOf(td);
      const owner = ownerOfObject(principal);
      const handles = await clustersOfTrustDomain(rt, ctx.models, td);
      let created = 0;
      for (const h of handles) {
        const live = await h.cluster.get<V1ServiceAccount>('v1', 'ServiceAccount', ns, name);
        const other = foreignOwner(rt, live?.metadata?.labels, owner);
        if (other) {
          throw new Error(`service account ${ns}/${name} in ${h.label} belongs to ${other}`);
        }
        try {
          await h.cluster.apply<V1ServiceAccount>({
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            metadata: { name, namespace: ns, labels: ownerLabels(rt.instance, owner) },
          });
        } catch (err) {
          if (err instanceof KubernetesError && err.namespaceMissing) {
            ctx.enqueue('TrustDomain', td.id);
            throw new WaitingError(`waiting for namespace ${ns} in ${h.label}`, 500);
          }
          throw err;
        }
        if (!live) created++;
        // Under an older name (the principal was renamed) or in an older namespace: removed.
        for (const old of await h.cluster.list<V1ServiceAccount>(
          'v1',
          'ServiceAccount',
          undefined,
          ownerSelector(rt.instance, owner),
        )) {
          if (old.metadata?.name === name && old.metadata.namespace === ns) continue;
          await h.cluster.remove(
            'v1',
            'ServiceAccount',
            old.metadata?.namespace,
            old.metadata?.name ?? '',
            {
              uid: old.metadata?.uid,
            },
          );
        }
      }
      return created
        ? `created service account ${ns}/${name}`
        : `service account ${ns}/${name} is in place`;
    },

    async delete(principal: ModelObject, ctx: StepContext): Promise<string> {
      const owner = ownerOfObject(principal);
      const removed: string[] = [];
      for (const h of await rt.clusters.all(ctx.models)) {
        const mine = await h.cluster.list<V1ServiceAccount>(
          'v1',
          'ServiceAccount',
          undefined,
          ownerSelector(rt.instance, owner),
        );
        for (const sa of mine) {
          const ns = sa.metadata?.namespace ?? '';
          const name = sa.metadata?.name ?? '';
          if (await h.cluster.remove('v1', 'ServiceAccount', ns, name, { uid: sa.metadata?.uid })) {
            removed.push(`${ns}/${name}`);
          }
        }
      }
      return removed.length
        ? `removed service account ${removed.join(', ')}`
        : `no service account of ${nameOf(principal)} to remove`;
    },

    async observe(principal: ModelObject, ctx: StepContext): Promise<string> {
      const name = serviceAccountName(principal);
      const td = await referenced(
        ctx.models,
        'TrustDomain',
        principal.trust_domain_id,
        'its trust domain',
      );
      const ns = namespaceOf(td);
      const handles = await clustersOfTrustDomain(rt, ctx.models, td);
      const seen: string[] = [];
      for (const h of handles) {
        const where = handles.length > 1 ? ` in ${h.label}` : '';
        const live = await h.cluster.get<V1ServiceAccount>('v1', 'ServiceAccount', ns, name);
        if (!live) throw new Error(`ServiceAccount ${ns}/${name}${where} is not there`);
        const pulls = (live.imagePullSecrets ?? []).map((s) => s.name ?? '').filter(Boolean);
        const automount = live.automountServiceAccountToken === false ? ', token not mounted' : '';
        seen.push(
          `ServiceAccount ${ns}/${name}${where}: ${pulls.length ? `image pull secrets ${pulls.join(', ')}` : 'no image pull secret'}${automount}${labelsText(live.metadata?.labels)}`,
        );
      }
      return seen.join('; ');
    },

    async release(principal: ModelObject, ctx: StepContext): Promise<string> {
      const owner = ownerOfObject(principal);
      const released: string[] = [];
      for (const h of await rt.clusters.all(ctx.models)) {
        const mine = await h.cluster.list<V1ServiceAccount>(
          'v1',
          'ServiceAccount',
          undefined,
          ownerSelector(rt.instance, owner),
        );
        for (const sa of mine) {
          await unmark(h, sa);
          released.push(whereOf(sa));
        }
      }
      return released.length
        ? `released service account ${released.join(', ')}: owner labels removed`
        : `no service account of ${nameOf(principal)} to release`;
    },
  };
}
