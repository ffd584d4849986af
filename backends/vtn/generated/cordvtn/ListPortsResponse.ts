// Original file: protos/onos/vtn/VtnService.proto

import type { ServicePort as _cordvtn_ServicePort, ServicePort__Output as _cordvtn_ServicePort__Output } from '../cordvtn/ServicePort.js';

export interface ListPortsResponse {
  'ports'?: (_cordvtn_ServicePort)[];
}

export interface ListPortsResponse__Output {
  'ports': (_cordvtn_ServicePort__Output)[];
}
