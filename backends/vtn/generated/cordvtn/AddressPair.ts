// Original file: protos/onos/vtn/VtnService.proto


/**
 * A pair VTN allows besides the port's own address (VTN's AddressPair).
 */
export interface AddressPair {
  'ip_address'?: (string);
  'mac_address'?: (string);
}

/**
 * A pair VTN allows besides the port's own address (VTN's AddressPair).
 */
export interface AddressPair__Output {
  'ip_address': (string);
  'mac_address': (string);
}
