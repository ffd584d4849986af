// The Kubernetes backend: a client of the apiserver only (it knows nothing of Syncord's models).
export {
  FIELD_MANAGER,
  KubernetesCluster,
  type KubeObject,
  type RemoveOptions,
} from './cluster.js';
export { KubernetesError, translateError, type ApiStatus, type Subject } from './errors.js';
export * from './labels.js';
export { ObjectWatch, type WatchEventType, type WatchOptions } from './watch.js';
