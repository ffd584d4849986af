// The ONOS-VTN steps: Network → ServiceNetwork, Port → ServicePort and, while its instance runs,
// a VTN host; and the observer that keeps a replica of VTN from its Watch stream, repairs drift,
// refills a VTN that came back empty and sweeps strays.
import type { StepContext, SyncStep } from '../../synchronizer/engine.js';
import { networkStep } from './network.js';
import { VtnObserver } from './observer.js';
import { portStep } from './port.js';
import { VtnRuntime, type VtnStepOptions } from './runtime.js';

export type { VtnStepOptions } from './runtime.js';
export { VtnObserver } from './observer.js';
export { VtnRuntime } from './runtime.js';
export * from './names.js';

export interface VtnSteps {
  steps: SyncStep[];
  observer: VtnObserver;
  runtime: VtnRuntime;
}

export function vtnStepSet(options: VtnStepOptions): VtnSteps {
  const runtime = new VtnRuntime(options);
  const observer = new VtnObserver(runtime);
  const shared = {
    start: (ctx: StepContext) => observer.start(ctx),
    stop: () => observer.stop(),
  };
  return {
    steps: [
      { ...networkStep(runtime), ...shared },
      { ...portStep(runtime, observer), ...shared },
    ],
    observer,
    runtime,
  };
}

/** The VTN options the environment gives: SYNCORD_VTN_ADDRESS (required), SYNCORD_INSTANCE. */
export function vtnOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  log?: (line: string) => void,
): VtnStepOptions | undefined {
  const address = env.SYNCORD_VTN_ADDRESS?.trim();
  if (!address) return undefined;
  return {
    address,
    ...(env.SYNCORD_INSTANCE ? { instance: env.SYNCORD_INSTANCE } : {}),
    ...(log ? { log } : {}),
  };
}
