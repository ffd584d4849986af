// Original file: protos/onos/vtn/VtnService.proto

import type { ServiceNetwork as _cordvtn_ServiceNetwork, ServiceNetwork__Output as _cordvtn_ServiceNetwork__Output } from '../cordvtn/ServiceNetwork.js';

export interface UpdateNetworkRequest {
  /**
   * Replaces the whole network (its id names it).
   */
  'network'?: (_cordvtn_ServiceNetwork | null);
  /**
   * Create it when absent: create-or-update in one idempotent call.
   */
  'allow_missing'?: (boolean);
}

export interface UpdateNetworkRequest__Output {
  /**
   * Replaces the whole network (its id names it).
   */
  'network': (_cordvtn_ServiceNetwork__Output | null);
  /**
   * Create it when absent: create-or-update in one idempotent call.
   */
  'allow_missing': (boolean);
}
