// The registry Syncord runs with: the core models and the first service packages, each
// registered through the extension point a third-party package uses.
import { coreModels } from './core.js';
import { Registry } from './registry.js';
import { kubernetesModels } from './services/kubernetes.js';
import { openstackModels } from './services/openstack.js';
import { vnfModels } from './services/vnf.js';
import { vsgModels } from './services/vsg.js';

export function defaultRegistry(): Registry {
  const registry = new Registry();
  registry.registerPackage('core', coreModels);
  registry.registerPackage('kubernetes', kubernetesModels);
  registry.registerPackage('openstack', openstackModels);
  registry.registerPackage('vsg', vsgModels);
  registry.registerPackage('vnf', vnfModels);
  return registry;
}
