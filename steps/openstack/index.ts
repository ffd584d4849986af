// The OpenStack steps: VM service instances on a Cluster of kind openstack → Nova servers on
// Neutron ports with Syncord's addresses, on Neutron networks that stand for the Networks (and
// share their OVN switch with the pods' ports). See backends/openstack/README.md.
import type { AdoptSource } from '../../synchronizer/adopt.js';
import type { SyncStep } from '../../synchronizer/engine.js';
import { adoptNetwork, adoptPort, adoptServer, openstackAdoptSource } from './adopt.js';
import { networkStep } from './network.js';
import { OpenStackObserver } from './observer.js';
import { SERVER_MODELS } from './placement.js';
import { portStep } from './port.js';
import { handleOf, OpenStackRuntime, type OpenStackStepOptions } from './runtime.js';
import { serverStep } from './server.js';
import { trustDomainStep } from './trust-domain.js';

export type { OpenStackStepOptions } from './runtime.js';
export { OpenStackObserver } from './observer.js';
export { OpenStackRuntime } from './runtime.js';

export interface OpenStackSteps {
  steps: SyncStep[];
  observer: OpenStackObserver;
  runtime: OpenStackRuntime;
  /** Neutron networks and ports, and Nova servers, without Syncord tags. */
  source: AdoptSource;
}

/**
 * The adopt() of a step that adopts nothing from OpenStack yet: nothing to mark for an object
 * adopted from another backend; refused for one whose handle names an OpenStack object of its kind.
 */
const adoptsNothing =
  (kind: string) =>
  (obj: Parameters<typeof handleOf>[0]): Promise<string | undefined> =>
    handleOf(obj, kind)
      ? Promise.reject(new Error(`OpenStack ${kind} objects are not adoptable yet`))
      : Promise.resolve(undefined);

export function openstackStepSet(options: OpenStackStepOptions = {}): OpenStackSteps {
  const runtime = new OpenStackRuntime(options);
  const observer = new OpenStackObserver(runtime);
  const steps: SyncStep[] = [
    { ...trustDomainStep(runtime), adopt: adoptsNothing('Project') },
    { ...networkStep(runtime), adopt: adoptNetwork(runtime) },
    { ...portStep(runtime), adopt: adoptPort(runtime) },
  ];
  for (const model of SERVER_MODELS) {
    steps.push({
      ...serverStep(runtime, model),
      adopt: adoptServer(runtime),
      // The server steps share one observer: the first start() starts it.
      start: (ctx) => observer.start(ctx),
      stop: () => observer.stop(),
    });
  }
  return { steps, observer, runtime, source: openstackAdoptSource(runtime) };
}

export function openstackSteps(options: OpenStackStepOptions = {}): SyncStep[] {
  return openstackStepSet(options).steps;
}
