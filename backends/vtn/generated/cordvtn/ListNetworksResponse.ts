// Original file: protos/onos/vtn/VtnService.proto

import type { ServiceNetwork as _cordvtn_ServiceNetwork, ServiceNetwork__Output as _cordvtn_ServiceNetwork__Output } from '../cordvtn/ServiceNetwork.js';

export interface ListNetworksResponse {
  'networks'?: (_cordvtn_ServiceNetwork)[];
}

export interface ListNetworksResponse__Output {
  'networks': (_cordvtn_ServiceNetwork__Output)[];
}
