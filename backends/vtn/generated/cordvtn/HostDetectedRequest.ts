// Original file: protos/onos/vtn/VtnService.proto

import type { HostIdProto as _net_HostIdProto, HostIdProto__Output as _net_HostIdProto__Output } from '../net/HostIdProto.js';
import type { HostDescription as _net_host_HostDescription, HostDescription__Output as _net_host_HostDescription__Output } from '../net/host/HostDescription.js';
import type { ProviderIdProto as _net_ProviderIdProto, ProviderIdProto__Output as _net_ProviderIdProto__Output } from '../net/ProviderIdProto.js';

/**
 * hostDetected(HostId, HostDescription, replaceIps).
 */
export interface HostDetectedRequest {
  'host_id'?: (_net_HostIdProto | null);
  'description'?: (_net_host_HostDescription | null);
  /**
   * True: the host's addresses become the description's. False: they are added to it.
   */
  'replace_ips'?: (boolean);
  /**
   * Default: VTN's, scheme "host", id "org.opencord.vtn".
   */
  'provider_id'?: (_net_ProviderIdProto | null);
}

/**
 * hostDetected(HostId, HostDescription, replaceIps).
 */
export interface HostDetectedRequest__Output {
  'host_id': (_net_HostIdProto__Output | null);
  'description': (_net_host_HostDescription__Output | null);
  /**
   * True: the host's addresses become the description's. False: they are added to it.
   */
  'replace_ips': (boolean);
  /**
   * Default: VTN's, scheme "host", id "org.opencord.vtn".
   */
  'provider_id': (_net_ProviderIdProto__Output | null);
}
