// The OVN steps: Network → Logical_Switch (with DHCP_Options and, for routed networks, a port on
// the deployment's router), Port → Logical_Switch_Port, and the observer that watches the
// northbound (and southbound) database for drift, strays and port feedback. Both steps observe
// and release (policies.ts) for the management and deletion policies.
import type { SyncStep } from '../../synchronizer/engine.js';
import { networkStep } from './network.js';
import { OvnObserver } from './observer.js';
import { networkPolicies, portPolicies } from './policies.js';
import { portStep } from './port.js';
import { OvnRuntime, type OvnStepOptions } from './runtime.js';

export type { OvnStepOptions } from './runtime.js';
export { OvnObserver } from './observer.js';
export { OvnRuntime } from './runtime.js';
export * from './names.js';

/** The steps, and what they share (tests wait on the observer and read the runtime's names). */
export interface OvnSteps {
  steps: SyncStep[];
  observer: OvnObserver;
  runtime: OvnRuntime;
}

export function ovnStepSet(options: OvnStepOptions): OvnSteps {
  const runtime = new OvnRuntime(options);
  const observer = new OvnObserver(runtime);
  // The two steps share one observer: the first start() starts it, the first stop() stops it.
  const shared = {
    start: (ctx: Parameters<OvnObserver['start']>[0]) => observer.start(ctx),
    stop: () => observer.stop(),
  };
  return {
    steps: [
      { ...networkStep(runtime), ...networkPolicies(runtime), ...shared },
      { ...portStep(runtime), ...portPolicies(runtime), ...shared },
    ],
    observer,
    runtime,
  };
}

export function ovnSteps(options: OvnStepOptions): SyncStep[] {
  return ovnStepSet(options).steps;
}
