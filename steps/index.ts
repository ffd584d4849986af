// The steps and policies `syncord serve` runs: every service package's, registered here.
import type { ModelPolicy, SyncStep } from '../synchronizer/engine.js';
import { kubernetesSteps, type KubernetesStepOptions } from './kubernetes/index.js';
import { vsgPolicy } from './vsg/policy.js';

export interface StepSet {
  steps: SyncStep[];
  policies: ModelPolicy[];
}

export function defaultSteps(options: { kubernetes?: KubernetesStepOptions } = {}): StepSet {
  return { steps: [...kubernetesSteps(options.kubernetes)], policies: [vsgPolicy] };
}
