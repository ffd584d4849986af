// The Kubernetes steps: TrustDomain → Namespace, Principal → ServiceAccount, VNF/vSG/Kubernetes
// service instances → Pods (with NADs and ConfigMaps, and the pod observer), VM VNFs → KubeVirt
// VirtualMachines, Port → interface. Namespaces and pods made without Syncord are adopted
// (adopt.ts): the source lists them, and the namespace and pod steps' adopt() marks them.
import type { AdoptSource } from '../../synchronizer/adopt.js';
import type { SyncStep } from '../../synchronizer/engine.js';
import { adoptNamespace, adoptPod, kubernetesAdoptSource } from './adopt.js';
import { namespaceStep } from './namespace.js';
import { PodObserver } from './observer.js';
import { podStep } from './pod.js';
import { portStep } from './port.js';
import { POD_MODELS, Runtime, type KubernetesStepOptions } from './runtime.js';
import { serviceAccountStep } from './service-account.js';
import { vmStep, workloadStep } from './vm.js';

export type { KubernetesStepOptions } from './runtime.js';
export { PodObserver } from './observer.js';

/** The steps, and the observer they share (tests wait on it and call its sweep). */
export interface KubernetesSteps {
  steps: SyncStep[];
  observer: PodObserver;
  runtime: Runtime;
  /** Namespaces and pods without Syncord labels, for `syncord adopt`. */
  source: AdoptSource;
}

export function kubernetesStepSet(options: KubernetesStepOptions = {}): KubernetesSteps {
  const runtime = new Runtime(options);
  const observer = new PodObserver(runtime);
  const steps: SyncStep[] = [
    { ...namespaceStep(runtime), adopt: adoptNamespace(runtime) },
    serviceAccountStep(runtime),
  ];
  for (const model of Object.keys(POD_MODELS)) {
    const pods: SyncStep = { ...podStep(runtime, model, observer), adopt: adoptPod(runtime) };
    // A VNF runs as a pod or, with workload vm, as a KubeVirt VirtualMachine: one step that
    // does whichever its workload asks and clears the other away, with one status.
    steps.push(
      model === 'VNFServiceInstance' && options.vms !== false
        ? workloadStep(pods, vmStep(runtime))
        : pods,
    );
  }
  if (options.ports !== false) steps.push(portStep(runtime, observer));
  // Cluster clients hold no connection open between requests: nothing to close.
  return { steps, observer, runtime, source: kubernetesAdoptSource(runtime) };
}

export function kubernetesSteps(options: KubernetesStepOptions = {}): SyncStep[] {
  return kubernetesStepSet(options).steps;
}
