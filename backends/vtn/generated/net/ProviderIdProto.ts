// Original file: protos/onos/net/ProviderIdProto.proto


export interface ProviderIdProto {
  /**
   * VTN's hosts: scheme "host", id "org.opencord.vtn".
   */
  'scheme'?: (string);
  'id'?: (string);
  'ancillary'?: (boolean);
}

export interface ProviderIdProto__Output {
  /**
   * VTN's hosts: scheme "host", id "org.opencord.vtn".
   */
  'scheme': (string);
  'id': (string);
  'ancillary': (boolean);
}
