// The Kubernetes service package (XOS's kubernetes-service): trust domains become namespaces,
// service instances become pods, and resource instances raw manifests.
import { ref } from '../core.js';
import type { ModelDef } from '../registry.js';

export const kubernetesModels: Omit<ModelDef, 'package'>[] = [
  {
    name: 'KubernetesService',
    extends: 'Service',
    description: 'Runs service instances as pods on a Kubernetes cluster.',
    fields: {},
  },
  {
    name: 'KubernetesServiceInstance',
    extends: 'ServiceInstance',
    description: 'A pod: one container from the image, in the namespace of the slice.',
    fields: {
      slice: ref('Slice', 'cascade', { required: true }),
      image: ref('Image', 'restrict', { required: true }),
      pod_ip: { type: 'ip', feedback: true },
      // Reported by the pod observer; VNF and vSG instances, in the same table, have them too.
      pod_phase: {
        type: 'string',
        maxLength: 32,
        feedback: true,
        help: 'Pending, Running, Succeeded, Failed, Unknown; empty when there is no pod',
      },
      node_name: {
        type: 'string',
        maxLength: 256,
        feedback: true,
        help: 'the node running the pod',
      },
      pod_message: {
        type: 'text',
        feedback: true,
        help: 'why the pod is not running yet, as Kubernetes says it',
      },
      need_event: { type: 'boolean', default: false },
      last_event_sent: { type: 'text', feedback: true },
    },
  },
  {
    name: 'KubernetesResourceInstance',
    extends: 'ServiceInstance',
    description: 'A raw Kubernetes manifest applied as given.',
    fields: {
      resource_definition: { type: 'text', required: true },
      kubectl_state: { type: 'string', choices: ['created', 'updated', 'deleted'], feedback: true },
    },
  },
  {
    name: 'KubernetesConfigMap',
    description: 'A ConfigMap in the namespace of a trust domain.',
    scope: 'trust_domain',
    fields: {
      trust_domain: ref('TrustDomain', 'cascade', { required: true }),
      data: { type: 'json', default: {} },
    },
  },
  {
    name: 'KubernetesSecret',
    description: 'A Secret in the namespace of a trust domain.',
    scope: 'trust_domain',
    fields: {
      trust_domain: ref('TrustDomain', 'cascade', { required: true }),
      data: { type: 'json', default: {} },
    },
  },
];
