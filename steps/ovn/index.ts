// The OVN steps: Network → Logical_Switch (with DHCP_Options and, for routed networks, a port on
// the deployment's router), Port → Logical_Switch_Port, and the observer that watches the
// northbound (and southbound) database for drift, strays and port feedback. Both steps observe
// and release (policies.ts) for the management and deletion policies.
import type { SyncStep } from '../../synchronizer/engine.js';
import type { AdoptSource } from '../../synchronizer/adopt.js';
import { adoptNetwork, adoptPort, ovnAdoptSource } from './adopt.js';
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
  /** Switches and switch ports without Syncord ids, for `syncord adopt`. */
  source: AdoptSource;
}

export function ovnStepSet(options: OvnStepOptions): OvnSteps {
  const runtime = new OvnRuntime(options);
  const observer = new OvnObserver(runtime);
  // The two steps share one observer: the first start() starts it, the first stop() stops it.
  let started = false;
  const shared = {
    start: (ctx: Parameters<OvnObserver['start']>[0]) => {
      started = true;
      return observer.start(ctx);
    },
    stop: () => observer.stop(),
  };
  const source = ovnAdoptSource(runtime);
  return {
    steps: [
      {
        ...networkStep(runtime),
        ...networkPolicies(runtime),
        ...shared,
        adopt: adoptNetwork(runtime),
      },
      { ...portStep(runtime), ...portPolicies(runtime), ...shared, adopt: adoptPort(runtime) },
    ],
    observer,
    runtime,
    source: {
      ...source,
      // The steps' connection, when they run here, is theirs to close.
      close: () => {
        if (!started) runtime.conn.close();
        return Promise.resolve();
      },
    },
  };
}

export function ovnSteps(options: OvnStepOptions): SyncStep[] {
  return ovnStepSet(options).steps;
}
