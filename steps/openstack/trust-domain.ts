// TrustDomain → its Keystone project on each OpenStack Cluster: made by the server step when the
// trust domain's first VM needs it (runtime.ts), removed here when the trust domain goes (its
// servers and ports went first: they depend on it). Only projects tagged as this deployment's
// and this trust domain's are removed, never one an operator made by hand and Syncord found by
// name.
//
// Observed (management_policy observe): the project of the trust domain's name on each Cluster,
// which must be there on a Cluster one of its slices runs on (a VM there needs it). Released
// (deletion_policy orphan): the project loses its owner tags and stays, with its servers and
// Syncord's role on it; its name is the trust domain's, not one of Syncord's making, so it keeps
// it (a trust domain of that name made later finds it by name and uses it, as it would an
// operator's, and never removes it).
import { Keystone } from '../../backends/openstack/resources.js';
import type { ModelObject } from '../../models/service.js';
import type { StepContext, SyncStep } from '../../synchronizer/engine.js';
import { openstackClusters } from './network.js';
import { nameOf, type OpenStackRuntime } from './runtime.js';

export function trustDomainStep(rt: OpenStackRuntime): SyncStep {
  return {
    name: 'openstack/trust-domain',
    observes: 'TrustDomain',

    // Made on demand, by the first VM of the trust domain: nothing to do before.
    sync: () => Promise.resolve('its OpenStack projects are made for its VMs'),

    async observe(td: ModelObject, ctx: StepContext): Promise<string> {
      const clusters = await openstackClusters(ctx.models);
      if (!clusters.length) return 'no OpenStack Cluster';
      // The Clusters its slices run on: there its VMs need the project.
      const slices = await ctx.models.list('Slice', {
        filter: [{ field: 'trust_domain', value: td.id }],
        pageSize: 1000,
      });
      const needed = new Set(slices.items.map((s) => s.cluster_id));
      const name = nameOf(td);
      const seen: string[] = [];
      for (const cluster of clusters) {
        if (rt.usesApplicationCredential(cluster)) {
          seen.push(`Cluster ${nameOf(cluster)} uses its application credential's project`);
          continue;
        }
        const keystone = new Keystone(rt.admin(cluster));
        const domainName = rt.credentials(cluster).projectDomainName ?? 'Default';
        const domainId = await keystone.domainId(domainName);
        const [project, ...more] = await keystone.projects({ name, domain_id: domainId });
        if (!project) {
          if (needed.has(cluster.id)) {
            throw new Error(
              `Keystone project ${name} is not there on Cluster ${nameOf(cluster)} (domain ${domainName})`,
            );
          }
          continue;
        }
        seen.push(
          `Keystone project ${name} (${project.id}) on Cluster ${nameOf(cluster)}${project.enabled === false ? ', disabled' : ''}${more.length ? `, and ${String(more.length)} more of that name` : ''}`,
        );
      }
      return seen.length
        ? seen.join('; ')
        : `no Keystone project ${name} (none is needed before its first VM on OpenStack)`;
    },

    async delete(td: ModelObject, ctx: StepContext): Promise<string> {
      const removed: string[] = [];
      for (const cluster of await openstackClusters(ctx.models)) {
        if (rt.usesApplicationCredential(cluster)) continue;
        const keystone = new Keystone(rt.admin(cluster));
        const projects = await keystone.projects({
          name: nameOf(td),
          tags: [rt.instanceTag, rt.ownerTag({ model: 'TrustDomain', id: td.id })].join(','),
        });
        for (const p of projects) {
          await keystone.deleteProject(p.id);
          removed.push(`${p.name} (${p.id}) on Cluster ${nameOf(cluster)}`);
        }
        rt.forgetProject(cluster, td);
      }
      return removed.length
        ? `removed Keystone project ${removed.join(', ')}`
        : 'no Keystone project to remove';
    },

    async release(td: ModelObject, ctx: StepContext): Promise<string> {
      const owner = { model: 'TrustDomain', id: td.id };
      const released: string[] = [];
      for (const cluster of await openstackClusters(ctx.models)) {
        if (rt.usesApplicationCredential(cluster)) continue;
        const keystone = new Keystone(rt.admin(cluster));
        // The projects delete() would remove, and one a release cut short left half-marked.
        for (const p of await keystone.projects({ name: nameOf(td) })) {
          if (!p.tags?.length || !rt.releasable(p.tags, owner)) continue;
          const marks = rt.marksIn(p.tags, owner);
          for (const tag of marks) await keystone.untagProject(p.id, tag);
          if (marks.length) released.push(`${p.name} (${p.id}) on Cluster ${nameOf(cluster)}`);
        }
        rt.forgetProject(cluster, td);
      }
      return released.length
        ? `released Keystone project ${released.join(', ')}: owner tags removed`
        : 'no Keystone project to release';
    },
  };
}
