// The OpenStack service package: VM VNFs as Nova servers on Neutron ports Syncord pre-creates.
import { ref } from '../core.js';
import { node_name, vm_message, vm_status } from './vnf.js';
import type { ModelDef } from '../registry.js';

export const openstackModels: Omit<ModelDef, 'package'>[] = [
  {
    name: 'OpenStackService',
    extends: 'Service',
    description: 'Runs service instances as Nova servers in an OpenStack region.',
    fields: {},
  },
  {
    name: 'OpenStackServiceInstance',
    extends: 'ServiceInstance',
    description: 'A Nova server booted from the image with the flavor, on its ports.',
    fields: {
      slice: ref('Slice', 'cascade', { required: true }),
      image: ref('Image', 'restrict', { required: true }),
      flavor: ref('Flavor', 'restrict', { required: true }),
      node: ref('Node', 'set-null', { help: 'pin to this compute node' }),
      user_data: { type: 'text' },
      server_id: { type: 'string', maxLength: 64, feedback: true, help: 'the Nova server' },
      // Reported by the OpenStack steps (the same fields as VNFServiceInstance's).
      vm_status,
      vm_message,
      node_name,
    },
  },
];
