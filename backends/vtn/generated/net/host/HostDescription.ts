// Original file: protos/onos/net/host/HostDescriptionProto.proto

import type { HostLocationProto as _net_HostLocationProto, HostLocationProto__Output as _net_HostLocationProto__Output } from '../../net/HostLocationProto.js';

export interface HostDescription {
  /**
   * Upper-case, colon-separated: "FA:16:3E:00:00:01".
   */
  'hw_address'?: (string);
  /**
   * 4294967295 is untagged (VlanId.NONE).
   */
  'vlan'?: (number);
  'location'?: (_net_HostLocationProto | null);
  'ip_addresses'?: (string)[];
  'configured'?: (boolean);
  /**
   * VTN's hosts carry networkId, networkType, portId and createTime (all four non-empty).
   */
  'annotations'?: ({[key: string]: string});
}

export interface HostDescription__Output {
  /**
   * Upper-case, colon-separated: "FA:16:3E:00:00:01".
   */
  'hw_address': (string);
  /**
   * 4294967295 is untagged (VlanId.NONE).
   */
  'vlan': (number);
  'location': (_net_HostLocationProto__Output | null);
  'ip_addresses': (string)[];
  'configured': (boolean);
  /**
   * VTN's hosts carry networkId, networkType, portId and createTime (all four non-empty).
   */
  'annotations': ({[key: string]: string});
}
