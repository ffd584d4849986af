// Original file: protos/onos/vtn/VtnService.proto


export interface ListPortsRequest {
  /**
   * Only the ports of this network, when set.
   */
  'network_id'?: (string);
  'annotations'?: ({[key: string]: string});
}

export interface ListPortsRequest__Output {
  /**
   * Only the ports of this network, when set.
   */
  'network_id': (string);
  'annotations': ({[key: string]: string});
}
