// Original file: protos/onos/vtn/VtnService.proto

import type { HostProto as _net_HostProto, HostProto__Output as _net_HostProto__Output } from '../net/HostProto.js';

export interface ListHostsResponse {
  'hosts'?: (_net_HostProto)[];
}

export interface ListHostsResponse__Output {
  'hosts': (_net_HostProto__Output)[];
}
