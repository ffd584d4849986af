// Original file: protos/onos/vtn/VtnService.proto

import type { ServiceNetwork as _cordvtn_ServiceNetwork, ServiceNetwork__Output as _cordvtn_ServiceNetwork__Output } from '../cordvtn/ServiceNetwork.js';

export interface CreateNetworkRequest {
  'network'?: (_cordvtn_ServiceNetwork | null);
}

export interface CreateNetworkRequest__Output {
  'network': (_cordvtn_ServiceNetwork__Output | null);
}
