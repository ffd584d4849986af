// TrustDomain → its Keystone project on each OpenStack Cluster: made by the server step when the
// trust domain's first VM needs it (runtime.ts), removed here when the trust domain goes (its
// servers and ports went first: they depend on it). Only projects tagged as this deployment's
// and this trust domain's are removed, never one an operator made by hand and Syncord found by
// name.
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
  };
}
