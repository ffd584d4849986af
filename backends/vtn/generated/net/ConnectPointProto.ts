// Original file: protos/onos/net/ConnectPointProto.proto


export interface ConnectPointProto {
  /**
   * A device, e.g. "of:000000000000000a".
   */
  'device_id'?: (string);
  /**
   * The port on the element, as text (e.g. "3").
   */
  'port_number'?: (string);
  'host_id'?: (string);
  'ip_element_id'?: (string);
  'element_id'?: "device_id"|"host_id"|"ip_element_id";
}

export interface ConnectPointProto__Output {
  /**
   * A device, e.g. "of:000000000000000a".
   */
  'device_id'?: (string);
  /**
   * The port on the element, as text (e.g. "3").
   */
  'port_number': (string);
  'host_id'?: (string);
  'ip_element_id'?: (string);
  'element_id'?: "device_id"|"host_id"|"ip_element_id";
}
