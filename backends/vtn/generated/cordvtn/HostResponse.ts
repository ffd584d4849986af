// Original file: protos/onos/vtn/VtnService.proto

import type { HostProto as _net_HostProto, HostProto__Output as _net_HostProto__Output } from '../net/HostProto.js';

export interface HostResponse {
  'host'?: (_net_HostProto | null);
  /**
   * Whether the call changed the host (false: it was already so).
   */
  'changed'?: (boolean);
}

export interface HostResponse__Output {
  'host': (_net_HostProto__Output | null);
  /**
   * Whether the call changed the host (false: it was already so).
   */
  'changed': (boolean);
}
