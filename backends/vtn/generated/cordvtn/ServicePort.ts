// Original file: protos/onos/vtn/VtnService.proto

import type { AddressPair as _cordvtn_AddressPair, AddressPair__Output as _cordvtn_AddressPair__Output } from '../cordvtn/AddressPair.js';

/**
 * VTN's ServicePort.
 */
export interface ServicePort {
  /**
   * Required.
   */
  'id'?: (string);
  /**
   * Required: the ServiceNetwork it is on (FAILED_PRECONDITION when missing).
   */
  'network_id'?: (string);
  /**
   * The name of the interface the node's switch knows it by (VTN matches OVS port names).
   */
  'name'?: (string);
  'mac_address'?: (string);
  /**
   * Inside the network's subnet.
   */
  'ip_address'?: (string);
  /**
   * 1..4094 when tagged (a VSG's C-tag); absent when untagged.
   */
  'vlan_id'?: (number);
  'floating_address_pairs'?: (_cordvtn_AddressPair)[];
  'annotations'?: ({[key: string]: string});
  '_vlan_id'?: "vlan_id";
}

/**
 * VTN's ServicePort.
 */
export interface ServicePort__Output {
  /**
   * Required.
   */
  'id': (string);
  /**
   * Required: the ServiceNetwork it is on (FAILED_PRECONDITION when missing).
   */
  'network_id': (string);
  /**
   * The name of the interface the node's switch knows it by (VTN matches OVS port names).
   */
  'name': (string);
  'mac_address': (string);
  /**
   * Inside the network's subnet.
   */
  'ip_address': (string);
  /**
   * 1..4094 when tagged (a VSG's C-tag); absent when untagged.
   */
  'vlan_id'?: (number);
  'floating_address_pairs': (_cordvtn_AddressPair__Output)[];
  'annotations': ({[key: string]: string});
  '_vlan_id'?: "vlan_id";
}
