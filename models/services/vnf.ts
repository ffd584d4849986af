// The VNF service package: a network function run as a container (pod) or a VM (OpenStack or
// KubeVirt), attached to its networks through Ports.
import { ref } from '../core.js';
import type { FieldDef, ModelDef } from '../registry.js';

// Feedback fields shared with OpenStackServiceInstance (one column each in service_instance).
export const node_name: FieldDef = {
  type: 'string',
  maxLength: 256,
  feedback: true,
  help: 'the node running the pod, or the compute host running the VM',
};
export const vm_status: FieldDef = {
  type: 'string',
  maxLength: 64,
  feedback: true,
  help: "the VM's state: KubeVirt's printableStatus (Starting, Running, ...) or Nova's status (BUILD, ACTIVE, ERROR)",
};
export const vm_message: FieldDef = {
  type: 'text',
  feedback: true,
  help: "why the VM is not running, as KubeVirt or Nova says it (Nova's fault message)",
};

export const vnfModels: Omit<ModelDef, 'package'>[] = [
  {
    name: 'VNFService',
    extends: 'Service',
    description: 'A vendor network function offered as a service.',
    fields: {
      vendor: { type: 'string', maxLength: 128 },
    },
  },
  {
    name: 'VNFServiceInstance',
    extends: 'ServiceInstance',
    description: 'One running VNF: a pod or a VM on the networks of its Ports.',
    fields: {
      workload: { type: 'string', choices: ['container', 'vm'], default: 'container' },
      slice: ref('Slice', 'cascade', { required: true }),
      image: ref('Image', 'restrict', { required: true }),
      flavor: ref('Flavor', 'restrict'),
      config: { type: 'json', help: 'configuration handed to the VNF (ConfigMap or user-data)' },
      // Reported by the pod observer (the same fields as KubernetesServiceInstance's).
      pod_phase: {
        type: 'string',
        maxLength: 32,
        feedback: true,
        help: 'Pending, Running, Succeeded, Failed, Unknown; empty when there is no pod',
      },
      node_name,
      pod_ip: { type: 'ip', feedback: true, help: "the pod's address on the cluster network" },
      pod_message: {
        type: 'text',
        feedback: true,
        help: 'why the pod is not running yet, as Kubernetes says it',
      },
      // Reported for a VM (workload vm): KubeVirt's or Nova's word for its state.
      vm_status,
      vm_message,
      server_id: { type: 'string', maxLength: 64, feedback: true, help: 'the Nova server' },
    },
  },
];
