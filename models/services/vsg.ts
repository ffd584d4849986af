// The vSG service package (CORD's virtual subscriber gateway): a policy derives each instance's
// compute instance and ports (see steps/vsg when the synchronizer lands).
import { ref } from '../core.js';
import type { ModelDef } from '../registry.js';

export const vsgModels: Omit<ModelDef, 'package'>[] = [
  {
    name: 'VSGService',
    extends: 'Service',
    description: 'Virtual subscriber gateways, one per subscriber (s-tag, c-tag).',
    fields: {
      dns_servers: { type: 'string', maxLength: 1024, default: '8.8.8.8' },
      docker_image_name: { type: 'string', maxLength: 256 },
    },
  },
  {
    name: 'VSGServiceInstance',
    extends: 'ServiceInstance',
    description: "A subscriber's gateway: tagged by s-tag and c-tag.",
    uniqueTogether: [['s_tag', 'c_tag']],
    fields: {
      s_tag: { type: 'integer', min: 1, max: 4094, required: true },
      c_tag: { type: 'integer', min: 1, max: 4094, required: true },
      slice: ref('Slice', 'cascade'),
      image: ref('Image', 'restrict'),
      wan_container_ip: { type: 'ip', feedback: true },
      wan_container_mac: { type: 'mac', feedback: true },
      // Reported by the pod observer (the same fields as KubernetesServiceInstance's).
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
      pod_ip: { type: 'ip', feedback: true, help: "the pod's address on the cluster network" },
      pod_message: {
        type: 'text',
        feedback: true,
        help: 'why the pod is not running yet, as Kubernetes says it',
      },
    },
  },
];
