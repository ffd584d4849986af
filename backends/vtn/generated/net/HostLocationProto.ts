// Original file: protos/onos/net/HostLocationProto.proto

import type { ConnectPointProto as _net_ConnectPointProto, ConnectPointProto__Output as _net_ConnectPointProto__Output } from '../net/ConnectPointProto.js';
import type { Long } from '@grpc/proto-loader';

export interface HostLocationProto {
  'connect_point'?: (_net_ConnectPointProto | null);
  /**
   * When the host was seen there, in milliseconds since the epoch.
   */
  'time'?: (number | string | Long);
}

export interface HostLocationProto__Output {
  'connect_point': (_net_ConnectPointProto__Output | null);
  /**
   * When the host was seen there, in milliseconds since the epoch.
   */
  'time': (string);
}
