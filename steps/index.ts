// The steps and policies `syncord serve` runs: every service package's, registered here.
import type { ModelPolicy, SyncStep } from '../synchronizer/engine.js';
import { kubernetesSteps, type KubernetesStepOptions } from './kubernetes/index.js';
import { ovnSteps, type OvnStepOptions } from './ovn/index.js';
import { openstackSteps, type OpenStackStepOptions } from './openstack/index.js';
import { vsgPolicy } from './vsg/policy.js';
import { vtnOptionsFromEnv, vtnStepSet, type VtnStepOptions } from './vtn/index.js';

export interface StepSet {
  steps: SyncStep[];
  policies: ModelPolicy[];
}

export interface DefaultStepOptions {
  kubernetes?: KubernetesStepOptions;
  /** The OVN steps' options; default from $OVN_NB_DB and $OVN_SB_DB (none: no OVN steps). */
  ovn?: OvnStepOptions;
  /** The VTN steps' options; default from $SYNCORD_VTN_ADDRESS (none: no VTN steps). */
  vtn?: VtnStepOptions;
  /** The OpenStack steps' options (they act only for Clusters of kind openstack); false: none. */
  openstack?: OpenStackStepOptions | false;
  log?: (line: string) => void;
}

/** The OVN options the environment gives: OVN_NB_DB (required), OVN_SB_DB, SYNCORD_INSTANCE. */
export function ovnOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  log?: (line: string) => void,
): OvnStepOptions | undefined {
  const nbEndpoint = env.OVN_NB_DB?.trim();
  if (!nbEndpoint) return undefined;
  const sbEndpoint = env.OVN_SB_DB?.trim();
  const gateways = env.SYNCORD_OVN_GATEWAY_CHASSIS?.split(/[\s,]+/).filter(Boolean);
  return {
    nbEndpoint,
    ...(sbEndpoint ? { sbEndpoint } : {}),
    ...(env.SYNCORD_INSTANCE ? { instance: env.SYNCORD_INSTANCE } : {}),
    ...(gateways?.length ? { gatewayChassis: gateways } : {}),
    ...(log ? { log } : {}),
  };
}

export function defaultSteps(options: DefaultStepOptions = {}): StepSet {
  const log = options.log ?? ((line: string) => process.stderr.write(`[syncord] ${line}\n`));
  const ovn = options.ovn ?? ovnOptionsFromEnv(process.env, log);
  if (!ovn) log('OVN steps skipped: OVN_NB_DB is not set');
  const vtn = options.vtn ?? vtnOptionsFromEnv(process.env, log);
  if (!vtn) log('VTN steps skipped: SYNCORD_VTN_ADDRESS is not set');
  // OVN first: a Port's logical switch port is made before the Kubernetes step waits for the
  // pod to report the interface (the first step that waits stops the rest).
  return {
    // VTN last: a host is detected once the pod runs.
    steps: [
      ...(ovn ? ovnSteps(ovn) : []),
      ...kubernetesSteps(options.kubernetes),
      ...(options.openstack === false ? [] : openstackSteps({ log, ...options.openstack })),
      ...(vtn ? vtnStepSet(vtn).steps : []),
    ],
    policies: [vsgPolicy],
  };
}
