// Original file: protos/onos/net/HostProto.proto

import type { HostIdProto as _net_HostIdProto, HostIdProto__Output as _net_HostIdProto__Output } from '../net/HostIdProto.js';
import type { HostLocationProto as _net_HostLocationProto, HostLocationProto__Output as _net_HostLocationProto__Output } from '../net/HostLocationProto.js';
import type { ProviderIdProto as _net_ProviderIdProto, ProviderIdProto__Output as _net_ProviderIdProto__Output } from '../net/ProviderIdProto.js';

export interface HostProto {
  'host_id'?: (_net_HostIdProto | null);
  /**
   * As in HostIdProto: 4294967295 is untagged.
   */
  'vlan'?: (number);
  'location'?: (_net_HostLocationProto | null);
  /**
   * Plain addresses without a prefix length, e.g. "10.6.1.2".
   */
  'ip_addresses'?: (string)[];
  'configured'?: (boolean);
  'provider_id'?: (_net_ProviderIdProto | null);
  'annotations'?: ({[key: string]: string});
}

export interface HostProto__Output {
  'host_id': (_net_HostIdProto__Output | null);
  /**
   * As in HostIdProto: 4294967295 is untagged.
   */
  'vlan': (number);
  'location': (_net_HostLocationProto__Output | null);
  /**
   * Plain addresses without a prefix length, e.g. "10.6.1.2".
   */
  'ip_addresses': (string)[];
  'configured': (boolean);
  'provider_id': (_net_ProviderIdProto__Output | null);
  'annotations': ({[key: string]: string});
}
