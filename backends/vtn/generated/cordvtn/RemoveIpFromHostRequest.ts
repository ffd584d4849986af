// Original file: protos/onos/vtn/VtnService.proto

import type { HostIdProto as _net_HostIdProto, HostIdProto__Output as _net_HostIdProto__Output } from '../net/HostIdProto.js';

/**
 * removeIpFromHost(HostId, IpAddress).
 */
export interface RemoveIpFromHostRequest {
  'host_id'?: (_net_HostIdProto | null);
  'ip_address'?: (string);
}

/**
 * removeIpFromHost(HostId, IpAddress).
 */
export interface RemoveIpFromHostRequest__Output {
  'host_id': (_net_HostIdProto__Output | null);
  'ip_address': (string);
}
