// Original file: protos/onos/net/HostIdProto.proto


export interface HostIdProto {
  /**
   * Upper-case, colon-separated, as ONOS's MacAddress.toString() writes it: "FA:16:3E:00:00:01".
   */
  'mac'?: (string);
  /**
   * VlanId.toShort() as an unsigned 32-bit number: untagged (VlanId.NONE, short -1) is 4294967295.
   */
  'vlan_id'?: (number);
}

export interface HostIdProto__Output {
  /**
   * Upper-case, colon-separated, as ONOS's MacAddress.toString() writes it: "FA:16:3E:00:00:01".
   */
  'mac': (string);
  /**
   * VlanId.toShort() as an unsigned 32-bit number: untagged (VlanId.NONE, short -1) is 4294967295.
   */
  'vlan_id': (number);
}
