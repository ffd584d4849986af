// Original file: protos/onos/vtn/VtnService.proto

import type { ServicePort as _cordvtn_ServicePort, ServicePort__Output as _cordvtn_ServicePort__Output } from '../cordvtn/ServicePort.js';

export interface UpdatePortRequest {
  'port'?: (_cordvtn_ServicePort | null);
  'allow_missing'?: (boolean);
}

export interface UpdatePortRequest__Output {
  'port': (_cordvtn_ServicePort__Output | null);
  'allow_missing': (boolean);
}
