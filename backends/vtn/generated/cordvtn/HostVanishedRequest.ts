// Original file: protos/onos/vtn/VtnService.proto

import type { HostIdProto as _net_HostIdProto, HostIdProto__Output as _net_HostIdProto__Output } from '../net/HostIdProto.js';

/**
 * hostVanished(HostId).
 */
export interface HostVanishedRequest {
  'host_id'?: (_net_HostIdProto | null);
}

/**
 * hostVanished(HostId).
 */
export interface HostVanishedRequest__Output {
  'host_id': (_net_HostIdProto__Output | null);
}
