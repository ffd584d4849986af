// The OpenStack steps: VM service instances on a Cluster of kind openstack → Nova servers on
// Neutron ports with Syncord's addresses, on Neutron networks that stand for the Networks (and
// share their OVN switch with the pods' ports). See backends/openstack/README.md.
import type { SyncStep } from '../../synchronizer/engine.js';
import { networkStep } from './network.js';
import { OpenStackObserver } from './observer.js';
import { SERVER_MODELS } from './placement.js';
import { portStep } from './port.js';
import { OpenStackRuntime, type OpenStackStepOptions } from './runtime.js';
import { serverStep } from './server.js';
import { trustDomainStep } from './trust-domain.js';

export type { OpenStackStepOptions } from './runtime.js';
export { OpenStackObserver } from './observer.js';
export { OpenStackRuntime } from './runtime.js';

export interface OpenStackSteps {
  steps: SyncStep[];
  observer: OpenStackObserver;
  runtime: OpenStackRuntime;
}

export function openstackStepSet(options: OpenStackStepOptions = {}): OpenStackSteps {
  const runtime = new OpenStackRuntime(options);
  const observer = new OpenStackObserver(runtime);
  const steps: SyncStep[] = [trustDomainStep(runtime), networkStep(runtime), portStep(runtime)];
  for (const model of SERVER_MODELS) {
    steps.push({
      ...serverStep(runtime, model),
      // The server steps share one observer: the first start() starts it.
      start: (ctx) => observer.start(ctx),
      stop: () => observer.stop(),
    });
  }
  return { steps, observer, runtime };
}

export function openstackSteps(options: OpenStackStepOptions = {}): SyncStep[] {
  return openstackStepSet(options).steps;
}
