// Original file: protos/onos/vtn/VtnService.proto

import type { ServicePort as _cordvtn_ServicePort, ServicePort__Output as _cordvtn_ServicePort__Output } from '../cordvtn/ServicePort.js';

export interface CreatePortRequest {
  'port'?: (_cordvtn_ServicePort | null);
}

export interface CreatePortRequest__Output {
  'port': (_cordvtn_ServicePort__Output | null);
}
