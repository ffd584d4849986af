// Original file: protos/onos/vtn/VtnService.proto

import type { NetworkType as _cordvtn_NetworkType, NetworkType__Output as _cordvtn_NetworkType__Output } from '../cordvtn/NetworkType.js';
import type { Provider as _cordvtn_Provider, Provider__Output as _cordvtn_Provider__Output } from '../cordvtn/Provider.js';
import type { Long } from '@grpc/proto-loader';

/**
 * VTN's ServiceNetwork.
 */
export interface ServiceNetwork {
  /**
   * Required.
   */
  'id'?: (string);
  'name'?: (string);
  /**
   * Required (not NETWORK_TYPE_UNSPECIFIED).
   */
  'type'?: (_cordvtn_NetworkType);
  /**
   * The VNI: 1..16777215, one network per segment id.
   */
  'segment_id'?: (number | string | Long);
  /**
   * "a.b.c.d/n" (or IPv6).
   */
  'subnet'?: (string);
  /**
   * The gateway, inside the subnet.
   */
  'service_ip'?: (string);
  /**
   * Networks this one's instances may reach; each must exist.
   */
  'providers'?: (_cordvtn_Provider)[];
  'annotations'?: ({[key: string]: string});
}

/**
 * VTN's ServiceNetwork.
 */
export interface ServiceNetwork__Output {
  /**
   * Required.
   */
  'id': (string);
  'name': (string);
  /**
   * Required (not NETWORK_TYPE_UNSPECIFIED).
   */
  'type': (_cordvtn_NetworkType__Output);
  /**
   * The VNI: 1..16777215, one network per segment id.
   */
  'segment_id': (string);
  /**
   * "a.b.c.d/n" (or IPv6).
   */
  'subnet': (string);
  /**
   * The gateway, inside the subnet.
   */
  'service_ip': (string);
  /**
   * Networks this one's instances may reach; each must exist.
   */
  'providers': (_cordvtn_Provider__Output)[];
  'annotations': ({[key: string]: string});
}
