// The ONOS-VTN steps: Network → ServiceNetwork, Port → ServicePort and, while its instance runs,
// a VTN host; and the observer that keeps a replica of VTN from its Watch stream, repairs drift,
// refills a VTN that came back empty and sweeps strays. Both steps adopt what `syncord adopt`
// made them from (adopt.ts, which is also the step set's adoption source).
import { readFileSync } from 'node:fs';
import type { StepContext, SyncStep } from '../../synchronizer/engine.js';
import type { AdoptSource } from '../../synchronizer/adopt.js';
import { adoptNetwork, adoptPort, vtnAdoptSource } from './adopt.js';
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
  /** Service networks and service ports without Syncord annotations, for `syncord adopt`. */
  source: AdoptSource;
}

export function vtnStepSet(options: VtnStepOptions): VtnSteps {
  const runtime = new VtnRuntime(options);
  const observer = new VtnObserver(runtime);
  let started = false;
  const shared = {
    start: (ctx: StepContext) => {
      started = true;
      return observer.start(ctx);
    },
    stop: () => observer.stop(),
  };
  return {
    steps: [
      { ...networkStep(runtime, observer), ...shared, adopt: adoptNetwork(runtime) },
      { ...portStep(runtime, observer), ...shared, adopt: adoptPort(runtime) },
    ],
    observer,
    runtime,
    source: {
      ...vtnAdoptSource(runtime),
      // The steps' client, when they run here, is theirs to close.
      close: () => {
        if (!started) runtime.close();
        return Promise.resolve();
      },
    },
  };
}

/**
 * The VTN options the environment gives: SYNCORD_VTN_ADDRESS (required), SYNCORD_INSTANCE, and
 * for TLS SYNCORD_VTN_CA (the CA to trust; "system" for the system's roots), with
 * SYNCORD_VTN_CERT and SYNCORD_VTN_KEY for a client certificate (files, PEM).
 */
export function vtnOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  log?: (line: string) => void,
): VtnStepOptions | undefined {
  const address = env.SYNCORD_VTN_ADDRESS?.trim();
  if (!address) return undefined;
  const read = (name: string): Buffer | undefined => {
    const file = env[name]?.trim();
    if (!file || file === 'system') return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${name}=${file}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  };
  const tls = env.SYNCORD_VTN_CA?.trim()
    ? {
        ca: read('SYNCORD_VTN_CA'),
        cert: read('SYNCORD_VTN_CERT'),
        key: read('SYNCORD_VTN_KEY'),
      }
    : undefined;
  return {
    address,
    ...(tls ? { client: { tls } } : {}),
    ...(env.SYNCORD_INSTANCE ? { instance: env.SYNCORD_INSTANCE } : {}),
    ...(log ? { log } : {}),
  };
}
